"""Figures of notebooks 01-03: the right bars, histogram counts, rows, boxes and maps; no pyplot leak."""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402

from camlib.data.shapes import Shapes  # noqa: E402
from camlib.viz.panels import plot_dataset_stats, show_maps, show_rows  # noqa: E402


@pytest.fixture(autouse=True)
def no_leak():  # noqa: ANN201
    before = plt.get_fignums()
    yield
    assert plt.get_fignums() == before, "a figure function left a pyplot figure open"


def renders(fig: Figure) -> bool:
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()[:4] == b"\x89PNG"


def boxes_of(ax) -> list[Rectangle]:  # noqa: ANN001
    return [p for p in ax.patches if isinstance(p, Rectangle) and not p.get_fill()]


def test_plot_dataset_stats_bars_and_histograms() -> None:
    boxes = torch.tensor([[0.0, 0, 10, 20], [5, 5, 25, 15], [float("nan")] * 4, [0, 0, 10, 4]])
    fig = plot_dataset_stats([3, 1, 2], boxes, ["a", "b", "c"], image_size=32, title="stats")
    ax_cls, ax_box = fig.axes[:2]
    assert [p.get_height() for p in ax_cls.patches] == [3, 1, 2]
    assert [t.get_text() for t in ax_cls.get_xticklabels()] == ["a", "b", "c"]
    assert ax_cls.get_xlabel() and ax_cls.get_ylabel() and ax_box.get_xlabel() and ax_box.get_ylabel()
    heights = [p.get_height() for p in ax_box.patches]
    assert sum(heights) == 6  # 3 finite boxes, a width and a height each; the NaN row is skipped
    labels = [t.get_text() for t in ax_box.get_legend().get_texts()]
    assert labels == ["width (mean 13.3 px)", "height (mean 11.3 px)"]
    assert fig._suptitle.get_text() == "stats" and renders(fig)


def test_plot_dataset_stats_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="class counts"):
        plot_dataset_stats([1, 2], torch.zeros(1, 4), ["a"], 32)
    with pytest.raises(ValueError, match=r"\(N, 4\)"):
        plot_dataset_stats([1], torch.zeros(4), ["a"], 32)


def test_show_rows_draws_each_row_with_its_label_and_boxes() -> None:
    ds = Shapes("val", 16, 64)
    rows = {"first": ds.batch([0, 1, 2]), "second": ds.batch([3, 4])}
    fig = show_rows(rows, ds.class_names, title="rows")
    image_axes = [ax for ax in fig.axes if ax.images]
    assert len(image_axes) == 5
    assert image_axes[0].get_ylabel() == "first" and image_axes[3].get_ylabel() == "second"
    for ax, i in zip(image_axes, [0, 1, 2, 3, 4], strict=True):
        s = ds[i]
        assert ax.get_title() == ds.class_names[s.label]
        assert len(boxes_of(ax)) == 1 + (s.part_box is not None)
        x1, y1, x2, y2 = s.box.tolist()
        r = boxes_of(ax)[0]
        assert r.get_xy() == (x1 - 0.5, y1 - 0.5) and r.get_width() == x2 - x1 and r.get_height() == y2 - y1
    assert renders(fig)
    with pytest.raises(ValueError, match="non-empty"):
        show_rows({})


def test_show_maps_values_labels_and_annotations() -> None:
    maps = torch.arange(2 * 3 * 4, dtype=torch.float32).reshape(2, 3, 4)
    fig = show_maps(maps, titles=["a", "b"], title="maps", annotate=True)
    axes = [ax for ax in fig.axes if ax.images]
    assert len(axes) == 2
    np.testing.assert_array_equal(axes[1].images[0].get_array(), maps[1].numpy())
    assert [ax.get_title() for ax in axes] == ["a", "b"]
    assert axes[0].get_xlabel() == "x (map cell)" and axes[0].get_ylabel() == "y (map cell)"
    assert len(axes[0].texts) == 12 and axes[0].texts[5].get_text() == "5"
    assert fig._suptitle.get_text() == "maps" and renders(fig)
    big = show_maps(torch.zeros(1, 9, 9), annotate=True)
    assert not [ax for ax in big.axes if ax.images][0].texts  # too many cells to write


def test_show_maps_with_the_input_image_first() -> None:
    img = torch.rand(3, 32, 32)
    fig = show_maps(torch.rand(3, 4, 4), titles=["a", "b", "c"], image=img, image_title="the input", cols=2)
    axes = [ax for ax in fig.axes if ax.images]
    assert len(axes) == 4 and [ax.get_title() for ax in axes] == ["the input", "a", "b", "c"]
    np.testing.assert_allclose(axes[0].images[0].get_array(), img.permute(1, 2, 0).double().numpy())
    assert axes[0].get_xlabel() == "x (pixel)" and renders(fig)


def test_show_maps_symmetric_scale_centres_zero() -> None:
    maps = torch.tensor([[[-1.0, 3.0]], [[0.0, 0.0]]])
    fig = show_maps(maps, symmetric=True, cmap="coolwarm")
    axes = [ax for ax in fig.axes if ax.images]
    assert axes[0].images[0].get_clim() == (-3.0, 3.0)
    assert axes[1].images[0].get_clim() == (-1.0, 1.0)  # an all-zero map still gets a valid scale
    assert show_maps(maps).axes[0].images[0].get_clim() == (-1.0, 3.0)


def test_show_maps_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match=r"\(N, h, w\)"):
        show_maps(torch.zeros(3, 3))
    with pytest.raises(ValueError, match="titles"):
        show_maps(torch.zeros(2, 3, 3), titles=["one"])
