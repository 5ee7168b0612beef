"""Scenes of several creatures (camlib.data.shapes.multi) and their scores (camlib.localization.multi).

Determinism, box/mask/part consistency, the overlap bound, distinct classes per scene, the metric's exact values on
hand-built maps, and every bad argument's message.
"""

from __future__ import annotations

import itertools
import json
import sys
from pathlib import Path

import pytest
import torch

from camlib.cam import class_activation_maps, upsample
from camlib.data.shapes import MultiConfig, MultiShapes, Shapes, box_overlap
from camlib.data.shapes.classes import CREATURES
from camlib.data.shapes.layout import ATTEMPTS
from camlib.localization import (
    box_pixels,
    center_prior,
    positive_mass_share,
    prior_scene_maps,
    scene_maps,
    score_beside,
    score_scene_maps,
)
from camlib.models import GAPNet, NetConfig

N = 64  # the shipped models' image side
SCENES = 64


@pytest.fixture(scope="module")
def scenes():  # noqa: ANN201
    return MultiShapes("test", SCENES, N).batch(range(SCENES))


def same(a, b) -> bool:  # noqa: ANN001
    return all(
        torch.equal(torch.nan_to_num(x, -7), torch.nan_to_num(y, -7)) for x, y in zip(a, b, strict=True)
    )


# ---- the scenes ----------------------------------------------------------------------------------------------
def test_same_scene_whatever_the_batch_and_instance(scenes) -> None:  # noqa: ANN001
    again = MultiShapes("test", SCENES, N).batch([5, 2, 60])
    assert same(again, tuple(t[[5, 2, 60]] for t in scenes))
    one = MultiShapes("test", SCENES, N)[2]
    n = int(scenes.counts[2])
    assert torch.equal(one.image, scenes.images[2]) and torch.equal(one.masks, scenes.masks[2, :n])
    assert torch.equal(one.labels, scenes.labels[2, :n])


def test_seeds_and_splits_give_other_scenes(scenes) -> None:  # noqa: ANN001
    other_seed = MultiShapes("test", 8, N, seed=1).batch(range(8))
    other_split = MultiShapes("val", 8, N).batch(range(8))
    for other in (other_seed, other_split):
        assert not torch.equal(other.images, scenes.images[:8])
    # and a scene is not the Shapes image of the same index with creatures added
    assert not torch.equal(Shapes("test", 8, N).batch(range(8)).images, scenes.images[:8])


def test_scenes_are_at_the_shipped_models_resolution(scenes) -> None:  # noqa: ANN001
    assert scenes.images.shape == (SCENES, 3, N, N) and scenes.images.dtype == torch.float32
    assert float(scenes.images.min()) >= 0 and float(scenes.images.max()) <= 1


def test_boxes_are_the_visible_masks_extent_and_parts_lie_inside(scenes) -> None:  # noqa: ANN001
    has_part = {i for i, c in enumerate(CREATURES) if c.part_name is not None}
    parts_seen = 0
    for i in range(SCENES):
        n = int(scenes.counts[i])
        for k in range(3):
            box, mask, part = scenes.boxes[i, k], scenes.masks[i, k], scenes.part_boxes[i, k]
            if k >= n:  # padding
                assert int(scenes.labels[i, k]) == -1 and torch.isnan(box).all() and not mask.any()
                assert torch.isnan(part).all()
                continue
            ys, xs = mask.nonzero(as_tuple=True)
            assert ys.numel() > 0, "every creature shows"
            extent = [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]
            assert box.tolist() == [float(v) for v in extent]
            if int(scenes.labels[i, k]) in has_part and not torch.isnan(part).any():
                parts_seen += 1
                assert (part[:2] >= box[:2]).all() and (part[2:] <= box[2:]).all()
                assert (part[2:] - part[:2]).prod() < (box[2:] - box[:2]).prod()
            else:
                assert torch.isnan(part).all(), "only the firefly and the shark have a part box"
        # the visible masks are disjoint
        assert int(scenes.masks[i].sum(0).max()) <= 1
    assert parts_seen > 20


def test_creatures_of_one_scene_have_different_classes(scenes) -> None:  # noqa: ANN001
    counts = scenes.counts.bincount(minlength=4).tolist()
    assert counts[0] == counts[1] == 0 and counts[2] > 10 and counts[3] > 10
    for i in range(SCENES):
        labels = scenes.labels[i, : int(scenes.counts[i])].tolist()
        assert len(set(labels)) == len(labels) and all(0 <= c < 6 for c in labels)
    assert set(scenes.labels[scenes.labels >= 0].tolist()) == set(range(6))


