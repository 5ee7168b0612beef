"""Figures: the right axes and patches, boxes drawn on the right pixels, overlays in range, no pyplot leak."""

from __future__ import annotations

import io
from dataclasses import dataclass
from types import SimpleNamespace

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402

from camlib.data.sample import Sample, collate  # noqa: E402
from camlib.data.shapes import Shapes  # noqa: E402
from camlib.viz import box_patch, overlay, plot_box_acc_curves, plot_history, show_cams, show_samples  # noqa: E402


@pytest.fixture(autouse=True)
def no_leak():  # noqa: ANN201
    before = plt.get_fignums()
    yield
    assert plt.get_fignums() == before, "a viz function left a pyplot figure open"


def rects(ax) -> list[Rectangle]:  # noqa: ANN001
    return [p for p in ax.patches if isinstance(p, Rectangle)]


def renders(fig: Figure) -> bool:
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()[:4] == b"\x89PNG"


def test_box_patch_covers_exactly_the_boxed_pixel_centres() -> None:
    r = box_patch(torch.tensor([2.0, 3.0, 7.0, 5.0]))
    x0, y0 = r.get_xy()
    centres = np.arange(10)
    inside_x = centres[(centres > x0) & (centres < x0 + r.get_width())]
    inside_y = centres[(centres > y0) & (centres < y0 + r.get_height())]
    assert inside_x.tolist() == [2, 3, 4, 5, 6] and inside_y.tolist() == [
        3,
        4,
    ]  # exclusive right/bottom edges


def test_show_samples_from_a_dataset() -> None:
    ds = Shapes("val", 40, 64)
    b = ds.batch(range(12))
    fig = show_samples(ds, n=12, cols=4)
    assert isinstance(fig, Figure) and len(fig.axes) == 12 and fig._suptitle is not None
    for i, ax in enumerate(fig.axes):
        want = 1 + int(not torch.isnan(b.part_boxes[i, 0]))  # object box, plus the part box when annotated
        assert len(rects(ax)) == want
        assert ax.get_title() == ds.class_names[int(b.labels[i])]
        x1, y1, x2, y2 = b.boxes[i].tolist()
        assert rects(ax)[0].get_xy() == (x1 - 0.5, y1 - 0.5) and rects(ax)[0].get_width() == x2 - x1
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["object box", "part box"]
    assert renders(fig)


def test_show_samples_from_a_batch_or_samples() -> None:
    s = Sample(torch.rand(3, 8, 8), 1, torch.tensor([1.0, 1, 5, 6]), None, None)
    fig = show_samples(collate([s, s, s]), class_names=["a", "b"], cols=2)
    assert len(fig.axes) == 3 and [ax.get_title() for ax in fig.axes] == ["b"] * 3
    assert all(len(rects(ax)) == 1 for ax in fig.axes)
    fig = show_samples([s], n=5)  # a plain list of samples, no class names
    assert len(fig.axes) == 1 and fig.axes[0].get_title() == "class 1"


def test_overlay_shape_range_and_limits() -> None:
    img = torch.rand(3, 16, 20)
    m = torch.rand(16, 20)
    out = overlay(img, m, alpha=0.4)
    assert out.shape == (16, 20, 3) and out.dtype == np.float64 and out.min() >= 0 and out.max() <= 1
    np.testing.assert_allclose(overlay(img, m, alpha=0.0), img.permute(1, 2, 0).numpy(), atol=1e-7)
    np.testing.assert_allclose(overlay(img.permute(1, 2, 0).numpy(), m, alpha=0.4), out)  # (H, W, 3) too
    gray = overlay(img, m, alpha=1.0, cmap="gray")
    np.testing.assert_allclose(gray[..., 0], m.numpy(), atol=1 / 255)
    with pytest.raises(ValueError, match="upsample"):
        overlay(img, torch.rand(4, 5))
    with pytest.raises(ValueError, match="alpha"):
        overlay(img, m, alpha=1.5)


def test_show_cams_draws_ground_truth_and_predictions() -> None:
    images, maps = torch.rand(4, 3, 16, 16), torch.rand(4, 16, 16)
    gt = torch.tensor([[0.0, 0, 8, 8]] * 3 + [[float("nan")] * 4])
    preds = [
        torch.tensor([[1.0, 1, 4, 4], [5, 5, 9, 9]]),
        torch.zeros(0, 4),
        torch.tensor([2.0, 2, 6, 6]),
        None,
    ]
    fig = show_cams(
        images, maps, boxes=gt, pred_boxes=[p if p is not None else [] for p in preds], titles=list("abcd")
    )
    assert len(fig.axes) == 4 and [ax.get_title() for ax in fig.axes] == list("abcd")
    assert [len(rects(ax)) for ax in fig.axes] == [3, 1, 2, 0]
    assert len(fig.axes[0].images) == 1 and renders(fig)
    with pytest.raises(ValueError, match="one map per image"):
        show_cams(images, maps[:2])


