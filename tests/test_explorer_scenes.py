"""Several-object scenes in the explorer (issue 19): the box of the CHOSEN class, no IoU for an absent class, the
pointing game as camlib.localization.multi plays it, the curve against that class's box."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from camlib.data.shapes import MultiShapes
from camlib.explorer import CURVE_TAUS, CAMExplorer
from camlib.explorer.analysis import boxes_at
from camlib.localization.multi import score_scene_maps
from camlib.models import GAPNet, NetConfig

NAMES = ["beetle", "firefly", "fish", "shark", "turtle", "snail"]


@pytest.fixture(scope="module")
def ds() -> MultiShapes:
    return MultiShapes("test", size=6, image_size=32)


@pytest.fixture(scope="module")
def app(ds: MultiShapes) -> CAMExplorer:
    torch.manual_seed(0)
    net = GAPNet(6, NetConfig(widths=(8, 16), downsample=2)).eval()
    return CAMExplorer({"GAP": net}, ds)


def test_each_class_uses_its_own_box(app: CAMExplorer, ds: MultiShapes) -> None:
    checked = 0
    for i in range(len(ds)):
        scene = ds[i]
        for k, c in enumerate(scene.labels.tolist()):
            s = app.show(index=i, cls=c)
            assert s.present == tuple(scene.labels.tolist())
            assert s.gt_box == tuple(scene.boxes[k].tolist())
            part = scene.part_boxes[k]
            assert s.part_box == (None if part.isnan().any() else tuple(part.tolist()))
            assert f"in the scene: <b>{', '.join(NAMES[x] for x in s.present)}</b>" in app.status.value
            checked += 1
    assert checked >= 2 * len(ds)
    labels = dict(app.class_dropdown.options)
    assert len(labels) == 6
    assert sum("in the scene" in lab for lab in labels) == len(ds[len(ds) - 1].labels)


def test_absent_class_has_no_iou(app: CAMExplorer, ds: MultiShapes) -> None:
    present = ds[0].labels.tolist()
    absent = next(c for c in range(6) if c not in present)
    s = app.show(index=0, cls=absent)
    assert s.gt_box is None and s.panels[0].iou is None and s.panels[0].pointing is None
    assert f"IoU = n/a ({NAMES[absent]} is not in this scene)" in app.status.value
    assert "pointing game" not in app.status.value


def test_pointing_agrees_with_localization_multi(app: CAMExplorer, ds: MultiShapes) -> None:
    verdicts = []
    for i in range(len(ds)):
        scene = ds[i]
        for k, c in enumerate(scene.labels.tolist()):
            s = app.show(index=i, cls=c, upsample="bilinear")
            m = app.display_map("GAP", i, c, "bilinear", False)  # (H, W) the upsampled raw map
            ref = score_scene_maps(m[None, None], torch.tensor([[c]]), scene.boxes[k][None, None], NAMES, "x")
            assert s.panels[0].pointing == (ref.pointing == 100.0)
            word = "in" if s.panels[0].pointing else "not in"
            assert f"pointing game: the map's maximum is {word} {NAMES[c]}'s box" in app.status.value
            verdicts.append(s.panels[0].pointing)
    assert len(verdicts) >= 2 * len(ds)


def test_curve_is_against_the_chosen_class_box(app: CAMExplorer, ds: MultiShapes) -> None:
    scene = ds[2]
    for comp in ("largest", "all"):
        for k, c in enumerate(scene.labels.tolist()):
            s = app.show(index=2, cls=c, curve=True, components=comp)
            ruled = app.current_maps()["GAP"]  # (H, W) as the boxes see it
            ref = boxes_at(ruled, CURVE_TAUS, scene.boxes[k], comp)
            assert ref.ious is not None and s.panels[0].curve is not None
            np.testing.assert_allclose(s.panels[0].curve, ref.ious)
            t = int(np.flatnonzero(np.abs(CURVE_TAUS - s.tau) < 1e-9)[0])
            assert s.panels[0].iou == pytest.approx(float(ref.ious[t]))


def test_twin_and_erase_use_the_chosen_class_part(app: CAMExplorer, ds: MultiShapes) -> None:
    for i in range(len(ds)):
        scene = ds[i]
        for k, c in enumerate(scene.labels.tolist()):
            part = scene.part_boxes[k]
            s = app.show(index=i, cls=c, erase="part", twin=True)
            if part.isnan().any():
                assert s.erased is None and "has no part box" in s.message
            else:
                assert s.erased is not None and s.erased.box == tuple(part.tolist())
    app.show(erase="none", twin=False)


def test_bad_index_gives_a_message(app: CAMExplorer) -> None:
    s = app.show(index=99)
    assert s.index == 5 and "image 99 is not in the explorer" in s.message
    assert "⚠" in app.status.value


def test_list_of_scenes_and_snapshot(ds: MultiShapes) -> None:
    torch.manual_seed(0)
    net = GAPNet(6, NetConfig(widths=(8, 16), downsample=2)).eval()
    app = CAMExplorer(net, [ds[i] for i in range(3)])
    c = int(ds[1].labels[0])
    s = app.show(index=1, cls=c)
    assert s.gt_box == tuple(ds[1].boxes[0].tolist()) and s.present == tuple(ds[1].labels.tolist())
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig = app.snapshot(indices=[1])
    titles = [ax.get_title() for ax in fig.axes]
    plt.close(fig)
    assert "#1 · scene: " + ", ".join(NAMES[c] for c in s.present) in titles


def test_no_scene_is_refused_with_the_fix() -> None:
    net = GAPNet(6, NetConfig(widths=(8, 16), downsample=2)).eval()
    with pytest.raises(ValueError, match="at least one image"):
        CAMExplorer(net, MultiShapes("test", size=0, image_size=32))