@pytest.mark.parametrize("max_overlap", [0.0, 0.2])
def test_no_two_boxes_overlap_beyond_the_bound(max_overlap: float) -> None:
    b = MultiShapes("val", 24, N, config=MultiConfig(objects=(3, 3), max_overlap=max_overlap)).batch(
        range(24)
    )
    worst = 0.0
    for i in range(24):
        n = int(b.counts[i])
        for p, q in itertools.combinations(range(n), 2):
            worst = max(worst, float(box_overlap(b.boxes[i, p], b.boxes[i, q])))
    assert worst <= max_overlap + 1e-6
    # the scenes that fell back hold two creatures; the others the three asked for
    assert (b.counts[~b.fallback] == 3).all() and (b.counts[b.fallback] == 2).all()
    assert int(b.fallback.sum()) < 24 // 3
    if max_overlap > 0:
        assert worst > 0, "the bound is reached, not avoided by keeping every box apart"


def test_the_corner_fallback_never_overlaps(monkeypatch: pytest.MonkeyPatch) -> None:
    import camlib.data.shapes.layout as layout

    monkeypatch.setattr(layout, "ATTEMPTS", 0)  # every scene falls back
    b = MultiShapes("test", 16, N, config=MultiConfig(scale_range=(0.5, 0.5), max_overlap=0.0)).batch(
        range(16)
    )
    assert b.fallback.all() and (b.counts == 2).all()
    assert float(box_overlap(b.boxes[:, 0], b.boxes[:, 1]).max()) == 0.0
    assert ATTEMPTS > 0


def test_box_overlap_is_the_intersection_over_the_smaller_box() -> None:
    a = torch.tensor([0.0, 0, 10, 10])
    assert box_overlap(a, torch.tensor([2.0, 2, 4, 4])).item() == 1.0  # inside
    assert box_overlap(a, torch.tensor([10.0, 0, 20, 10])).item() == 0.0  # touching edges share no pixel
    assert box_overlap(a, torch.tensor([5.0, 5, 15, 15])).item() == 0.25


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_gpu_scenes_match_cpu(scenes) -> None:  # noqa: ANN001
    on_gpu = MultiShapes("test", SCENES, N).batch(range(SCENES), device="cuda")
    assert same(tuple(t.cpu() for t in on_gpu), scenes)


# ---- the scores ----------------------------------------------------------------------------------------------
def test_box_pixels_follow_the_exclusive_edges() -> None:
    px = box_pixels(torch.tensor([[2.0, 1.0, 5.0, 3.0]]), 6, 8)
    assert px.shape == (1, 6, 8) and int(px.sum()) == 3 * 2
    assert px[0, 1:3, 2:5].all() and not px[0, 3, 2] and not px[0, 1, 5]


def test_mass_share_exact_values() -> None:
    m = torch.zeros(3, 8, 8)
    m[0, 0:2, 0:2] = 1.0  # 4 inside
    m[0, 7, 7] = 4.0  # 4 outside
    m[0, 5, 5] = -100.0  # negative mass does not count
    m[1] = -1.0  # no positive mass
    m[2, 1, 1] = 2.5  # all inside
    boxes = torch.tensor([[0.0, 0.0, 2.0, 2.0]]).expand(3, 4)
    assert positive_mass_share(m, boxes).tolist() == [0.5, 0.0, 1.0]


