"""Explorer 2 (issue 19): every lesson control driven programmatically, what it shows checked against camlib computed
directly (normalisation, components, the IoU-vs-tau curve, channels, twin difference, erasing, method, model)."""

from __future__ import annotations

import re

import matplotlib

matplotlib.use("Agg")

import ipywidgets.widgets.widget as widget_module  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from camlib.boxes import all_component_boxes, iou, largest_component_box  # noqa: E402
from camlib.cam import capture, class_activation_maps, find_cam_head, grad_cam, normalize, upsample  # noqa: E402
from camlib.data.shapes import Shapes  # noqa: E402
from camlib.explorer import CURVE_TAUS, CAMExplorer, decompose, erase, shapes_twins, twin_table  # noqa: E402
from camlib.explorer.analysis import square_box  # noqa: E402
from camlib.models import FCNet, GAPNet, NetConfig  # noqa: E402

TINY = NetConfig(widths=(8, 16), downsample=2)
SIZE = 32
NAMES = ["beetle", "firefly", "fish", "shark", "turtle", "snail"]
SHARK, FIREFLY, TURTLE = 7, 3, 6  # dataset indices: a shark and a firefly (with part boxes), a turtle (none)


def _net(seed: int = 0, pool: str = "avg") -> GAPNet:
    torch.manual_seed(seed)
    return GAPNet(6, TINY, pool=pool).eval()  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def data() -> Shapes:
    return Shapes("val", size=12, image_size=SIZE)


@pytest.fixture(scope="module")
def other() -> GAPNet:
    return _net(seed=5)


@pytest.fixture(scope="module")
def shared(data: Shapes, other: GAPNet) -> CAMExplorer:
    torch.manual_seed(1)
    fc = FCNet(3, TINY, hidden=(8,), grid=2).eval()  # other classes: the drop-down must refuse it
    opts = {"catalogue": {"other": other, "fc3": fc}, "display_size": 64}  # small panels: a fast test
    return CAMExplorer({"GAP": _net(), "GMP": _net(1, "max")}, data, **opts)


@pytest.fixture
def app(shared: CAMExplorer) -> CAMExplorer:
    """The shared app with every control back at its first value."""
    shared.show(model="GAP", method="cam", index=0, tau=0.2, norm="max", components="largest", curve=True,
                channels=0, twin=False, erase="none")  # fmt: skip
    assert shared.state.message == ""
    return shared


def _ruled(
    model: torch.nn.Module, image: torch.Tensor, cls: int, how: str, fn=class_activation_maps
) -> torch.Tensor:
    maps = fn(model, image[None], [cls]).maps  # (1, 1, h, w)
    return normalize(upsample(maps, SIZE, "bilinear")[0, 0], how)  # (H, W)


def test_twin_table_comes_from_the_class_definitions() -> None:
    assert shapes_twins() == {"firefly": "beetle", "beetle": "firefly", "shark": "fish", "fish": "shark"}
    assert twin_table(NAMES) == {1: 0, 0: 1, 3: 2, 2: 3}
    assert twin_table(["cat", "dog"]) == {}


@pytest.mark.parametrize(("norm", "how", "label"), [
    ("raw", "max", "raw map"), ("max", "max", "max-normalised (÷ max)"), ("minmax", "minmax", "min–max normalised"),
])  # fmt: skip
def test_normalisation_control(app: CAMExplorer, data: Shapes, norm: str, how: str, label: str) -> None:
    app.norm_buttons.value = norm
    s = app.state
    assert (s.norm, s.rule, s.normalised) == (norm, how, norm != "raw")
    assert f"normalisation: {label}" in app.status.value
    for p, m in zip(s.panels, app.models.values(), strict=True):  # raw and ÷ max: the same box, the paper's
        ref = largest_component_box(_ruled(m, data[0].image, s.cls, how), 0.2)
        assert p.box == tuple(ref.tolist())
    assert app.show(rule="minmax").norm == "minmax" and app.show(normalised=False).norm == "raw"
    assert app.show(rule="max").norm == "max"


