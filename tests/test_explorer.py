"""The CAM explorer driven programmatically: widget values in, state / status / PNG out."""

from __future__ import annotations

import re

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from camlib.boxes import iou, largest_component_box  # noqa: E402
from camlib.cam import (  # noqa: E402
    class_activation_maps,
    grad_cam,
    gradient_saliency,  # noqa: E402
    normalize,
    upsample,
)
from camlib.data import Sample  # noqa: E402
from camlib.data.shapes import Shapes  # noqa: E402
from camlib.explorer import CAMExplorer  # noqa: E402
from camlib.models import FCNet, GAPNet, NetConfig  # noqa: E402

TINY = NetConfig(widths=(8, 16), downsample=2)
# labels chosen so that a model that always predicts class 2 is right on 0-3 and wrong on 4-9
LABELS = [2, 2, 2, 2, 0, 1, 3, 4, 5, 0]


@pytest.fixture(scope="module")
def samples() -> list[Sample]:
    """Ten 32-px shapes with the labels above (images, boxes and part boxes from the real dataset)."""
    b = Shapes("val", size=len(LABELS), image_size=32).batch(range(len(LABELS)))
    parts = b.part_boxes
    return [
        Sample(b.images[i], LABELS[i], b.boxes[i], None, None if parts is None else parts[i])  # type: ignore[index]
        for i in range(len(LABELS))
    ]


def _net(pool: str = "avg", favourite: int | None = 2, seed: int = 0) -> GAPNet:
    torch.manual_seed(seed)
    net = GAPNet(6, TINY, pool=pool).eval()  # type: ignore[arg-type]
    if favourite is not None:
        with torch.no_grad():
            net.classifier.bias[favourite] = 50.0  # always predicts `favourite`, maps are unchanged
    return net


@pytest.fixture(scope="module")
def shared_app(samples: list[Sample]) -> CAMExplorer:
    return CAMExplorer({"GAP": _net(), "GMP": _net("max", seed=1)}, samples, class_names=list("abcdef"))


@pytest.fixture
def app(shared_app: CAMExplorer) -> CAMExplorer:
    """The shared app, reset to its initial controls (building one per test would cost more than the test)."""
    shared_app.show(
        filter="all",
        index=0,
        tau=0.2,
        alpha=0.5,
        cmap="jet",
        upsample="bilinear",
        normalised=True,
        rule="max",
    )
    return shared_app


def _iou_texts(app: CAMExplorer) -> list[str]:
    return re.findall(r"IoU = ([0-9.]+)", app.status.value)


def _reference_box(model: torch.nn.Module, image: torch.Tensor, cls: int, tau: float, mode: str, rule: str):
    maps = class_activation_maps(model, image[None], [cls]).maps  # (1, 1, h, w)
    up = upsample(maps, tuple(image.shape[-2:]), mode)[0, 0]  # (H, W)
    return largest_component_box(normalize(up, rule), tau)


