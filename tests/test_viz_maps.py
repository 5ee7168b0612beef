"""Tests of the notebook-05/07/09 figure helper."""

from __future__ import annotations

from typing import Any

import matplotlib
import numpy as np
import pytest
import torch
from matplotlib.patches import Rectangle

from camlib.viz.maps import show_map_grid

matplotlib.use("Agg")


def _rects(ax: matplotlib.axes.Axes) -> list[Rectangle]:
    return [p for p in ax.patches if isinstance(p, Rectangle)]


def test_overlay_grid_layout_titles_and_boxes() -> None:
    images = torch.rand(2, 3, 16, 16)
    maps = torch.rand(2, 3, 16, 16)
    boxes = torch.tensor([[0.0, 0, 10, 10], [2.0, 2, 8, 8]])
    parts = torch.tensor([[1.0, 1, 3, 3], [float("nan")] * 4])
    preds = [[None, torch.tensor([[0.0, 0, 4, 4], [5.0, 5, 9, 9]]), None], [None, None, torch.zeros(0, 4)]]
    fig = show_map_grid(images, maps, ["a", "b", "c"], ["r0", "r1"], boxes, parts, preds, title="T")
    axes = fig.axes
    assert len(axes) == 2 * 4  # image column + 3 maps, 2 rows
    assert [ax.get_title() for ax in axes[:4]] == ["image", "a", "b", "c"]
    assert axes[0].get_ylabel() == "r0" and axes[4].get_ylabel() == "r1"
    assert len(_rects(axes[0])) == 2  # object box + part box
    assert len(_rects(axes[2])) == 4  # object + part + two predicted boxes
    assert len(_rects(axes[4])) == 1  # NaN part box skipped
    assert fig.get_suptitle() == "T"
    # a 10-pixel box spans exactly 10 pixels from the left edge of pixel 0
    r = _rects(axes[0])[0]
    assert (r.get_x(), r.get_width()) == (-0.5, 10.0)


def test_notes_and_one_colour_bar_name_what_the_maps_are() -> None:
    images, maps = torch.rand(2, 3, 16, 16), torch.rand(2, 2, 16, 16)
    notes = [["fish ✓", None], ["shark ✗ (true: fish)", "shark ✗ (true: fish)"]]
    fig = show_map_grid(images, maps, ["GAP", "GMP"], notes=notes, value_label="max-normalised (÷ max)")
    *panels, bar = fig.axes
    assert len(panels) == 2 * 3 and bar.get_ylabel() == "max-normalised (÷ max)"
    assert [ax.get_xlabel().replace("\n", " ") for ax in panels] == [
        "",
        "fish ✓",
        "",
        "",
        *notes[1],
    ]  # wrapped
    mapped = show_map_grid(images, maps, ["GAP", "GMP"], mode="map", value_label="raw map")
    labels = [ax.get_ylabel() for ax in mapped.axes]
    assert labels.count("raw map") == 2  # the last column's colour bars, one per row


def test_map_mode_mixed_sizes_share_pixel_axes_with_colour_bars() -> None:
    images = torch.rand(1, 3, 64, 64)
    cells = [[torch.randn(16, 16), torch.randn(64, 64)]]
    fig = show_map_grid(images, cells, ["16x16", "64x64"], mode="map", show_image=False)
    panels = [ax for ax in fig.axes if ax.get_title()]
    assert len(panels) == 2 and len(fig.axes) == 4  # two maps, two colour bars
    for ax in panels:
        assert ax.get_xlim() == (-0.5, 63.5)
        assert ax.images[0].get_extent() == [-0.5, 63.5, 63.5, -0.5]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"maps": torch.rand(3, 2, 8, 8)}, "one row of maps per image"),
        ({"col_titles": ["only one"]}, "every row needs 1 maps"),
        ({"row_titles": ["x"]}, "row titles"),
        ({"mode": "heat"}, "mode must be"),
        ({"pred_boxes": [[None]]}, "pred_boxes must be"),
        ({"notes": [["a", "b"]]}, "notes must be"),
    ],
)
def test_bad_input_is_named(kwargs: dict[str, Any], match: str) -> None:
    args: dict[str, Any] = {
        "images": torch.rand(2, 3, 8, 8),
        "maps": torch.rand(2, 2, 8, 8),
        "col_titles": ["a", "b"],
    }
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        show_map_grid(**args)


def test_overlay_needs_maps_at_image_size() -> None:
    with pytest.raises(ValueError, match="upsample"):
        show_map_grid(torch.rand(1, 3, 16, 16), torch.rand(1, 1, 4, 4), ["small"])


def _box_acc_result() -> Any:
    from camlib.metrics import MaxBoxAccMeter

    maps = torch.zeros(2, 16, 16)
    maps[:, 4:10, 4:10] = 1.0
    meter = MaxBoxAccMeter(step=0.1)
    meter.update(maps, torch.tensor([[4.0, 4, 10, 10], [0.0, 0, 8, 8]]))
    return meter.compute()


def test_box_acc_taus_draws_one_line_per_tau_per_panel() -> None:
    from camlib.viz.maps import plot_box_acc_taus

    fig = plot_box_acc_taus({"toy": _box_acc_result()}, {"paper": 0.2, "code": 20 / 255})
    panels = [ax for ax in fig.axes if ax.get_xlabel()]
    assert len(panels) == 3  # delta 0.3, 0.5, 0.7
    for ax in panels:
        data = [np.asarray(ln.get_xdata(), dtype=float) for ln in ax.lines]
        xs = sorted(float(d[0]) for d in data if np.unique(d).size == 1)
        assert xs == pytest.approx([20 / 255, 0.2])
    texts = [t.get_text() for t in fig.legends[0].get_texts()]
    assert texts[-2:] == ["τ: paper", "τ: code"]
    assert panels[0].get_legend() is None  # the legend sits outside the panels
    assert any(t.startswith("toy (MaxBoxAccV2 ") for t in texts)
    styles = {
        (str(ln.get_color()), str(ln.get_linestyle()))
        for ln in panels[0].lines
        if np.unique(ln.get_xdata()).size == 1
    }
    assert len(styles) == 2  # every marked tau can be told from the others


def test_box_acc_taus_refuses_more_taus_than_it_can_tell_apart() -> None:
    from camlib.viz.maps import plot_box_acc_taus

    with pytest.raises(ValueError, match="at most 5"):
        plot_box_acc_taus({"toy": _box_acc_result()}, {f"t{k}": k / 10 for k in range(6)})


def test_box_acc_taus_rejects_tau_outside_unit_interval() -> None:
    from camlib.viz.maps import plot_box_acc_taus

    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        plot_box_acc_taus({"toy": _box_acc_result()}, {"percent by mistake": 20})