def test_all_components_take_the_best_box(app: CAMExplorer, data: Shapes) -> None:
    s = app.show(index=SHARK, components="all", tau=0.3)
    gt = data[SHARK].box
    for p, m in zip(s.panels, app.models.values(), strict=True):
        boxes = all_component_boxes(_ruled(m, data[SHARK].image, s.cls, "max"), 0.3)
        ious = iou(boxes, gt)[:, 0]
        assert p.n_components == len(boxes) and p.iou == pytest.approx(float(ious.max()))
        assert p.box == tuple(boxes[int(ious.argmax())].tolist())
    assert "all components" in app.status.value and "best of" in app.status.value


@pytest.mark.parametrize("components", ["largest", "all"])
def test_curve_equals_a_loop_over_tau_and_marks_the_best(
    app: CAMExplorer, data: Shapes, components: str
) -> None:
    s = app.show(index=FIREFLY, norm="minmax", components=components)
    gt = data[FIREFLY].box
    for p, m in zip(s.panels, app.models.values(), strict=True):
        ruled = _ruled(m, data[FIREFLY].image, s.cls, "minmax")
        loop = []
        for t in CURVE_TAUS:  # the explorer's own box rule, one tau at a time
            if components == "largest":
                loop.append(float(iou(largest_component_box(ruled, float(t)), gt)))
            else:
                b = all_component_boxes(ruled, float(t))
                loop.append(float(iou(b, gt).max()) if len(b) else 0.0)
        assert p.curve is not None and np.allclose(p.curve, loop, atol=1e-6)
        assert p.best_tau == float(CURVE_TAUS[int(np.argmax(p.curve))]) and p.best_iou == max(p.curve)
        assert f"best τ = {p.best_tau:.2f}" in app.status.value
    assert app.curve_image.value[:4] == b"\x89PNG" and app.curve_image.layout.display is None
    app.curve_checkbox.value = False
    assert app.state.panels[0].curve is None and app.curve_image.layout.display == "none"
    assert "best τ" not in app.status.value


def test_channels_sum_to_the_cam(app: CAMExplorer, data: Shapes) -> None:
    s = app.show(index=SHARK, cls=3, channels=3)
    c, model = s.channels, app.models["GAP"]
    assert c is not None and (c.model, c.cls, len(c.top), c.n_rest) == ("GAP", 3, 3, 13)
    x = data[SHARK].image[None]
    head = find_cam_head(model)
    with capture(head.pool, "input") as seen:
        model(x)
    f, w = seen["value"][0], head.linear.weight[3].detach()  # (K, h, w), (K,)
    parts = w[:, None, None] * f  # (K, h, w): w_k^c f_k
    scores = parts.mean((1, 2))
    assert list(c.top) == scores.argsort(descending=True)[:3].tolist()
    assert np.allclose(c.weights, w[list(c.top)].tolist()) and np.allclose(
        c.scores, scores[list(c.top)].tolist()
    )
    cam = class_activation_maps(model, x, [3]).maps[0, 0]
    assert torch.allclose(parts.sum(0), cam, atol=1e-5) and c.max_error < 1e-5
    dec = decompose(model, x, 3, 3)
    assert torch.allclose(dec.parts.sum(0) + dec.rest, cam, atol=1e-5)
    assert c.rest_score + sum(c.scores) == pytest.approx(float(scores.sum().detach()), abs=1e-5)
    assert "channels of GAP for shark" in app.status.value and "sum = CAM" in app.status.value
    assert app.channels_image.value[:4] == b"\x89PNG" and app.channels_image.layout.display is None
    assert "decomposition" in app.show(method="gradcam").message and app.state.channels is None


