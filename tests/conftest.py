"""Shared tiny, seeded models and tensors."""

from __future__ import annotations

import os

import pytest
import torch
from hypothesis import settings

os.environ.setdefault("CAMLIB_PROFILE", "fast")

# Property tests draw the same examples in every run (CI must not pass or fail by the draw);
# HYPOTHESIS_PROFILE=explore draws new ones, to look for cases the fixed ones miss.
settings.register_profile("fixed", derandomize=True)
settings.register_profile("explore", derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "fixed"))

from camlib.models import GAPNet, NetConfig  # noqa: E402

TINY = NetConfig(widths=(8, 16), downsample=2)


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)


@pytest.fixture
def tiny_gap() -> GAPNet:
    """A 2-block GAP network (16x16 last map at 32 px), 6 classes, eval mode."""
    torch.manual_seed(0)
    return GAPNet(6, TINY).eval()


@pytest.fixture
def images() -> torch.Tensor:
    """(4, 3, 32, 32) random images in [0, 1]."""
    return torch.rand(4, 3, 32, 32, generator=torch.Generator().manual_seed(1))