def test_score_scene_maps_exact_values() -> None:
    # two scenes: classes (0, 1) and (2, 0, 1); boxes far apart
    labels = torch.tensor([[0, 1, -1], [2, 0, 1]])
    left, right, bottom = [0.0, 0.0, 8.0, 8.0], [24.0, 0.0, 32.0, 8.0], [0.0, 24.0, 8.0, 32.0]
    boxes = torch.tensor([[left, right, [float("nan")] * 4], [bottom, left, right]])
    maps = torch.zeros(2, 3, 32, 32)
    maps[0, 0, 4, 4] = 1.0  # class 0 points into its own box: hit, all mass inside
    maps[0, 1, 4, 4] = 1.0  # class 1 points at class 0's creature: miss, no mass inside
    maps[1, 1, 4, 4], maps[1, 1, 28, 4] = 3.0, 1.0  # class 0: hit, 3/4 of the mass inside
    maps[1, 2, 4, 20] = 1.0  # class 1: 4 px left of its box's first column (24): a hit with a 4-px tolerance
    maps[1, 0, 28, 28] = 1.0  # class 2: far right of the bottom-left box: miss
    s = score_scene_maps(maps, labels, boxes, ["a", "b", "c"], "demo", tolerance=4.0)
    assert (s.scenes, s.objects, s.tolerance) == (2, 5, 4.0)
    assert s.pointing == pytest.approx(100 * 3 / 5)
    assert s.per_class["a"].pointing == 100.0 and s.per_class["a"].mass_share == pytest.approx(87.5)
    assert s.per_class["b"].objects == 2 and s.per_class["b"].pointing == 50.0
    assert s.per_class["b"].mass_share == 0.0 and s.per_class["c"].pointing == 0.0
    assert s.mass_share == pytest.approx(100 * (1 + 0 + 0.75 + 0 + 0) / 5)
    # class b's miss in scene 0 points at class a's creature; class c's miss points at no creature
    assert s.on_other == pytest.approx(20.0) and s.per_class["b"].on_other == 50.0
    assert s.per_class["c"].on_other == 0.0 and s.per_class["a"].on_other == 0.0
    tight = score_scene_maps(maps, labels, boxes, ["a", "b", "c"], "demo", tolerance=3.0)
    assert tight.per_class["b"].pointing == 0.0
    assert score_scene_maps(maps, labels, boxes, ["a", "b", "c"], "demo").tolerance == pytest.approx(15 / 7)
    assert set(s.to_dict()) >= {"method", "pointing", "mass_share", "per_class"}


def test_score_beside_splits_the_scenes_by_the_neighbour() -> None:
    # class 0's map hits in scene 0 (class 1 beside it) and scene 2 (class 2 beside it), misses in scene 1 (class 1)
    labels = torch.tensor([[0, 1], [1, 0], [0, 2], [1, 2]])
    own, far = [0.0, 0.0, 4.0, 4.0], [12.0, 12.0, 16.0, 16.0]
    boxes = torch.tensor([[own, far], [far, far], [own, far], [own, far]])
    maps = torch.zeros(4, 2, 16, 16)
    maps[:, :, 1, 1] = 1.0  # every map peaks top-left, in "own"
    out = score_beside(maps, labels, boxes, ["a", "b", "c"], "a", "b", tolerance=1.0)
    assert out["with"] is not None and out["without"] is not None
    assert (out["with"].objects, out["with"].pointing) == (2, 50.0)
    assert (out["without"].objects, out["without"].pointing) == (1, 100.0)
    assert set(out["with"].per_class) == {"a"}, "only the target's maps are scored"
    none = score_beside(maps[:2], labels[:2], boxes[:2], ["a", "b", "c"], "a", "b")
    assert none["without"] is None
    with pytest.raises(ValueError, match="use one of"):
        score_beside(maps, labels, boxes, ["a", "b", "c"], "a", "z")
    with pytest.raises(ValueError, match="name two different classes"):
        score_beside(maps, labels, boxes, ["a", "b", "c"], "a", "a")


def test_scene_maps_are_each_slots_cam_and_padding_is_zero(scenes) -> None:  # noqa: ANN001
    torch.manual_seed(0)
    net = GAPNet(6, NetConfig(widths=(8, 16), downsample=2))
    labels = scenes.labels[:4]
    maps = scene_maps(net, scenes.images[:4], labels)
    assert maps.shape == (4, 3, N, N)
    expect = upsample(class_activation_maps(net, scenes.images[:4], classes=labels.clamp_min(0)).maps, N)
    valid = labels >= 0
    assert torch.allclose(maps[valid], expect[valid])
    assert (maps[~valid] == 0).all()


def test_the_prior_is_the_same_map_for_every_class() -> None:
    labels = torch.tensor([[3, 1, -1]])
    m = prior_scene_maps(labels, 16, 16, (6.0, 4.0))
    assert torch.equal(m[0, 0], center_prior(16, 16, (6.0, 4.0))) and torch.equal(m[0, 0], m[0, 1])
    assert (m[0, 2] == 0).all()


# ---- bad arguments -------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kwargs", "fix"),
    [
        ({"objects": (1, 3)}, "objects=(2, 3)"),
        ({"objects": (3, 2)}, "objects=(2, 3)"),
        ({"objects": (2, 4)}, "objects=(2, 3)"),
        ({"objects": (2.0, 3)}, "objects=(2, 3)"),
        ({"scale_range": (0.3, 0.6)}, "scale_range=(0.3, 0.45)"),
        ({"scale_range": (0.0, 0.4)}, "scale_range=(0.3, 0.45)"),
        ({"clutter": -1.0}, "clutter must be between 0 and 25"),
        ({"max_overlap": 1.5}, "max_overlap=0.1"),
        ({"max_overlap": -0.1}, "max_overlap=0.1"),
        ({"max_overlap": True}, "max_overlap=0.1"),
    ],
)
def test_bad_config_names_the_fix(kwargs: dict, fix: str) -> None:
    with pytest.raises(ValueError, match=fix.replace("(", r"\(").replace(")", r"\)")):
        MultiConfig(**kwargs)