def test_twin_difference_is_the_difference_of_the_two_maps(app: CAMExplorer, data: Shapes) -> None:
    s = app.show(index=FIREFLY, cls=1, twin=True, tau=0.4)
    assert s.twin == 0 and "map of <b>firefly − beetle</b> (twin difference)" in app.status.value
    for p, m in zip(s.panels, app.models.values(), strict=True):
        maps = class_activation_maps(m, data[FIREFLY].image[None], [[1, 0]]).maps  # (1, 2, h, w)
        diff = upsample(maps[:, :1] - maps[:, 1:], SIZE, "bilinear")[0, 0]  # M_firefly - M_beetle
        assert p.box == tuple(largest_component_box(normalize(diff, "max"), 0.4).tolist())
    s = app.show(cls=4)
    assert s.twin is None and "turtle has no twin (twins: beetle ↔ firefly · fish ↔ shark)" in s.message


def test_erasing_the_part_gives_the_models_view_of_that_image(app: CAMExplorer, data: Shapes) -> None:
    before = data[SHARK].image.clone()
    s = app.show(index=SHARK, erase="part")
    part = data[SHARK].part_box
    assert s.erased is not None and s.erased.box == tuple(part.tolist())
    img = data[SHARK].image.clone()
    x1, y1, x2, y2 = (int(v) for v in part)
    border = torch.cat([img[:, 0], img[:, -1], img[:, :, 0], img[:, :, -1]], 1).mean(1)  # (3,) the background
    img[:, y1:y2, x1:x2] = border[:, None, None]
    assert torch.equal(erase(data[SHARK].image, s.erased.box), img)
    for k, (p, m) in enumerate(zip(s.panels, app.models.values(), strict=True)):
        with torch.no_grad():
            logits = m(img[None])[0]
        assert np.allclose(s.erased.logits[k], logits.tolist(), atol=1e-5)
        assert p.pred == s.erased.preds[k] == int(logits.argmax())
        assert f"logit of {NAMES[s.cls]} {float(logits[s.cls]):+.2f}" in app.status.value
        assert p.box == tuple(largest_component_box(_ruled(m, img, s.cls, "max"), 0.2).tolist())
    assert "erased the part box" in app.status.value and torch.equal(data[SHARK].image, before)
    s = app.show(erase="square", square=(30, 2, 8))
    assert s.erased is not None and s.erased.box == square_box(30, 2, 8, SIZE, SIZE) == (
        30.0,
        2.0,
        32.0,
        10.0,
    )
    s = app.show(index=TURTLE, erase="part")
    assert s.erased is None and "has no part box (only firefly and shark have one)" in s.message


def test_method_dropdown_changes_every_map(app: CAMExplorer, data: Shapes) -> None:
    app.method_dropdown.value = "gradcam"
    s = app.state
    assert [p.method for p in s.panels] == ["gradcam", "gradcam"] and "(gradcam)" in app.status.value
    for p, m in zip(s.panels, app.models.values(), strict=True):
        ref = largest_component_box(_ruled(m, data[0].image, s.cls, "max", grad_cam), 0.2)
        assert p.box == tuple(ref.tolist())
    assert (
        list(app.method_dropdown.options)[:2] == ["cam", "gradcam"]
        and "saliency" in app.method_dropdown.options
    )


def test_model_dropdown_shows_that_models_map(app: CAMExplorer, data: Shapes, other: GAPNet) -> None:
    app.model_dropdown.value = "other"
    s = app.state
    assert [p.name for p in s.panels] == ["other", "GMP"] and s.message == ""
    with torch.no_grad():
        probs = other(data[0].image[None]).softmax(1)[0]
    assert s.panels[0].pred == int(probs.argmax()) and s.panels[0].prob == pytest.approx(float(probs.max()))
    ref = largest_component_box(_ruled(other, data[0].image, s.cls, "max"), 0.2)
    assert s.panels[0].box == tuple(ref.tolist()) and "<b>other</b> (cam)" in app.status.value
    s = app.show(model="fc3")
    assert "could not show fc3" in s.message and "3 classes" in s.message and s.panels[0].name == "other"
    assert app.show(model="GAP").panels[0].name == "GAP"


