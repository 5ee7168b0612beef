"""Shared tiny, seeded models and tensors."""

from __future__ import annotations

import os

import pytest
import torch

os.environ.setdefault("CAMLIB_PROFILE", "fast")

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
