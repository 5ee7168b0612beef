"""Hide-and-Seek, CutMix and ADL (camlib.train.wsol): exact values on hand-built inputs, binomial bounds on
seeded draws, training-only behaviour, and the hook in camlib.train.fit."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from camlib.data.shapes import Shapes
from camlib.models import GAPNet, NetConfig
from camlib.train import fit
from camlib.train.wsol import (
    ADL,
    CutMix,
    HideAndSeek,
    adl_drop_mask,
    adl_positions,
    cutmix,
    cutmix_box,
    hide_patches,
    insert_adl,
    mean_colour,
    patch_grid,
)


def binomial_bound(n: int, p: float, sigmas: float = 4.0) -> float:
    """Half-width of a 4-sigma band of a binomial proportion over n draws."""
    return sigmas * math.sqrt(p * (1 - p) / n)


# ---- Hide-and-Seek -------------------------------------------------------------------------------------------
def test_hide_patches_hides_the_requested_fraction_within_the_binomial_bound() -> None:
    g = torch.Generator().manual_seed(0)
    images = torch.rand(200, 3, 64, 64)
    _, hidden = hide_patches(images, 16, 0.5, torch.zeros(3), g)
    n = hidden.numel()  # 200 images x 16 cells
    frac = hidden.float().mean().item()
    assert n == 3200 and abs(frac - 0.5) < binomial_bound(n, 0.5), frac
    _, hidden3 = hide_patches(images, 8, 0.3, torch.zeros(3), torch.Generator().manual_seed(1))
    assert abs(hidden3.float().mean().item() - 0.3) < binomial_bound(hidden3.numel(), 0.3)


def test_hidden_cells_are_filled_with_the_mean_and_the_rest_is_untouched_partial_cells_included() -> None:
    images = torch.rand(4, 3, 60, 50)  # 16-px cells: the last row and column are partial
    before = images.clone()
    fill = torch.tensor([0.1, 0.2, 0.3])
    out, hidden = hide_patches(images, 16, 0.5, fill, torch.Generator().manual_seed(3))
    assert torch.equal(images, before)  # the input is not changed
    assert hidden.shape == (4, *patch_grid((60, 50), 16)) == (4, 4, 4)
    for b in range(4):
        for i in range(4):
            for j in range(4):
                cell = (b, slice(None), slice(16 * i, 16 * i + 16), slice(16 * j, 16 * j + 16))
                if hidden[b, i, j]:
                    assert torch.equal(out[cell], fill.view(3, 1, 1).expand_as(out[cell]))
                else:
                    assert torch.equal(out[cell], images[cell])
    assert 0 < int(hidden.sum()) < hidden.numel()


def test_hide_and_seek_is_seeded_and_never_hides_in_eval_mode() -> None:
    x, y = torch.rand(8, 3, 32, 32), torch.arange(8)
    a = HideAndSeek(torch.zeros(3), patch=8, seed=5)(x, y)[0]
    b = HideAndSeek(torch.zeros(3), patch=8, seed=5)(x, y)[0]
    assert torch.equal(a, b) and not torch.equal(a, x)
    has = HideAndSeek(torch.zeros(3), patch=8, p=1.0).eval()
    out, labels = has(x, y)
    assert out is x and labels is y


@pytest.mark.parametrize(("patch", "p"), [(0, 0.5), (16, 1.5), (16, -0.1)])
def test_hide_and_seek_refuses_bad_settings(patch: int, p: float) -> None:
    with pytest.raises(ValueError, match="patch|probability"):
        HideAndSeek(torch.zeros(3), patch=patch, p=p)


def test_hide_and_seek_refuses_a_fill_that_is_not_one_colour() -> None:
    with pytest.raises(ValueError, match="one RGB colour"):
        HideAndSeek(torch.zeros(3, 2))


def test_mean_colour_is_the_mean_of_the_images() -> None:
    ds = Shapes("train", size=16, image_size=32)
    assert torch.allclose(mean_colour(ds), ds.batch(range(16)).images.mean((0, 2, 3)))


# ---- CutMix -------------------------------------------------------------------------------------------------
def test_cutmix_box_is_clipped_at_the_border() -> None:
    assert cutmix_box((64, 64), 0.75, (32, 32)) == (16, 16, 48, 48)  # sides 32: a quarter of the area
    assert cutmix_box((64, 64), 0.75, (0, 63)) == (0, 47, 16, 64)  # clipped: 16 x 17 px
    assert cutmix_box((64, 64), 1.0, (10, 10)) == (10, 10, 10, 10)  # lambda 1: nothing pasted


def test_cutmix_label_weights_equal_the_pasted_area_ratio() -> None:
    """Image i is the constant i, so the pasted pixels tell which image they came from and how many there are."""
    b, c, side = 8, 8, 32
    images = torch.arange(b, dtype=torch.float32).view(b, 1, 1, 1).expand(b, 3, side, side).contiguous()
    labels = torch.arange(b)
    clipped = 0
    for seed in range(60):
        mixed, targets, (x0, y0, x1, y1) = cutmix(images, labels, c, 1.0, torch.Generator().manual_seed(seed))
        assert torch.equal(
            images, torch.arange(b, dtype=torch.float32).view(b, 1, 1, 1).expand(b, 3, side, side)
        )
        area = (x1 - x0) * (y1 - y0) / side**2
        clipped += int(min(x0, y0) == 0 or max(x1, y1) == side)
        for i in range(b):
            source = int(mixed[i, 0, y0, x0]) if area > 0 else i
            changed = (mixed[i, 0] != i).float().mean().item()
            assert changed == pytest.approx(area if source != i else 0.0)
            expected = torch.zeros(c)
            expected[i] += 1 - area
            expected[source] += area
            assert torch.allclose(targets[i], expected, atol=1e-6), (seed, i)
        assert torch.allclose(targets.sum(1), torch.ones(b))
    assert clipped > 5  # boxes clipped at the border were among the draws


def test_cutmix_module_mixes_in_training_only() -> None:
    x, y = torch.rand(4, 3, 16, 16), torch.tensor([0, 1, 2, 3])
    mixed, t = CutMix(4, seed=0)(x, y)
    assert t.shape == (4, 4) and t.dtype == torch.float32
    out, labels = CutMix(4).eval()(x, y)
    assert out is x and labels is y
    out, labels = CutMix(4, prob=0.0)(x, y)
    assert out is x and labels is y
    with pytest.raises(ValueError, match="alpha"):
        CutMix(4, alpha=0.0)
    with pytest.raises(ValueError, match="prob"):
        CutMix(4, prob=2.0)


# ---- ADL ----------------------------------------------------------------------------------------------------
def hand_built() -> tuple[torch.Tensor, torch.Tensor]:
    """(2, 2, 2, 2) features whose channel means are [[4, 2], [3, 1]] and [[1, 1], [0.5, 2]]."""
    att = torch.tensor([[[4.0, 2.0], [3.0, 1.0]], [[1.0, 1.0], [0.5, 2.0]]])  # (B, h, w)
    x = torch.stack([att + 1, att - 1], 1)  # channel mean = att
    return x, att[:, None]


def test_adl_drop_mask_follows_gamma_per_image() -> None:
    x, att = hand_built()
    assert torch.equal(x.mean(1, keepdim=True), att)
    mask = adl_drop_mask(att, 0.6)  # thresholds 2.4 and 1.2
    assert mask[:, 0].tolist() == [[[0.0, 1.0], [0.0, 1.0]], [[1.0, 1.0], [1.0, 0.0]]]
    assert adl_drop_mask(att, 0.5)[0, 0].tolist() == [[0.0, 0.0], [0.0, 1.0]]  # 2 < 2.0 is False: kept
    out = ADL(drop_rate=1.0, gamma=0.6)(x)
    assert torch.equal(out, x * mask)
    out = ADL(drop_rate=0.0)(x)
    assert torch.allclose(out, x * torch.sigmoid(att))


def test_adl_is_the_identity_in_eval_and_changes_neither_input_nor_mode() -> None:
    x, _ = hand_built()
    before = x.clone()
    adl = ADL(drop_rate=1.0, gamma=0.6)
    adl(x)
    assert torch.equal(x, before) and adl.training
    adl.eval()
    assert adl(x) is x and not adl.training


def test_adl_chooses_the_drop_mask_at_its_drop_rate() -> None:
    adl = ADL(drop_rate=0.75, seed=0)
    x = torch.rand(1, 2, 3, 3)
    drops = 0
    for _ in range(2000):
        adl(x)
        drops += adl.last_choice == "drop"
    assert abs(drops / 2000 - 0.75) < binomial_bound(2000, 0.75)


def test_insert_adl_copies_the_model_and_keeps_its_weights_and_mode() -> None:
    torch.manual_seed(0)
    net = GAPNet(6, NetConfig(widths=(4, 8, 8), downsample=4)).eval()
    assert adl_positions(net.features) == [7, 10]  # after the second pooling and the last ReLU
    new = insert_adl(net)
    assert not new.training and not net.training
    assert not any(isinstance(m, ADL) for m in net.modules())
    assert sum(isinstance(m, ADL) for m in new.modules()) == 2
    assert list(new.state_dict()) == list(net.state_dict())
    x = torch.rand(2, 3, 32, 32)
    assert torch.equal(new(x), net(x))  # identity in eval
    net.train()
    assert insert_adl(net).training
    with pytest.raises(ValueError, match="parameter-free"):
        insert_adl(net, positions=[0])  # a conv
    with pytest.raises(ValueError, match="features"):
        insert_adl(nn.Linear(2, 2))


# ---- the hook in fit ------------------------------------------------------------------------------------------
def test_fit_applies_the_batch_transform_to_training_batches_only() -> None:
    calls: list[int] = []

    def record(images: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        calls.append(len(labels))
        return images, labels

    train, val = Shapes("train", size=20, image_size=32), Shapes("val", size=12, image_size=32)
    net = GAPNet(6, NetConfig(widths=(4, 8), downsample=2))
    fit(net, train, val, epochs=2, batch_size=8, progress=False, batch_transform=record)
    assert calls == [8, 8, 4, 8, 8, 4]  # the training batches of two epochs; validation never


def test_fit_trains_on_cutmix_probability_targets() -> None:
    train = Shapes("train", size=16, image_size=32)
    net = GAPNet(6, NetConfig(widths=(4, 8), downsample=2))
    history = fit(net, train, epochs=1, batch_size=8, progress=False, batch_transform=CutMix(6, seed=0))
    assert math.isfinite(history[0].train_loss)
