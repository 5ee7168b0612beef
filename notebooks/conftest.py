"""nbval settings for the course's notebooks, and the time each notebook took.

nbval waits only 5 s between two output messages of a cell once the cell has finished; a training cell with
progress bars can leave a longer backlog on a loaded 2-core machine, which failed a run with "Timeout of 5 seconds
exceeded waiting for output" although the cell had succeeded. Give every cell's output five minutes (a 60 s wait
failed notebook 04's training cell at load ~4).

At the end of the run, a table gives each notebook's time under nbval (the sum of its cells' setup, call and
teardown, the kernel's start included), so `make test` reports its nbval part per notebook. Under pytest-xdist
the reports reach the controller, which sums them the same way.
"""

from __future__ import annotations

from collections import defaultdict

import pytest

OUTPUT_TIMEOUT_S = 300
_SECONDS: defaultdict[str, float] = defaultdict(float)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if hasattr(item, "output_timeout"):
            item.output_timeout = OUTPUT_TIMEOUT_S


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    notebook = report.nodeid.split("::")[0]
    if notebook.endswith(".ipynb"):
        _SECONDS[notebook.rsplit("/", 1)[-1]] += report.duration


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not _SECONDS:
        return
    terminalreporter.section("nbval time per notebook (s)")
    for name in sorted(_SECONDS):
        terminalreporter.write_line(f"{_SECONDS[name]:7.1f}  {name}")
    terminalreporter.write_line(
        f"{sum(_SECONDS.values()):7.1f}  all {len(_SECONDS)} notebooks (summed; wall time is less under -n 2)"
    )
