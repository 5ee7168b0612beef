"""PxAPMeter's one compiled pass gives exactly the histograms of normalising with torch and binning with
``np.searchsorted`` (what it replaced), values at bin edges and ignored pixels included."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from camlib.cam import normalize
from camlib.metrics import PxAPMeter
from camlib.metrics.pxap import pixel_histograms


def searchsorted_histograms(
    maps: np.ndarray, masks: np.ndarray, ignore: np.ndarray | None, edges: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The previous PxAPMeter.update: torch's min-max normalisation, then two boolean-indexed copies binned
    with ``np.searchsorted``."""
    norm = normalize(torch.from_numpy(maps)).numpy()
    keep = ~ignore if ignore is not None else np.ones_like(masks)

    def hist(v: np.ndarray) -> np.ndarray:
        return np.bincount(np.searchsorted(edges, v, side="right") - 1, minlength=edges.size - 1)

    return hist(norm[masks & keep]), hist(norm[~masks & keep])


@st.composite
def batches(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """(B, H, W) float32 maps (some made of exact bin edges, some constant), masks, ignore masks, a bin width."""
    step = draw(st.sampled_from([0.01, 0.001, 0.003, 0.25]))
    b, h, w = draw(st.integers(1, 4)), draw(st.integers(1, 8)), draw(st.integers(1, 8))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    kind = draw(st.sampled_from(["edges", "levels", "constant"]))
    if kind == "edges":  # values AT the edges (their float32), 0 and 1 included so min-max keeps them
        maps = np.arange(0, 1, step).astype(np.float32)[rng.integers(0, int(1 / step), (b, h, w))]
        maps.reshape(b, -1)[:, :2] = [0.0, 1.0][: h * w]
    elif kind == "levels":
        maps = rng.integers(0, draw(st.integers(1, 50)) + 1, (b, h, w)).astype(np.float32)
    else:
        maps = np.full((b, h, w), draw(st.floats(-3, 3, width=32)), np.float32)
    masks = rng.random((b, h, w)) < 0.5
    masks.flat[0] = True  # PxAP needs a positive pixel
    ignore = (rng.random((b, h, w)) < 0.2) & ~masks
    return maps, masks, ignore, step


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(batch=batches(), use_ignore=st.booleans())
def test_histograms_equal_normalise_then_searchsorted(
    batch: tuple[np.ndarray, np.ndarray, np.ndarray, float], use_ignore: bool
) -> None:
    maps, masks, ignore, step = batch
    meter = PxAPMeter(step)
    meter.update(
        torch.from_numpy(maps), torch.from_numpy(masks), torch.from_numpy(ignore) if use_ignore else None
    )
    want = searchsorted_histograms(maps, masks, ignore if use_ignore else None, meter.edges)
    np.testing.assert_array_equal(meter._pos, want[0])
    np.testing.assert_array_equal(meter._neg, want[1])


def test_edges_must_cover_the_normalised_range() -> None:
    with pytest.raises(ValueError, match="cover"):
        pixel_histograms(np.zeros((1, 2, 2), np.float32), np.ones((1, 2, 2), bool), np.array([0.0, 0.5, 1.0]))
    with pytest.raises(ValueError, match="convention"):
        PxAPMeter(convention="sklearn")
