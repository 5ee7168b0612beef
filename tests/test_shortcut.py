"""The planted shortcut (camlib.data.shapes.shortcut): the agreement it was asked for, marks independent of the
class at test, the mark box where the mark is, the clean images untouched, determinism, the error cases."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from scipy.stats import chi2_contingency

from camlib.checkpoint import dataset_class, dataset_from_meta, read_checkpoint
from camlib.data.shapes import Shapes, ShapesConfig
from camlib.data.shapes.shortcut import MARK_COLOURS, OUTLINE, ShortcutShapes, corner_boxes, mark_side

N = 3000  # images per statistical check (32 px: about a second to draw)


def bound(n: int, p: float) -> float:
    """A 4-sigma band of a binomial proportion."""
    return 4 * math.sqrt(p * (1 - p) / n)


@pytest.mark.parametrize("agreement", [0.9, 0.5])
def test_train_marks_agree_with_the_class_in_the_asked_fraction(agreement: float) -> None:
    ds = ShortcutShapes("train", size=N, image_size=32, seed=0, agreement=agreement)
    marks, labels = ds.marks(range(N)), ds.labels()
    assert torch.equal(marks.agrees, marks.colour_class == labels)
    frac = marks.agrees.float().mean().item()
    assert abs(frac - agreement) < bound(N, agreement), frac
    # a disagreeing mark has another class's colour, uniform over the five others
    off = (marks.colour_class - labels)[~marks.agrees] % 6
    counts = torch.bincount(off, minlength=6)
    assert counts[0] == 0 and (counts[1:].float() / off.numel() - 0.2).abs().max() < bound(off.numel(), 0.2)


def test_agreement_one_and_zero_are_exact() -> None:
    assert ShortcutShapes("train", size=200, image_size=32, agreement=1.0).marks(range(200)).agrees.all()
    assert not ShortcutShapes("train", size=200, image_size=32, agreement=0.0).marks(range(200)).agrees.any()


def test_test_marks_are_independent_of_the_class() -> None:
    ds = ShortcutShapes("test", size=N, image_size=32, seed=0)
    assert ds.mark == "random"
    marks, labels = ds.marks(range(N)), ds.labels()
    table = torch.zeros(6, 6)
    table.index_put_((labels, marks.colour_class), torch.ones(N), accumulate=True)
    p_value = chi2_contingency(table.numpy()).pvalue
    assert p_value > 1e-3, p_value  # a fixed seed: this is one deterministic draw, not a flaky test
    assert abs(marks.agrees.float().mean().item() - 1 / 6) < bound(N, 1 / 6)
    corners = torch.zeros(6, 4)
    corners.index_put_((labels, marks.corner), torch.ones(N), accumulate=True)
    assert chi2_contingency(corners.numpy()).pvalue > 1e-3


@pytest.mark.parametrize("split", ["train", "test"])
def test_the_mark_box_is_where_the_mark_is_and_nothing_else_changes(split: str) -> None:
    size = 64
    ds, clean = ShortcutShapes(split, size=40, image_size=size), Shapes(split, size=40, image_size=size)
    batch, marks = ds.batch_with_marks(range(40))
    ref = clean.batch(range(40))
    s = mark_side(size)
    for i in range(40):
        x0, y0, x1, y1 = marks.boxes[i].to(torch.int64).tolist()
        assert (x1 - x0, y1 - y0) == (s, s) and marks.boxes[i].tolist() in corner_boxes(size).tolist()
        inside = torch.zeros(size, size, dtype=torch.bool)
        inside[y0:y1, x0:x1] = True
        assert torch.equal(batch.images[i][:, ~inside], ref.images[i][:, ~inside])
        glyph = batch.images[i, :, y0:y1, x0:x1]
        assert torch.allclose(
            glyph[:, 1:-1, 1:-1], torch.tensor(MARK_COLOURS[int(marks.colour_class[i])])[:, None, None]
        )
        ring = torch.ones(s, s, dtype=torch.bool)
        ring[1:-1, 1:-1] = False
        assert torch.all(glyph[:, ring] == OUTLINE)
        assert not batch.masks[i, y0:y1, x0:x1].any()  # the mark never covers the creature
    for field in ("labels", "boxes", "masks"):
        assert torch.equal(getattr(batch, field), getattr(ref, field))
    assert torch.equal(batch.part_boxes.nan_to_num(-1), ref.part_boxes.nan_to_num(-1))


def test_clean_split_is_exactly_shapes_and_has_no_mark() -> None:
    ds = ShortcutShapes("test", size=16, image_size=32, mark="none")
    batch, marks = ds.batch_with_marks(range(16))
    assert torch.equal(batch.images, Shapes("test", size=16, image_size=32).batch(range(16)).images)
    assert torch.isnan(marks.boxes).all() and (marks.colour_class == -1).all() and not marks.agrees.any()


def test_a_creature_with_no_free_corner_loses_the_covered_pixels_from_its_mask() -> None:
    config = ShapesConfig(scale_range=(0.9, 0.9), clutter=0)  # creatures nearly as large as the image
    ds = ShortcutShapes("train", size=64, image_size=32, config=config)
    batch, marks = ds.batch_with_marks(range(64))
    ref = Shapes("train", size=64, image_size=32, config=config).batch(range(64))
    covered = 0
    for i in range(64):
        x0, y0, x1, y1 = marks.boxes[i].to(torch.int64).tolist()
        inside = torch.zeros(32, 32, dtype=torch.bool)
        inside[y0:y1, x0:x1] = True
        assert torch.equal(batch.masks[i], ref.masks[i] & ~inside)
        cols, rows = batch.masks[i].any(0).nonzero(), batch.masks[i].any(1).nonzero()
        extent = [int(cols.min()), int(rows.min()), int(cols.max()) + 1, int(rows.max()) + 1]
        assert batch.boxes[i].tolist() == extent
        bx0, by0, bx1, by1 = ref.boxes[i].tolist()
        covered += int(min(x1, bx1) > max(x0, bx0) and min(y1, by1) > max(y0, by0))
    assert covered > 5  # no corner was free for these creatures: the case was exercised


def test_deterministic_and_the_same_by_index_or_batch() -> None:
    a = ShortcutShapes("val", size=10, image_size=32, seed=3).batch(range(10))
    b = ShortcutShapes("val", size=10, image_size=32, seed=3)
    assert torch.equal(a.images, b.batch(range(10)).images)
    assert torch.equal(a.images[7], b[7].image)
    c = ShortcutShapes("val", size=10, image_size=32, seed=4).batch(range(10))
    assert not torch.equal(a.images, c.images)


def test_spec_round_trip_and_checkpoint_lookup() -> None:
    ds = ShortcutShapes("train", size=8, image_size=32, seed=2, agreement=0.7)
    cls = dataset_class("camlib.data.shapes.shortcut:ShortcutShapes")
    back = cls.from_spec(ds.spec())
    assert repr(back) == repr(ds) and "agreement=0.7" in repr(ds)
    assert torch.equal(back.batch(range(8)).images, ds.batch(range(8)).images)
    t = ShortcutShapes("test", size=8, image_size=32)
    assert cls.from_spec(t.spec()).mark == "random"
    with pytest.raises(ValueError, match="not a ShortcutShapes spec"):
        ShortcutShapes.from_spec(Shapes("train", size=2, image_size=32).spec())


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"mark": "corner"}, "unknown mark"),
        ({"agreement": 1.5}, "fraction in"),
        ({"agreement": True}, "fraction in"),
        ({"mark": "random", "agreement": 0.9}, "leave it out"),
    ],
)
def test_bad_arguments_are_refused(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        ShortcutShapes("train", size=4, image_size=32, **kwargs)  # type: ignore[arg-type]


def test_the_train_command_trains_on_the_shortcut_and_records_its_splits(tmp_path: Path) -> None:
    from camlib.__main__ import main

    out = tmp_path / "sc.pt"
    argv = "train --dataset shortcut --model gap --train-size 16 --val-size 8 --test-size 8 --epochs 1 --widths 4,8 "
    argv += f"--downsample 2 --image-size 32 --no-progress --out {out}"
    assert main(argv.split()) == 0
    meta = read_checkpoint(out)
    assert meta["dataset"]["name"] == "shortcut"
    test, train = dataset_from_meta(meta, "test"), dataset_from_meta(meta, "train")
    assert (type(test).__name__, test.mark, train.mark, train.agreement) == (
        "ShortcutShapes",
        "random",
        "agree",
        0.9,
    )
    assert repr(test).startswith("ShortcutShapes(split='test'") and "agreement" not in repr(test)
