"""Judging a map: deletion / insertion AUC, Average Drop / Increase in Confidence, the pointing game and the
randomisation test, with exact values on hand-built cases.

The hand-built classifier: a 1-channel 2x2 image with pixel sum S in [0, 4] gets the logits
``[log(1 + S), log(5 - S)]``, so the softmax probability of class 0 is exactly ``(1 + S) / 6`` (of class 1,
``(5 - S) / 6``): every curve below is worked out by hand from the pixels removed or inserted.
"""

from __future__ import annotations

import pytest
import scipy.stats
import torch
from torch import Tensor, nn

from camlib.metrics.faithfulness import (
    auc,
    average_drop_increase,
    blurred,
    confidence_change,
    deletion_auc,
    insertion_auc,
    perturbation_curves,
)
from camlib.metrics.pointing import TOLERANCE, pointing_game, pointing_hits
from camlib.metrics.sanity import mean_defined, randomization_scores, randomized_copy, spearman
from camlib.models import GAPNet, NetConfig


class PixelSum(nn.Module):
    """p(class 0) = (1 + S) / 6, p(class 1) = (5 - S) / 6, S = the image's pixel sum."""

    def forward(self, x: Tensor) -> Tensor:
        s = x.flatten(1).sum(1)  # (B,)
        return torch.stack([torch.log1p(s), torch.log(5 - s)], 1)  # (B, 2)


X = torch.tensor([[[[0.1, 0.2], [0.3, 0.4]]]])  # (1, 1, 2, 2), S = 1.0
ZERO = torch.tensor([0])


def curve(*sums: float) -> Tensor:
    return torch.tensor([[(1 + s) / 6 for s in sums]])


@pytest.mark.parametrize(
    ("saliency", "step", "sums"),
    [
        (X[:, 0], 1, (1.0, 0.6, 0.3, 0.1, 0.0)),  # a faithful map: the big pixels go first
        (-X[:, 0], 1, (1.0, 0.9, 0.7, 0.4, 0.0)),  # the reversed map
        (torch.zeros(1, 2, 2), 1, (1.0, 0.9, 0.7, 0.4, 0.0)),  # ties keep the pixel order
        (X[:, 0], 2, (1.0, 0.3, 0.0)),  # two pixels per step
        (X[:, 0], 3, (1.0, 0.1, 0.0)),  # 3, then the last one: ceil(4 / 3) = 2 steps
    ],
)
def test_deletion_curves_by_hand(saliency: Tensor, step: int, sums: tuple[float, ...]) -> None:
    got = perturbation_curves(PixelSum(), X, saliency, ZERO, "deletion", step=step)
    torch.testing.assert_close(got, curve(*sums))
    torch.testing.assert_close(deletion_auc(PixelSum(), X, saliency, ZERO, step=step), auc(curve(*sums)))


def test_deletion_auc_exact_values() -> None:
    good = deletion_auc(PixelSum(), X, X[:, 0], ZERO, step=1)
    bad = deletion_auc(PixelSum(), X, -X[:, 0], ZERO, step=1)
    torch.testing.assert_close(good, torch.tensor([5.5 / 24]))  # (2 + 1.6 + 1.3 + 1.1 + 1 - 1.5) / 6 / 4
    torch.testing.assert_close(bad, torch.tensor([6.5 / 24]))
    assert good < bad  # deletion: lower is better


def test_insertion_exact_values_and_the_blurred_canvas() -> None:
    zeros = torch.zeros_like(X)
    got = perturbation_curves(PixelSum(), X, X[:, 0], ZERO, "insertion", step=1, canvas=zeros)
    torch.testing.assert_close(got, curve(0.0, 0.4, 0.7, 0.9, 1.0))
    torch.testing.assert_close(
        insertion_auc(PixelSum(), X, X[:, 0], ZERO, step=1, canvas=zeros), torch.tensor([6.5 / 24])
    )
    flat = torch.full((1, 1, 2, 2), 0.5)  # a constant image blurs to itself: inserting changes nothing
    torch.testing.assert_close(insertion_auc(PixelSum(), flat, X[:, 0], ZERO, step=1), torch.tensor([3 / 6]))


