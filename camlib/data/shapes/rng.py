"""Counter-based random numbers for the synthetic dataset: every draw is a pure function of its coordinates.

A sample's parameters come from ``uniform(key, index, streams)``: hashing ``(seed, split, index, stream)`` with
an integer mixer instead of advancing a generator. So a sample is the same whatever batch it is generated in,
in any process and on any device, and adding a stream (e.g. more clutter items) leaves the other draws alone.
All arithmetic is on 32-bit values held in int64 tensors, so no product overflows.
"""

from __future__ import annotations

from typing import TypeVar

import torch
from torch import Tensor

M32 = 0xFFFFFFFF
_GOLDEN = 0x9E3779B9
SPLIT_SALTS = {"train": 0x243F6A88, "val": 0x85A308D3, "test": 0x13198A2E}

IntOrTensor = TypeVar("IntOrTensor", int, Tensor)


def _mulmod32(x: IntOrTensor, c: int) -> IntOrTensor:
    """``x * c mod 2**32`` for 32-bit ``x`` without int64 overflow (the product is split into 16-bit halves)."""
    return (x * (c & 0xFFFF) + (((x * (c >> 16)) & 0xFFFF) << 16)) & M32


def mix32(x: IntOrTensor) -> IntOrTensor:
    """A bijective 32-bit integer mixer (Wellons' ``lowbias32``), on Python ints or int64 tensors.

    >>> mix32(0), mix32(1)
    (0, 1753845952)
    >>> mix32(torch.tensor([0, 1])).tolist()
    [0, 1753845952]
    """
    x = x ^ (x >> 16)
    x = _mulmod32(x, 0x7FEB352D)
    x = x ^ (x >> 15)
    x = _mulmod32(x, 0x846CA68B)
    return x ^ (x >> 16)


def split_key(seed: int, split: str) -> int:
    """The 32-bit key of one split of one seed (distinct splits give independent streams)."""
    if seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed}")
    k = mix32((seed & M32) ^ 0x5BD1E995)
    k = mix32(k ^ ((seed >> 32) & M32))
    return mix32(k ^ SPLIT_SALTS[split])


def uniform(key: int, index: Tensor, streams: Tensor | list[int]) -> Tensor:
    """Uniform floats in [0, 1) for every (sample, stream) pair.

    For a fixed stream the map ``index -> value`` is a bijection of 32-bit integers (distinct indices never
    share a draw); different splits use different ``key`` s, so their draws are unrelated.

    Args:
        key: from :func:`split_key`.
        index: (B,) int64 sample indices, ``0 <= index < 2**32``.
        streams: (S,) stream ids.

    Returns:
        (B, S) float32 on ``index.device``, multiples of 2**-24.

    >>> u = uniform(split_key(0, "train"), torch.arange(3), [0, 1])
    >>> u.shape, bool(((u >= 0) & (u < 1)).all())
    (torch.Size([3, 2]), True)
    >>> torch.equal(u[1:], uniform(split_key(0, "train"), torch.tensor([1, 2]), [0, 1]))
    True
    """
    s = torch.as_tensor(streams, dtype=torch.int64, device=index.device)  # (S,)
    salt = mix32(key ^ _mulmod32(s + 1, _GOLDEN))  # (S,)
    offset = mix32(salt ^ 0x68E31DA4)  # (S,)
    h = mix32((mix32(index.to(torch.int64)[:, None] ^ salt) + offset) & M32)  # (B, S)
    return (h >> 8).to(torch.float32) * 2.0**-24


def randint(u: Tensor, n: int | Tensor) -> Tensor:
    """Integers uniform in ``0..n-1`` from uniforms ``u`` in [0, 1) (``n`` may be a tensor broadcast with ``u``).

    >>> randint(torch.tensor([0.0, 0.5, 0.999]), 4).tolist()
    [0, 2, 3]
    """
    k = (u * n).floor().to(torch.int64)
    return torch.minimum(k, torch.as_tensor(n, device=u.device) - 1)  # guard against rounding up to n