@dataclass
class Record:
    epoch: int
    train_loss: float
    train_acc: float
    val_acc: float | None
    images_per_s: float
    seconds: float


@pytest.mark.parametrize("as_dict", [False, True])
def test_plot_history(as_dict: bool) -> None:
    recs = [Record(1, 1.2, 0.5, None, 200.0, 30.0), Record(2, 0.6, 0.8, 0.75, 210.0, 29.0)]
    history = [r.__dict__ for r in recs] if as_dict else recs
    fig = plot_history(history)
    loss_ax, acc_ax = fig.axes
    assert loss_ax.get_xlabel() == acc_ax.get_xlabel() == "epoch"
    assert "loss" in loss_ax.get_ylabel() and "accuracy" in acc_ax.get_ylabel()
    assert len(loss_ax.lines) == 1 and len(acc_ax.lines) == 2
    assert acc_ax.lines[1].get_xdata().tolist() == [2.0]  # the missing val_acc of epoch 1 is skipped
    assert "59 s" in fig._suptitle.get_text() and "205 images/s" in fig._suptitle.get_text()
    with pytest.raises(ValueError, match="empty"):
        plot_history([])


def test_plot_box_acc_curves() -> None:
    taus = np.linspace(0, 1, 11)
    res = SimpleNamespace(iou_thresholds=(0.3, 0.5, 0.7), thresholds=taus, box_acc=np.ones((3, 11)) * 50)
    res_v1 = SimpleNamespace(**vars(res), box_acc_largest=np.ones((3, 11)) * 40)
    fig = plot_box_acc_curves({"GAP": res_v1, "GMP": res})
    assert len(fig.axes) == 3 and all(len(ax.lines) == 3 for ax in fig.axes)
    assert fig.axes[1].get_title() == "IoU ≥ 0.5" and "BoxAcc" in fig.axes[0].get_ylabel()
    assert "min–max normalised" in fig.get_supxlabel()  # one shared x label, naming the normalisation
    solid, dashed = fig.axes[0].lines[:2]  # every component's box, then the largest component's, drawn on top
    assert dashed.get_zorder() > solid.get_zorder() and dashed.get_linestyle() != solid.get_linestyle()
    assert solid.get_linewidth() > dashed.get_linewidth()  # the dashed curve stays visible on the solid one
    texts = [t.get_text() for t in fig.legends[0].get_texts()]
    assert texts.count("GAP") == 1 and texts.count("GMP") == 1  # each method once, each line style once
    assert "every component (MaxBoxAccV2)" in texts and "largest component (paper)" in texts
    assert renders(fig)


def test_box_patch_is_outlined_so_it_shows_on_bright_maps() -> None:
    r = box_patch([0, 0, 4, 4], "white")
    (stroke,) = r.get_path_effects()
    assert stroke._gc["foreground"] == "black"  # a dark rim around the white line
    assert box_patch([0, 0, 4, 4], outline=False).get_path_effects() == []


def test_prediction_titles_mark_right_and_wrong() -> None:
    from camlib.viz import prediction_titles

    names = ["fish", "shark"]
    assert prediction_titles(torch.tensor([1, 0]), torch.tensor([1, 1]), names) == [
        "shark ✓",
        "fish ✗ (true: shark)",
    ]
    assert prediction_titles([0], [-1], names) == ["fish"]  # an unlabelled image gets no mark
    with pytest.raises(ValueError, match="one of each per image"):
        prediction_titles([0, 1], [0], names)


def test_show_cams_colour_bar_names_the_normalisation() -> None:
    fig = show_cams(torch.rand(2, 3, 8, 8), torch.rand(2, 8, 8), value_label="max-normalised (÷ max)")
    assert len(fig.axes) == 3 and fig.axes[-1].get_ylabel() == "max-normalised (÷ max)"
    assert len(show_cams(torch.rand(2, 3, 8, 8), torch.rand(2, 8, 8)).axes) == 2  # no bar unless asked
