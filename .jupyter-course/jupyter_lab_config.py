"""The course's JupyterLab: what ``make lab`` starts (``jupyter lab --config=.jupyter-course/jupyter_lab_config.py``).

Everything here applies to this server only: the learner's own Jupyter configuration and JupyterLab settings are
neither read instead nor written. JupyterLab's settings *defaults* for the course are in ``lab-settings/overrides.json``
(no news or update pop-up); a setting the learner changes in JupyterLab still wins and is saved where JupyterLab
always saves it.

- bound to 127.0.0.1 only, with a random token (Jupyter's default), no browser started (the URL is printed);
- serves ``notebooks/`` and opens ``00_start_here.ipynb``: the printed URL points at it;
- logs warnings and errors only, so that the URL is not lost among start-up messages
  (``make lab LAB_ARGS=--log-level=INFO`` shows everything);
- a notebook is sent to JupyterLab with the Python version of this server's kernel in ``language_info``: JupyterLab
  writes the running kernel's ``language_info`` into a notebook as soon as it opens, so a notebook executed with
  another Python (the committed ones record the version they ran with) would otherwise show as modified before
  anything ran. The file itself is not touched; saving it writes what JupyterLab writes anyway.
"""

import platform
from pathlib import Path

from jupyter_server.services.contents.largefilemanager import AsyncLargeFileManager

c = get_config()  # noqa: F821 (traitlets defines get_config in a config file)
HERE = Path(__file__).resolve().parent

c.ServerApp.ip = "127.0.0.1"
c.ServerApp.open_browser = False
c.ServerApp.root_dir = str(HERE.parent / "notebooks")
c.ServerApp.log_level = "WARN"
c.LabApp.log_level = "WARN"
c.LabApp.default_url = "/lab/tree/00_start_here.ipynb"
c.LabApp.app_settings_dir = str(HERE / "lab-settings")


class CourseContentsManager(AsyncLargeFileManager):  # type: ignore[misc]
    """Notebooks as JupyterLab would rewrite them on opening: ``language_info.version`` of this Python."""

    async def get(self, path, content=True, type=None, format=None, **kwargs):  # noqa: A002 (jupyter's names)
        model = await super().get(path, content=content, type=type, format=format, **kwargs)
        if model.get("type") == "notebook" and isinstance(model.get("content"), dict):
            info = model["content"].get("metadata", {}).get("language_info")
            if isinstance(info, dict) and info.get("name") == "python" and "version" in info:
                info["version"] = platform.python_version()  # the kernel runs this server's Python
        return model


c.ServerApp.contents_manager_class = CourseContentsManager