def test_curves_in_any_batch_size_and_per_image() -> None:
    x = torch.cat([X, X.flip(-1), X * 2])  # (3, 1, 2, 2)
    maps = torch.stack([X[0, 0], -X[0, 0], X[0, 0]])  # (3, 2, 2)
    cls = torch.tensor([0, 1, 0])
    one = perturbation_curves(PixelSum(), x, maps, cls, "deletion", step=1, batch_size=1)
    many = perturbation_curves(PixelSum(), x, maps, cls, "deletion", step=1, batch_size=1000)
    torch.testing.assert_close(one, many)
    alone = perturbation_curves(PixelSum(), x[1:2], maps[1:2], cls[1:2], "deletion", step=1)
    torch.testing.assert_close(one[1:2], alone)
    # image 1, X mirrored ([[.2, .1], [.4, .3]]), loses its pixels in the order 0, 1, 2, 3 (its map is -X); class 1
    torch.testing.assert_close(one[1], torch.tensor([(5 - s) / 6 for s in (1.0, 0.8, 0.7, 0.3, 0.0)]))


def test_auc_and_blur() -> None:
    torch.testing.assert_close(auc(torch.tensor([0.0, 1.0])), torch.tensor(0.5))
    torch.testing.assert_close(auc(torch.tensor([1.0, 1.0, 1.0, 1.0])), torch.tensor(1.0))
    with pytest.raises(ValueError, match="at least 2 points"):
        auc(torch.tensor([1.0]))
    x = torch.zeros(1, 3, 64, 64)
    x[..., 32, 32] = 1.0
    b = blurred(x)  # sigma 5 * 64 / 224 = 1.43: the dot spreads, the mass stays (reflected edges)
    assert b[..., 32, 32].max() < 0.2 and torch.allclose(b.sum(), x.sum(), rtol=1e-4)


def test_average_drop_and_increase_in_confidence_by_hand() -> None:
    x = torch.ones(3, 1, 2, 2)  # S = 4: p(0) = 5/6, p(1) = 1/6
    half = torch.tensor([[1.0, 0.5], [0.0, 0.0]])  # already min-max normalised: S' = 1.5
    maps = torch.stack([half, torch.full((2, 2), 7.0), half])  # a constant map normalises to zeros: S' = 0
    cls = torch.tensor([0, 0, 1])
    drop, increase = confidence_change(PixelSum(), x, maps, cls)
    # (5/6 - 2.5/6) / (5/6) = 0.5; (5/6 - 1/6) / (5/6) = 0.8; class 1 rises from 1/6 to 3.5/6: no drop
    torch.testing.assert_close(drop, torch.tensor([0.5, 0.8, 0.0]))
    assert increase.tolist() == [False, False, True]
    avg_drop, inc = average_drop_increase(PixelSum(), x, maps, cls)
    assert avg_drop == pytest.approx(100 * 1.3 / 3) and inc == pytest.approx(100 / 3)
    shifted = maps + 10  # min-max: only the map's shape counts
    torch.testing.assert_close(confidence_change(PixelSum(), x, shifted, cls)[0], drop)