def test_the_default_catalogue_is_the_zoo(data: Shapes) -> None:
    from camlib import zoo

    app = CAMExplorer(_net(), list(data)[:4])
    assert [o for o in app.model_dropdown.options if o.startswith("zoo:")] == [
        f"zoo:{n}" for n in zoo.available()
    ]


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"norm": "median"}, "unknown normalisation 'median'"),
    ({"components": "some"}, "unknown boxes 'some'"),
    ({"channels": 99}, "channels = 99 is outside 0..8: using 8"),
    ({"channels": "many"}, "channels must be an integer"),
    ({"erase": "everything"}, "unknown erase 'everything'"),
    ({"square": (1, 2)}, "square must be (x, y, size)"),
    ({"square": (1, 2, "big")}, "square size must be an integer"),
    ({"method": "gradcamz"}, "unknown method 'gradcamz'"),
    ({"model": "nope"}, "unknown model 'nope'"),
    ({"twin": "yes"}, "twin must be True or False"),
    ({"curve": 1}, "curve must be True or False"),
])  # fmt: skip
def test_bad_values_give_a_message_not_a_traceback(app: CAMExplorer, kwargs: dict, message: str) -> None:
    s = app.show(**kwargs)
    assert message in s.message and "⚠" in app.status.value and "could not draw" not in app.status.value


@pytest.mark.parametrize(("bad", "match"), [
    ({"catalogue": ["zoo:gap"]}, "catalogue must map labels to models"),
    ({"catalogue": {"x": 3}}, "catalogue must map labels to models"),
    ({"twins": {"shark": 3}}, "twins must map class names to class names"),
])  # fmt: skip
def test_bad_options_name_the_fix(data: Shapes, bad: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        CAMExplorer(_net(), data, **bad)


def test_cam_on_a_model_without_gap_keeps_its_method(data: Shapes) -> None:
    torch.manual_seed(0)
    fc = FCNet(6, TINY, hidden=(8,), grid=2).eval()
    app = CAMExplorer({"GAP": _net(), "FC": fc}, data, methods={"FC": "saliency"}, catalogue={})
    s = app.show(method="cam")
    assert [p.method for p in s.panels] == ["cam", "saliency"] and "FC keeps saliency" in s.message


def test_snapshot_shows_the_new_views(app: CAMExplorer) -> None:
    app.show(index=SHARK, channels=2, erase="part")
    titles = [ax.get_title() for ax in app.snapshot().axes]
    assert any(t.startswith("IoU vs τ") for t in titles) and any(
        t.startswith("channels of GAP") for t in titles
    )
    assert any("part erased → predicts" in t for t in titles)


def test_200_updates_leak_no_figure_and_no_widget(app: CAMExplorer) -> None:
    figs, widgets = plt.get_fignums(), len(widget_module._instances)
    rng = np.random.default_rng(0)
    controls = [
        lambda: setattr(app.norm_buttons, "value", str(rng.choice(["raw", "max", "minmax"]))),
        lambda: setattr(app.components_buttons, "value", str(rng.choice(["largest", "all"]))),
        lambda: setattr(app.curve_checkbox, "value", bool(rng.integers(2))),
        lambda: setattr(app.channels_slider, "value", int(rng.integers(0, 5))),
        lambda: setattr(app.twin_checkbox, "value", bool(rng.integers(2))),
        lambda: setattr(app.erase_dropdown, "value", str(rng.choice(["none", "part", "square"]))),
        lambda: setattr(app.erase_x, "value", int(rng.choice([0, 8, 16]))),  # a few squares, each maps once
        lambda: setattr(app.method_dropdown, "value", str(rng.choice(["cam", "gradcam"]))),
        lambda: setattr(app.model_dropdown, "value", str(rng.choice(["GAP", "other"]))),
        lambda: setattr(app.index_slider, "value", int(rng.choice(list(app.index_slider.options)))),
        lambda: setattr(app.tau_slider, "value", float(rng.choice([0.1, 0.3, 0.5]))),
    ]
    for i in range(200):
        controls[i % len(controls)]()
        assert "could not draw" not in app.status.value
    app.snapshot()
    assert plt.get_fignums() == figs and len(widget_module._instances) == widgets
    assert re.search(r"IoU = [0-9.]+", app.status.value)
