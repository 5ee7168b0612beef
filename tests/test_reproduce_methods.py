"""reproduce --methods' table: every column for every (model, method), a row that says why where a method refuses a
model, and the files it writes."""

from __future__ import annotations

import json
import math
from pathlib import Path

import torch

from camlib.data.shapes import Shapes
from camlib.metrics import deletion_auc, pointing_game
from camlib.models import FCNet, GAPNet, NetConfig
from camlib.reproduce.methods import COLUMNS, judge, markdown, methods_table, write_methods

CFG = NetConfig(widths=(8, 16), downsample=2)


def nets() -> dict[str, torch.nn.Module]:
    torch.manual_seed(0)
    return {"gap": GAPNet(6, CFG).eval(), "fc": FCNet(6, CFG).eval()}


def test_a_row_has_every_column_and_agrees_with_the_metrics_called_directly() -> None:
    ds = Shapes("test", size=6, image_size=32, seed=0)
    model = nets()["gap"]
    row = judge(model, ds, "gradcam", limit=4, device=torch.device("cpu"), batch_size=3, steps=8)
    assert set(row) == set(COLUMNS)
    assert row["pxap"] is not None and 0 <= row["pointing"] <= 100 and 0 <= row["deletion_auc"] <= 1
    assert row["randomization"] is None or math.isnan(row["randomization"]) or -1 <= row["randomization"] <= 1
    from camlib.cam import grad_cam, upsample

    b = ds.batch(range(4))
    maps = upsample(grad_cam(model, b.images, b.labels).maps, (32, 32))[:, 0]
    assert math.isclose(row["pointing"], pointing_game(maps, b.masks), abs_tol=1e-9)
    expected = float(deletion_auc(model, b.images, maps, b.labels, step=128).mean())  # 32*32/8
    assert math.isclose(row["deletion_auc"], expected, rel_tol=1e-5)


def test_a_method_that_refuses_a_model_is_a_row_that_says_why(tmp_path: Path) -> None:
    ds = Shapes("test", size=4, image_size=32, seed=0)
    table = methods_table(nets(), ds, ["cam"], limit=2, device=torch.device("cpu"))
    assert "error" in table["rows"]["fc + cam"] and "error" not in table["rows"]["gap + cam"]
    md = write_methods(table, "fast", 1.0, tmp_path)
    assert md == markdown(table, "fast", 1.0) == (tmp_path / "methods_fast.md").read_text()
    assert "n/a" in md.splitlines()[-2] or "n/a" in md
    saved = json.loads((tmp_path / "methods_fast.json").read_text())
    assert saved["rows"].keys() == table["rows"].keys() and saved["test_images"] == 2


def test_the_table_says_where_its_timings_were_measured() -> None:
    ds = Shapes("test", size=4, image_size=32, seed=0)
    table = methods_table(nets(), ds, ["cam"], limit=2, device=torch.device("cpu"))
    assert "(not recorded)" in markdown(table, "fast", 1.0)  # a table made without run_methods says so
    table["machine"] = {"device": "on the CPU", "threads": 1, "cpus": 2, "load": [0.41, 0.93]}
    line = markdown(table, "fast", 1.0).splitlines()[2]
    assert "on the CPU, 1 torch thread on 2 CPUs, load average 0.4 at the start and 0.9 at the end" in line
