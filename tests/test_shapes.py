"""The embedded dataset: determinism, disjoint splits, no colour/position shortcut, exact boxes, knobs."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torchvision.ops import masks_to_boxes

from camlib.data.shapes import PRESETS, Shapes, ShapesConfig, mean_box_size
from camlib.data.shapes.classes import CREATURES
from camlib.data.shapes.draw import fill_rows, pixel_centres, polygon_rows, rotated_ellipse_rows
from camlib.data.shapes.rng import mix32, split_key, uniform

REPO = Path(__file__).resolve().parents[1]
N = 64  # image side used throughout


@pytest.fixture(scope="module")
def test_draw() -> torch.utils.data.Dataset:  # type: ignore[type-arg]
    return Shapes("test", 2000, N).batch(range(2000))


def digest(t: torch.Tensor) -> str:
    return hashlib.sha256(t.contiguous().numpy().tobytes()).hexdigest()


def same_batch(a, b) -> bool:  # noqa: ANN001
    parts = ("images", "labels", "boxes", "masks")
    ok = all(torch.equal(getattr(a, k), getattr(b, k)) for k in parts)
    return ok and torch.equal(torch.nan_to_num(a.part_boxes, -1), torch.nan_to_num(b.part_boxes, -1))


# ---- 1. determinism and disjoint splits ----------------------------------------------------------------------
def test_same_sample_whatever_the_batch_and_instance() -> None:
    ds = Shapes("train", 1000, N, seed=3)
    whole = ds.batch(range(600))  # crosses the internal 256-image chunks
    picked = [5, 255, 256, 257, 599, 17]
    again = Shapes("train", 1000, N, seed=3).batch(picked)
    assert same_batch(again, ds.batch(torch.tensor(picked)))
    for j, i in enumerate(picked):
        s = ds[i]
        assert torch.equal(again.images[j], whole.images[i]) and torch.equal(s.image, whole.images[i])
        assert (
            torch.equal(s.mask, whole.masks[i])
            and torch.equal(s.box, whole.boxes[i])
            and s.label == whole.labels[i]
        )


def test_same_sample_with_other_thread_counts() -> None:
    ds = Shapes("val", 300, N)
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = ds.batch(range(300))
        torch.set_num_threads(2)
        two = ds.batch(range(300))
    finally:
        torch.set_num_threads(threads)
    assert same_batch(one, two)


def test_same_sample_in_another_process() -> None:
    idx = [0, 7, 1234]
    code = (
        "import hashlib, torch; from camlib.data.shapes import Shapes;"
        f"b = Shapes('test', 2000, {N}, seed=11).batch({idx});"
        "print(hashlib.sha256(b.images.numpy().tobytes()).hexdigest(), b.labels.tolist(), b.boxes.tolist())"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True)
    b = Shapes("test", 2000, N, seed=11).batch(idx)
    assert out.stdout.split()[0] == digest(b.images)
    assert out.stdout.strip().endswith(f"{b.labels.tolist()} {b.boxes.tolist()}")


def test_splits_and_seeds_never_share_an_image(test_draw) -> None:  # noqa: ANN001
    seen: dict[str, str] = {}
    draws = {
        "train": Shapes("train", 2500, N).batch(range(2500)),
        "val": Shapes("val", 1000, N).batch(range(1000)),
    }
    draws["test"] = test_draw
    for split, b in draws.items():
        for img in b.images:
            h = digest(img)
            assert h not in seen, f"{split} repeats an image of {seen.get(h)}"
            seen[h] = split
    other_seed = Shapes("train", 50, N, seed=1).batch(range(50)).images
    assert not any(torch.equal(a, b) for a, b in zip(other_seed, draws["train"].images[:50], strict=True))


def test_random_streams_are_bijective_per_stream() -> None:
    assert mix32(torch.arange(200_000)).unique().numel() == 200_000  # the mixer is a bijection
    u = uniform(split_key(0, "train"), torch.arange(1000), [0, 1])
    assert float(u.mean()) == pytest.approx(0.5, abs=0.03) and not torch.equal(u[:, 0], u[:, 1])
    assert mix32(2**32 - 1) == int(mix32(torch.tensor([2**32 - 1]))[0])  # ints and tensors agree


# ---- 2. no shortcut --------------------------------------------------------------------------------------------
def fit_logreg(x: torch.Tensor, y: torch.Tensor, k: int) -> torch.nn.Linear:
    torch.manual_seed(0)
    lin = torch.nn.Linear(x.shape[1], k)
    opt = torch.optim.LBFGS(lin.parameters(), lr=0.5, max_iter=300, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(lin(x), y)
        loss.backward()
        return loss

    opt.step(closure)
    return lin


def colour_and_centroid(images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    mean_colour = images.mean((2, 3))  # (B, 3)
    bright = images.mean(1)  # (B, H, W)
    pos = pixel_centres(images.shape[-1])
    total = bright.sum((1, 2))
    cx = (bright.sum(1) * pos).sum(1) / total  # (B,)
    cy = (bright.sum(2) * pos).sum(1) / total
    return mean_colour, torch.stack([cx, cy], 1)


def standardise(a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    mu, sd = a.mean(0), a.std(0)
    return (a - mu) / sd, (b - mu) / sd


def test_no_colour_or_position_shortcut(test_draw) -> None:  # noqa: ANN001
    train = Shapes("train", 2000, N, seed=5).batch(range(2000))  # a separate draw to fit the regressions
    k = len(CREATURES)
    chance = 1 / k
    fit_feats, eval_feats = colour_and_centroid(train.images), colour_and_centroid(test_draw.images)
    for name, a, b in zip(("mean colour", "brightness centroid"), fit_feats, eval_feats, strict=True):
        a, b = standardise(a, b)
        lin = fit_logreg(a, train.labels, k)
        acc = float((lin(b).argmax(1) == test_draw.labels).float().mean())
        assert acc < 1.5 * chance, f"{name} predicts the class: {acc:.3f} vs chance {chance:.3f}"
    # positive control: the same regression does find a real colour cue
    tint = torch.randn(k, 3, generator=torch.Generator().manual_seed(0)) * 0.05  # a colour cast per class
    a, b = standardise(fit_feats[0] + tint[train.labels], eval_feats[0] + tint[test_draw.labels])
    assert (
        float((fit_logreg(a, train.labels, k)(b).argmax(1) == test_draw.labels).float().mean()) > 1.5 * chance
    )


# ---- 3. boxes, masks, parts -------------------------------------------------------------------------------------
def test_boxes_are_the_masks_extent_and_parts_lie_inside(test_draw) -> None:  # noqa: ANN001
    b = test_draw
    n = 1000
    ref = masks_to_boxes(b.masks[:n]) + torch.tensor([0.0, 0.0, 1.0, 1.0])  # inclusive -> exclusive
    assert torch.equal(ref, b.boxes[:n])
    assert b.images.dtype == torch.float32 and b.masks.dtype == torch.bool and b.boxes.dtype == torch.float32
    assert float(b.images.min()) >= 0 and float(b.images.max()) <= 1
    has_part = ~torch.isnan(b.part_boxes[:n, 0])
    with_parts = {i for i, c in enumerate(CREATURES) if c.part_name}
    assert len(with_parts) >= 2
    assert torch.equal(has_part, torch.tensor([int(y) in with_parts for y in b.labels[:n]]))
    p, o = b.part_boxes[:n][has_part], b.boxes[:n][has_part]
    assert bool(((p[:, :2] >= o[:, :2]) & (p[:, 2:] <= o[:, 2:]) & (p[:, 2:] > p[:, :2])).all())
    # the object's pixels inside the part box bound the part's area from above
    for i in has_part.nonzero()[:, 0].tolist():
        x1, y1, x2, y2 = (int(v) for v in b.part_boxes[i])
        assert int(b.masks[i, y1:y2, x1:x2].sum()) <= 0.25 * int(b.masks[i].sum()), (
            f"part of sample {i} too big"
        )


def test_classes_are_balanced_and_labels_are_cheap() -> None:
    ds = Shapes("train", 6000, N)
    labels = ds.labels()
    assert ds.num_classes == len(ds.class_names) >= 6
    counts = torch.bincount(labels, minlength=ds.num_classes)
    assert int(counts.min()) > 0.8 * 6000 / ds.num_classes
    assert torch.equal(labels[:50], ds.batch(range(50)).labels)


def test_classes_differ_only_by_a_small_part() -> None:
    by_name = {c.name: c for c in CREATURES}
    for twin, base in (("firefly", "beetle"), ("shark", "fish")):
        extra = [p for p in by_name[twin].parts if p not in by_name[base].parts]
        assert [p.discriminative for p in extra] == [True]


# ---- 4. knobs, spec, errors ------------------------------------------------------------------------------------
@pytest.mark.parametrize("scale", [(0.3, 0.35), (0.55, 0.65)])
def test_scale_range_bounds_the_box_size(scale: tuple[float, float]) -> None:
    b = Shapes("val", 300, N, config=ShapesConfig(scale_range=scale)).batch(range(300))
    longer = (b.boxes[:, 2:] - b.boxes[:, :2]).max(1).values
    assert float(longer.min()) >= scale[0] * N - 2 and float(longer.max()) <= scale[1] * N + 1


def jumps(b) -> torch.Tensor:  # noqa: ANN001
    """Colour jumps between horizontal neighbours that are both background."""
    both = ~b.masks[:, :, 1:] & ~b.masks[:, :, :-1]  # (B, H, W-1)
    return (b.images[..., 1:] - b.images[..., :-1]).abs().amax(1)[both]  # (n,)


def test_clutter_and_distractors_only_touch_the_background() -> None:
    idx = range(200)
    plain = Shapes("val", 200, N, config=ShapesConfig(clutter=0)).batch(idx)
    busy = Shapes("val", 200, N, config=ShapesConfig(clutter=8)).batch(idx)
    carts = Shapes("val", 200, N, config=ShapesConfig(clutter=0, distractors=2)).batch(idx)
    for other in (busy, carts):  # the creature and its ground truth do not depend on the knobs
        assert torch.equal(other.masks, plain.masks) and torch.equal(other.labels, plain.labels)
        assert torch.equal(other.images * other.masks[:, None], plain.images * plain.masks[:, None])
    for other in (busy, carts):
        changed = (other.images != plain.images).any(1)  # (B, H, W)
        assert not bool((changed & plain.masks).any())  # nothing drawn over the creature
        assert float(changed.float().mean()) > 0.05  # clutter / distractor pixels outside the mask
    # clutter=0: a smooth textured background (no sharp edge, but not a flat colour); clutter has sharp edges
    assert float(jumps(plain).max()) < 0.2 and float((jumps(busy) > 0.2).float().mean()) > 0.01
    assert float(plain.images.std((2, 3)).min()) > 0.01


def test_spec_round_trips_through_json() -> None:
    ds = Shapes("test", 40, 48, seed=9, config=PRESETS["hard"])
    spec = json.loads(json.dumps(ds.spec()))
    again = Shapes.from_spec(spec)
    assert again.spec() == ds.spec() and again.config == ds.config
    assert same_batch(again.batch(range(40)), ds.batch(range(40)))


def test_defaults_come_from_the_profile(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CAMLIB_PROFILE", "fast")
    ds = Shapes("val")
    assert (len(ds), ds.image_size) == (1000, 64)


@pytest.mark.parametrize(
    ("kwargs", "fix"),
    [
        ({"split": "validation"}, "use one of"),
        ({"image_size": 16}, "image_size=64"),
        ({"size": -1}, "non-negative"),
        ({"seed": -3}, "non-negative"),
        ({"config": {"clutter": 2}}, "ShapesConfig"),
    ],
)
def test_bad_arguments_name_the_fix(kwargs: dict, fix: str) -> None:
    args = {"split": "train", "size": 10, "image_size": N} | kwargs
    with pytest.raises(ValueError, match=fix):
        Shapes(**args)


@pytest.mark.parametrize(
    ("kwargs", "fix"),
    [
        ({"scale_range": (0.7, 0.3)}, r"scale_range=\(0.3, 0.65\)"),
        ({"clutter": -1}, "between"),
        ({"distractors": 9}, "0 to"),
    ],
)
def test_bad_config_names_the_fix(kwargs: dict, fix: str) -> None:
    with pytest.raises(ValueError, match=fix):
        ShapesConfig(**kwargs)


def test_indexing() -> None:
    ds = Shapes("val", 70, N)
    b = ds.batch(range(70))
    assert torch.equal(ds[-1].image, b.images[69])
    assert all(
        torch.equal(ds[i].image, b.images[i]) for i in range(70)
    )  # sequential reads use the chunk cache
    with pytest.raises(IndexError, match="out of range"):
        ds[70]
    with pytest.raises(IndexError, match="out of range"):
        ds.batch([0, 70])
    assert ds.batch([]).images.shape == (0, 3, N, N)
    ds[5].image.zero_()  # a sample is a copy: editing it leaves the cache alone
    assert torch.equal(ds[5].image, b.images[5])
    wh = b.boxes[:, 2:] - b.boxes[:, :2]
    assert mean_box_size(ds, n=70) == pytest.approx((float(wh[:, 0].mean()), float(wh[:, 1].mean())))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_gpu_generation_matches_cpu() -> None:
    ds = Shapes("train", 500, N)
    assert same_batch(ds.batch(range(500), device="cuda").to("cpu"), ds.batch(range(500)))


# ---- rasterising against direct per-pixel references ------------------------------------------------------------
finite = st.floats(-20, 90, allow_nan=False, width=32)


@settings(max_examples=60, deadline=None)
@given(lo=finite, hi=finite)
def test_fill_rows_is_the_interval_test(lo: float, hi: float) -> None:
    x = pixel_centres(N)
    got = fill_rows(torch.tensor([lo]), torch.tensor([hi]), N)[0].bool()
    assert torch.equal(got, (x >= lo) & (x <= hi))


@settings(max_examples=40, deadline=None)
@given(
    cx=st.floats(0, 64),
    cy=st.floats(0, 64),
    ra=st.floats(1, 30),
    rb=st.floats(1, 30),
    angle=st.floats(0, 3.14),
)
def test_rotated_ellipse_rows_match_the_implicit_equation(
    cx: float, cy: float, ra: float, rb: float, angle: float
) -> None:
    c, s = torch.tensor(angle).cos(), torch.tensor(angle).sin()
    y = pixel_centres(N)
    lo, hi = rotated_ellipse_rows(y, *(torch.tensor(v) for v in (cx, cy, ra, rb)), c, s)
    mask = fill_rows(lo, hi, N).bool()  # (H, W)
    xx, yy = pixel_centres(N)[None, :].double() - cx, y[:, None].double() - cy
    q = ((xx * c + yy * s) / ra) ** 2 + ((-xx * s + yy * c) / rb) ** 2  # (H, W)
    clear = (q - 1).abs() > 1e-3  # away from the outline, where float32 rounding cannot matter
    assert torch.equal(mask[clear], (q <= 1)[clear])


def test_polygon_rows_match_the_half_planes() -> None:
    tri = ((-1.0, -0.6), (-1.0, 0.6), (-0.5, 0.0))
    v = torch.linspace(-0.8, 0.8, 17)
    lo, hi = polygon_rows(v, tri)
    inside = v.abs() <= 0.6
    assert torch.equal(lo > hi, ~inside)
    assert torch.allclose(hi[inside], -0.5 - (v[inside].abs() / 0.6) * 0.5)
    assert torch.equal(polygon_rows(v, tri[::-1])[1], hi)  # either winding