@pytest.mark.parametrize(
    ("kwargs", "fix"),
    [
        ({"split": "valid"}, "use one of"),
        ({"size": -1}, "size=200"),
        ({"size": 2.5}, "size=200"),
        ({"image_size": 16}, "64 px for the shipped checkpoints"),
        ({"seed": -1}, "non-negative integer"),
        ({"config": {"max_overlap": 0.1}}, r"MultiConfig\(...\)"),
    ],
)
def test_bad_arguments_name_the_fix(kwargs: dict, fix: str) -> None:
    args = {"split": "test", "size": 4, "image_size": N, **kwargs}
    with pytest.raises(ValueError, match=fix):
        MultiShapes(**args)


def test_bad_indices() -> None:
    ds = MultiShapes("test", 4, N)
    with pytest.raises(IndexError, match="out of range for 4 scenes"):
        ds[4]
    with pytest.raises(TypeError, match=r"ds.batch\(indices\)"):
        ds[1.0]  # type: ignore[index]
    with pytest.raises(IndexError, match="out of range"):
        ds.batch([0, 9])
    assert torch.equal(ds[-1].image, ds[3].image)
    empty = ds.batch([])
    assert empty.images.shape == (0, 3, N, N) and empty.labels.shape == (0, 3)


def test_bad_score_inputs_name_the_fix() -> None:
    maps, labels, boxes = torch.zeros(1, 2, 8, 8), torch.tensor([[0, 1]]), torch.zeros(1, 2, 4)
    with pytest.raises(ValueError, match="pass a SceneBatch's labels and boxes"):
        score_scene_maps(maps[0], labels, boxes, ["a", "b"], "x")
    with pytest.raises(ValueError, match="pass a SceneBatch's labels and boxes"):
        score_scene_maps(maps, labels[:, :1], boxes, ["a", "b"], "x")
    with pytest.raises(ValueError, match="pass scenes with objects"):
        score_scene_maps(maps, torch.full((1, 2), -1), boxes, ["a", "b"], "x")
    with pytest.raises(ValueError, match="pass the dataset's class_names"):
        score_scene_maps(maps, labels, boxes, ["a"], "x")
    with pytest.raises(ValueError, match="pass one box per map"):
        positive_mass_share(maps[:, 0], boxes)
    with pytest.raises(ValueError, match="pass a SceneBatch's labels"):
        scene_maps(GAPNet(6, NetConfig(widths=(8,), downsample=1)), torch.rand(2, 3, 32, 32), labels)


# ---- the report script ---------------------------------------------------------------------------------------
def test_the_report_script_writes_its_three_files_and_keeps_existing_ones(tmp_path, capsys) -> None:  # noqa: ANN001
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
    import multi_object  # a script of the repository

    argv = ["--scenes", "6", "--prior-scenes", "8", "--out", str(tmp_path)]
    assert multi_object.main(argv) == 0
    doc = json.loads((tmp_path / "multi_object_fast.json").read_text())
    assert doc["scenes"] == 6 and doc["seed"] == 0 and doc["dataset"]["image_size"] == N
    assert set(doc["scores"]) == {"gap", "gap_fast", "gmp", "center"}
    assert (
        "gap: firefly / beetle" in doc["twins"]
        and "Twins side by side" in (tmp_path / "multi_object_fast.md").read_text()
    )
    assert (
        doc["scores"]["gap"]["objects"]
        == doc["objects"]
        == sum(int(k) * v for k, v in doc["scenes_with"].items())
    )
    md = (tmp_path / "multi_object_fast.md").read_text()
    assert "centred prior" in md and "| **all** |" in md
    assert (tmp_path / "multi_object_topk.png").read_bytes()[:4] == b"\x89PNG"
    before = (tmp_path / "multi_object_fast.md").read_bytes()
    with pytest.raises(SystemExit):
        multi_object.main(argv)  # no --force: the existing report stays
    assert "--force" in capsys.readouterr().err
    assert (tmp_path / "multi_object_fast.md").read_bytes() == before
