"""nbval settings for the course's notebooks.

nbval waits only 5 s between two output messages of a cell once the cell has finished; a training cell with
progress bars can leave a longer backlog on a loaded 2-core machine, which failed a run with "Timeout of 5 seconds
exceeded waiting for output" although the cell had succeeded. Give every cell's output five minutes (a 60 s wait failed notebook 04's training cell at load ~4).
"""

from __future__ import annotations

import pytest

OUTPUT_TIMEOUT_S = 300


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if hasattr(item, "output_timeout"):
            item.output_timeout = OUTPUT_TIMEOUT_S