@pytest.mark.parametrize(
    ("maps", "classes", "kwargs", "match"),
    [
        (torch.zeros(1, 4, 4), ZERO, {}, r"maps must be \(B, H, W\)"),
        (torch.zeros(1, 1, 2, 2), ZERO, {}, r"maps must be \(B, H, W\)"),
        (torch.full((1, 2, 2), float("nan")), ZERO, {}, "NaN"),
        (torch.zeros(1, 2, 2), torch.tensor([0, 1]), {}, "classes must be B = 1"),
        (torch.zeros(1, 2, 2), torch.tensor([0.0]), {}, "integer class"),
        (torch.zeros(1, 2, 2), ZERO, {"step": 0}, "step must be a positive"),
        (torch.zeros(1, 2, 2), ZERO, {"canvas": torch.zeros(1, 3, 2, 2)}, "canvas must have"),
    ],
)
def test_perturbation_errors_name_the_fix(maps: Tensor, classes: Tensor, kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        perturbation_curves(PixelSum(), X, maps, classes, "deletion", **kwargs)
    with pytest.raises(ValueError, match="mode must be"):
        perturbation_curves(PixelSum(), X, X[:, 0], ZERO, "erase")  # type: ignore[arg-type]


def test_the_model_runs_in_eval_mode_and_gets_its_mode_back() -> None:
    torch.manual_seed(0)
    net = GAPNet(6, NetConfig(widths=(4, 8), downsample=2)).train()
    x = torch.rand(2, 3, 16, 16)
    maps, cls = torch.rand(2, 16, 16), torch.tensor([1, 2])
    a = deletion_auc(net, x, maps, cls, step=64)
    b = deletion_auc(net, x[:1], maps[:1], cls[:1], step=64)  # BatchNorm in eval: no mixing of images
    assert net.training and all(m.training for m in net.modules())
    torch.testing.assert_close(a[:1], b)
    assert all(p.grad is None for p in net.parameters())


# --- the pointing game --------------------------------------------------------------------------------------


def peak_at(y: int, x: int, size: int = 64) -> Tensor:
    m = torch.zeros(1, size, size)
    m[0, y, x] = 1.0
    return m


def object_at(y: int, x: int, size: int = 64) -> Tensor:
    mask = torch.zeros(1, size, size, dtype=torch.bool)
    mask[0, y, x] = True
    return mask


def test_pointing_tolerance_scales_with_the_image() -> None:
    tol = TOLERANCE * 64  # 15 * 64 / 224 = 4.29 px at 64 px
    assert tol == pytest.approx(4.2857, abs=1e-4)
    assert pointing_hits(peak_at(20, 20), object_at(20, 24)).tolist() == [True]  # 4 px away
    assert pointing_hits(peak_at(20, 20), object_at(20, 25)).tolist() == [False]  # 5 px
    assert pointing_hits(peak_at(20, 20), object_at(23, 23)).tolist() == [True]  # 4.24 px, diagonally
    assert pointing_hits(peak_at(20, 20), object_at(23, 24)).tolist() == [False]  # 5 px
    assert pointing_hits(peak_at(20, 20), object_at(20, 25), tolerance=5).tolist() == [True]  # <= tolerance
    assert pointing_hits(peak_at(20, 20), object_at(20, 21), tolerance=0).tolist() == [False]
    assert pointing_hits(peak_at(100, 100, 224), object_at(100, 115, 224)).tolist() == [True]  # 15 px at 224


def test_pointing_game_counts_hits_first_maximum_and_constant_maps() -> None:
    maps = torch.cat([peak_at(5, 5), peak_at(60, 60), torch.zeros(1, 64, 64), torch.zeros(1, 64, 64)])
    maps[3, 50, 50] = maps[3, 2, 2] = 1.0  # two maxima: the first in row-major order, (2, 2), counts
    masks = torch.zeros(4, 64, 64, dtype=torch.bool)
    masks[:, :10, :10] = True  # the object covers the top-left corner, where a constant map's argmax is
    assert pointing_hits(maps, masks).tolist() == [True, False, False, True]
    assert pointing_game(maps, masks) == 50.0


@pytest.mark.parametrize(
    ("maps", "masks", "match"),
    [
        (torch.zeros(1, 8, 8), torch.ones(1, 4, 4, dtype=torch.bool), r"\(B, H, W\)"),
        (torch.zeros(1, 8, 8), torch.ones(1, 8, 8), "bool"),
        (torch.zeros(1, 8, 8), torch.zeros(1, 8, 8, dtype=torch.bool), "no object pixel"),
        (torch.full((1, 8, 8), float("nan")), torch.ones(1, 8, 8, dtype=torch.bool), "NaN"),
    ],
)
def test_pointing_errors_name_the_fix(maps: Tensor, masks: Tensor, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        pointing_hits(maps, masks)


# --- the randomisation test ---------------------------------------------------------------------------------


def test_spearman_exact_values_and_against_scipy() -> None:
    a = torch.tensor([[1.0, 2, 3, 4], [1.0, 2, 3, 4], [1.0, 1, 2, 5], [3.0, 3, 3, 3]])
    b = torch.tensor([[2.0, 4, 6, 9], [4.0, 3, 2, 1], [1.0, 2, 3, 4], [1.0, 2, 3, 4]])
    got = spearman(a, b)
    torch.testing.assert_close(got[:2], torch.tensor([1.0, -1.0]))
    # ranks (1.5, 1.5, 3, 4) against (1, 2, 3, 4): cov 4.5 / sqrt(4.5 * 5)
    torch.testing.assert_close(got[2], torch.tensor(4.5 / (4.5 * 5) ** 0.5))
    assert torch.isnan(got[3])  # a constant map has no ranks
    g = torch.Generator().manual_seed(0)
    x, y = torch.rand(5, 7, 7, generator=g).round(decimals=1), torch.rand(5, 7, 7, generator=g)  # with ties
    ref = [scipy.stats.spearmanr(x[i].flatten(), y[i].flatten()).statistic for i in range(5)]
    torch.testing.assert_close(spearman(x, y), torch.tensor(ref, dtype=torch.float32))
    assert mean_defined(got) == (pytest.approx((1 - 1 + 4.5 / (4.5 * 5) ** 0.5) / 3), 3)


def test_randomized_copy_leaves_the_model_and_the_rng_alone() -> None:
    torch.manual_seed(0)
    net = GAPNet(6, NetConfig(widths=(4, 8), downsample=2)).train()
    with torch.no_grad():
        for p in net.parameters():
            p.add_(0.1)  # "trained" weights: none of them at its initial value
        net(torch.rand(4, 3, 16, 16))  # BatchNorm statistics away from 0 / 1
    before = {k: v.clone() for k, v in net.state_dict().items()}
    state = torch.random.get_rng_state()
    new = randomized_copy(net, seed=3)
    assert torch.equal(torch.random.get_rng_state(), state)
    assert all(torch.equal(v, before[k]) for k, v in net.state_dict().items())
    new_state = new.state_dict()
    assert {k for k, v in new_state.items() if not torch.equal(v, before[k])} == set(before)  # every tensor
    assert all(torch.equal(v, randomized_copy(net, seed=3).state_dict()[k]) for k, v in new_state.items())
    assert not torch.equal(randomized_copy(net, seed=4).classifier.weight, new_state["classifier.weight"])
    top = randomized_copy(net, seed=3, top=1)  # the classifier only
    diff = {k for k, v in top.state_dict().items() if not torch.equal(v, before[k])}
    assert diff == {"classifier.weight", "classifier.bias"}
    with pytest.raises(ValueError, match="top must be an integer"):
        randomized_copy(net, top=0)


def test_randomization_scores() -> None:
    torch.manual_seed(0)
    net = GAPNet(6, NetConfig(widths=(4, 8), downsample=2)).eval()
    x = torch.rand(3, 3, 16, 16)
    same = randomization_scores("cam", net, net, x)
    torch.testing.assert_close(same, torch.ones(3))  # the model against itself
    other = randomization_scores("gradcam", net, randomized_copy(net, seed=1), x, classes=[0, 1, 2])
    assert other.shape == (3,) and bool(((other >= -1) & (other <= 1) | other.isnan()).all())
    with pytest.raises(ValueError, match="one class per image"):
        randomization_scores("cam", net, net, x, classes=[[0, 1]])