def test_initial_state(app: CAMExplorer, samples: list[Sample]) -> None:
    s = app.state
    assert (s.index, s.label, s.cls, s.tau, s.filter) == (0, 2, 2, 0.2, "all")
    assert [p.name for p in s.panels] == ["GAP", "GMP"] and [p.method for p in s.panels] == ["cam", "cam"]
    assert s.gt_box == tuple(samples[0].box.tolist())
    assert app.image_widget.value[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(_iou_texts(app)) == 2 and "predicts <b>c</b>" in app.status.value
    assert s.panels[0].prob == pytest.approx(float(app.probs["GAP"][0].max()))


@pytest.mark.parametrize(
    ("index", "cls", "tau", "mode", "norm", "rule"),
    [
        (0, 2, 0.2, "bilinear", True, "max"),
        (5, 4, 0.5, "nearest", True, "minmax"),
        (7, 0, 0.35, "bicubic", True, "minmax"),  # raw maps take the paper's rule: one normalisation control
        (3, 1, 0.3, "bilinear", False, "max"),
    ],
)
def test_boxes_and_iou_match_camlib(
    app: CAMExplorer,
    samples: list[Sample],
    index: int,
    cls: int,
    tau: float,
    mode: str,
    norm: bool,
    rule: str,
) -> None:
    s = app.show(index=index, cls=cls, tau=tau, upsample=mode, normalised=norm, rule=rule)
    got = (s.index, s.cls, s.tau, s.upsample, s.normalised, s.rule, s.message)
    assert got == (index, cls, tau, mode, norm, rule, "")
    gt = samples[index].box
    for panel, model in zip(s.panels, app.models.values(), strict=True):
        ref = _reference_box(model, samples[index].image, cls, tau, mode, rule)  # the display changes no box
        assert panel.box == tuple(ref.tolist())
        assert panel.iou == pytest.approx(float(iou(ref, gt)))
    assert _iou_texts(app) == [f"{p.iou:.3f}" for p in s.panels]
    for name, m in app.current_maps().items():  # the maps the app exposes give the same boxes
        assert tuple(largest_component_box(m, tau).tolist()) == s.panels[list(app.models).index(name)].box


def test_widgets_drive_the_state(app: CAMExplorer) -> None:
    png0, box0 = app.image_widget.value, app.state.pred_box
    app.tau_slider.value = 0.9
    assert app.state.tau == 0.9 and "τ = 0.90" in app.status.value
    assert app.state.pred_box != box0  # a higher threshold keeps a smaller region
    app.index_slider.value = 6
    assert app.state.index == 6 and app.state.cls == 2  # a new image shows its predicted class
    assert app.image_widget.value != png0
    png6 = app.image_widget.value
    app.class_dropdown.value = 3
    assert app.state.cls == 3 and app.image_widget.value != png6
    for widget, value in [
        (app.alpha_slider, 0.9),
        (app.cmap_dropdown, "gray"),
        (app.upsample_buttons, "nearest"),
    ]:
        before = app.image_widget.value
        widget.value = value
        assert app.image_widget.value != before
    app.norm_buttons.value = "raw"
    assert app.state.normalised is False and "raw map" in app.status.value
    app.norm_buttons.value = "minmax"
    assert app.state.rule == "minmax" and "m ≥ min + 0.90 (max − min)" in app.status.value
    assert (app.state.alpha, app.state.cmap, app.state.upsample) == (0.9, "gray", "nearest")


def test_class_menu_lists_top_k_and_marks_the_true_class(samples: list[Sample]) -> None:
    app = CAMExplorer(_net(favourite=None), samples, top_k=3)
    app.show(index=4)
    labels, values = zip(*app.class_dropdown.options, strict=True)
    p = app.probs[next(iter(app.models))][4]
    top = p.topk(3).indices.tolist()
    assert list(values[:3]) == top and 0 in values  # the true class (0) is always listed
    assert [lab.endswith("← true class") for lab in labels] == [v == 0 for v in values]
    assert labels[0].startswith(f"{top[0]} · {float(p[top[0]]):.1%}")


def test_filters_restrict_the_slider(app: CAMExplorer) -> None:
    assert list(app.index_slider.options) == list(range(10))
    app.filter_dropdown.value = "correct"
    assert list(app.index_slider.options) == [0, 1, 2, 3] and app.state.filter == "correct"
    app.filter_dropdown.value = "wrong"
    assert list(app.index_slider.options) == [4, 5, 6, 7, 8, 9] and app.state.index == 4
    app.filter_dropdown.value = "class:0"
    assert list(app.index_slider.options) == [4, 9]
    assert app.show(index=9).index == 9 and app.state.filter == "class:0"
    s = app.show(index=1)  # not in the filter: back to all images, with a note
    assert (s.index, s.filter) == (1, "all") and "switched the filter" in s.message


def test_empty_filter_keeps_the_previous_one(samples: list[Sample]) -> None:
    app = CAMExplorer(_net(), samples[:4])  # labels all 2 = predictions: nothing is misclassified
    app.filter_dropdown.value = "wrong"
    assert app.filter_dropdown.value == "all" and list(app.index_slider.options) == [0, 1, 2, 3]
    assert "no image matches" in app.state.message and "⚠" in app.status.value


def test_random_button_is_seeded_and_respects_the_filter(samples: list[Sample]) -> None:
    seqs = []
    for _ in range(2):
        app = CAMExplorer(_net(), samples, seed=3)
        app.filter_dropdown.value = "wrong"
        seen = []
        for _ in range(6):
            app.random_button.click()
            seen.append(app.state.index)
        seqs.append(seen)
        assert set(seen) <= {4, 5, 6, 7, 8, 9}
        assert all(a != b for a, b in zip(seen, seen[1:], strict=False))  # always a different image
    assert seqs[0] == seqs[1]


@pytest.mark.parametrize(
    ("kwargs", "expect", "message"),
    [
        ({"index": 10**6}, {"index": 9}, "image 1000000 is not in the explorer (images 0..9): showing 9"),
        ({"index": -5}, {"index": 0}, "showing 0"),
        ({"index": 2.5}, {"index": 0}, "image index must be an integer"),
        (
            {"cls": 99},
            {"cls": 2},
            "class 99 does not exist: the models have 6 classes (0 = a … 5 = f); kept c",
        ),
        ({"cls": -1}, {"cls": 2}, "class -1 does not exist"),
        ({"tau": 1.7}, {"tau": 1.0}, "tau = 1.7 is outside [0, 1]: using 1"),
        ({"tau": -0.3}, {"tau": 0.0}, "using 0"),
        ({"tau": float("nan")}, {"tau": 0.2}, "got NaN"),
        ({"tau": "high"}, {"tau": 0.2}, "tau must be a number"),
        ({"alpha": 3}, {"alpha": 1.0}, "alpha = 3 is outside"),
        ({"cmap": "rainbowish"}, {"cmap": "jet"}, "unknown colormap 'rainbowish'"),
        ({"upsample": "area"}, {"upsample": "bilinear"}, "unknown mode 'area'"),
        ({"filter": "sometimes"}, {"filter": "all"}, "unknown filter 'sometimes'"),
        ({"rule": "median"}, {"rule": "max"}, "unknown box rule 'median'"),
    ],
)
def test_out_of_range_values_give_a_message_not_a_traceback(
    app: CAMExplorer, kwargs: dict, expect: dict, message: str
) -> None:
    s = app.show(**kwargs)
    assert {k: getattr(s, k) for k in expect} == expect
    assert message in s.message and message.split(":")[0] in app.status.value
    assert app.show(tau=0.3).message == ""  # the next valid update clears it


def test_widget_bounds(app: CAMExplorer) -> None:
    assert (app.tau_slider.min, app.tau_slider.max) == (0.0, 1.0)
    app.tau_slider.value = 5.0  # traitlets clamps to the slider's bounds
    assert app.state.tau == 1.0


def test_errors_while_drawing_go_to_the_status_line(
    app: CAMExplorer, monkeypatch: pytest.MonkeyPatch
) -> None:
    def boom(*_a: object, **_k: object) -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(app, "scene", boom)
    app.tau_slider.value = 0.55  # no exception escapes the callback
    assert "could not draw: RuntimeError: disk on fire" in app.status.value


def test_raw_maps(app: CAMExplorer, samples: list[Sample]) -> None:
    s = app.show(index=3, cls=1, normalised=False, tau=0.4)
    raw = class_activation_maps(app.models["GAP"], samples[3].image[None], [1]).maps  # (1, 1, h, w)
    up = upsample(raw, 32, "bilinear")[0, 0]
    assert torch.allclose(
        app.current_maps()["GAP"], normalize(up, "max"), atol=1e-5
    )  # what the box thresholds
    assert s.pred_box == tuple(largest_component_box(up, 0.4).tolist())  # the paper's rule on the raw map


def _signed_case(app: CAMExplorer) -> tuple[int, int, torch.Tensor]:
    """An explored image and class whose upsampled GAP map has a negative minimum (min-max moves the box)."""
    for i in app.indices:
        for c in range(app.num_classes):
            up = upsample(
                class_activation_maps(app.models["GAP"], app._data.images[i : i + 1], [c]).maps, 32
            )[0, 0]
            if up.min() < -0.2 * up.max() < 0:
                return i, c, up
    raise AssertionError("no map with a clearly negative minimum among the samples")


def test_the_box_rule_control_paper_vs_min_max(app: CAMExplorer, samples: list[Sample]) -> None:
    """The paper's rule (default) keeps m >= tau * max of the raw map; min-max tau keeps m >= min + tau (max - min),
    and the status line and snapshot say which: never "tau x max" for a min-max threshold."""
    assert app.norm_buttons.value == "max"
    assert [v for _, v in app.norm_buttons.options] == ["raw", "max", "minmax"]
    i, c, up = _signed_case(app)
    paper = app.show(index=i, cls=c, tau=0.2, rule="max")
    assert paper.panels[0].box == tuple(largest_component_box(up, 0.2).tolist())
    assert "0.20 × max (the paper's rule)" in app.status.value and "min +" not in app.status.value
    assert "max-normalised (÷ max)" in app.status.value
    minmax = app.show(rule="minmax")
    assert minmax.rule == "minmax"
    assert minmax.panels[0].box == tuple(largest_component_box(normalize(up, "minmax"), 0.2).tolist())
    pb, mb = paper.panels[0].box, minmax.panels[0].box
    assert (pb[2] - pb[0]) * (pb[3] - pb[1]) <= (mb[2] - mb[0]) * (
        mb[3] - mb[1]
    )  # a lower threshold, in raw units
    assert "m ≥ min + 0.20 (max − min)" in app.status.value and "× max" not in app.status.value
    assert "min–max normalised" in app.status.value
    fig = app.snapshot()
    assert "min + τ (max − min)" in fig.get_suptitle() and "× max" not in fig.get_suptitle()
    assert app.show(rule="median").message.startswith("unknown box rule 'median'")
    with pytest.raises(ValueError, match="rule must be one of"):
        CAMExplorer(_net(), samples, rule="median")


def test_gradcam_and_saliency_for_models_without_gap(samples: list[Sample]) -> None:
    torch.manual_seed(0)
    fc = FCNet(6, TINY, hidden=(16,), grid=2).eval()
    app = CAMExplorer({"GAP": _net(), "FC": fc, "FC-sal": fc}, samples, methods={"FC-sal": "saliency"})
    assert [m for m, _ in app.methods.values()] == ["cam", "gradcam", "saliency"]
    x = samples[5].image[None]
    for cls in (2, 4):  # 2: predicted, its maps were computed in batches at build time; 4: on demand
        s = app.show(index=5, cls=cls, tau=0.3, rule="minmax")
        for panel, fn in zip(s.panels[1:], (grad_cam, gradient_saliency), strict=True):
            maps = upsample(fn(fc, x, [cls]).maps, 32, "bilinear")[0, 0]  # saliency is at 32 px already
            assert panel.box == tuple(largest_component_box(normalize(maps), 0.3).tolist())
    assert "(gradcam)" in app.status.value and "(saliency)" in app.status.value


def test_shapes_dataset_directly() -> None:
    ds = Shapes("test", size=6, image_size=32)
    app = CAMExplorer(_net(favourite=None), ds, indices=[5, 1, 3])
    assert app.class_names == ds.class_names and list(app.index_slider.options) == [5, 1, 3]
    s = app.show(index=1)
    ref = ds[1]
    assert s.label == ref.label and s.gt_box == tuple(ref.box.tolist())
    assert app.show(index=2).message == "image 2 is not in the explorer (images 1..5): showing 1"


def test_bad_construction_names_the_fix(samples: list[Sample]) -> None:
    with pytest.raises(ValueError, match="at least one image"):
        CAMExplorer(_net(), [])
    with pytest.raises(ValueError, match="same classes"):
        CAMExplorer({"a": _net(), "b": GAPNet(3, TINY)}, samples)
    with pytest.raises(ValueError, match="unknown method 'grad_cam'"):
        CAMExplorer(_net(), samples, method="grad_cam")
    with pytest.raises(ValueError, match="no global pooling.*gapify"):  # CAM is undefined without a GAP head
        CAMExplorer(FCNet(6, TINY, hidden=(16,), grid=2), samples, method="cam")
    for bad, match in (({"tau": 5}, "tau must be a number in"), ({"cmap": "hot"}, "cmap must be one of")):
        with pytest.raises(ValueError, match=match):
            CAMExplorer(_net(), samples, **bad)
    with pytest.raises(TypeError, match="unexpected keyword argument 'colour'"):
        CAMExplorer(_net(), samples, colour="red")
    with pytest.raises(ValueError, match=r"`methods` names \['FC'\]"):
        CAMExplorer({"GAP": _net()}, samples, methods={"FC": "saliency"})
    with pytest.raises(ValueError, match="2 class names for models with 6 classes"):
        CAMExplorer(_net(), samples, class_names=["x", "y"])
    with pytest.raises(TypeError, match="a {name: model} dict"):
        CAMExplorer({"GAP": "not a model"}, samples)  # type: ignore[dict-item]


def test_snapshot_is_a_static_figure(app: CAMExplorer) -> None:
    app.show(index=5, tau=0.4, curve=False)  # with the curve on, a last row shows it (test_explorer2)
    fig = app.snapshot(indices=[0, 5], taus=[0.2, 0.6])
    *panels, bar = fig.axes  # 2 images x (the image once + 2 taus x 2 models), then one colour bar
    assert isinstance(fig, Figure) and len(panels) == 2 * 5
    titles = [ax.get_title() for ax in panels]
    assert [t for t in titles if t.startswith("#")] == ["#0 · true: c", "#5 · true: b"]  # no repeated image
    assert titles[1].startswith("GAP (cam) · τ = 0.20\nmap of c · IoU ") and titles[1].endswith(
        "\npredicts c ✓"
    )
    assert "τ = 0.60" in titles[3] and "GMP (cam)" in titles[4] and "predicts c ✗" in titles[6]  # #5 is a b
    assert bar.get_ylabel() == "max-normalised (÷ max)"  # the scale of the shown maps
    app.show(normalised=False)
    assert "raw map" in app.snapshot().axes[-1].get_ylabel()
    assert len(app.snapshot().axes) == 3 + 1  # defaults: the current view
    with pytest.raises(ValueError, match="indices must be explored"):
        app.snapshot(indices=[42])


def test_no_figure_leaks_after_100_updates(app: CAMExplorer) -> None:
    before = plt.get_fignums()
    for i in range(100):
        if i % 3 == 0:
            app.index_slider.value = i % 10
        elif i % 3 == 1:
            app.tau_slider.value = round(0.05 * (i % 20), 2)
        else:
            app.class_dropdown.value = i % 6
    app.snapshot()
    assert plt.get_fignums() == before
    assert "could not draw" not in app.status.value


def test_widget_tree(app: CAMExplorer) -> None:
    children = app.widget.children
    assert app.image_widget in children and app.status in children
    assert "cam-tau" in app.tau_slider._dom_classes and "cam-status" in app.status._dom_classes
