"""Levels of a map: how many of the sorted thresholds each value passes, by a lookup table, in compiled code.

Also the cached ``njit`` every metric kernel is compiled with (see :mod:`camlib.metrics.tree` for the cold
start and the cache).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any, TypeVar

import numba
import numpy as np

F = TypeVar("F", bound=Callable[..., Any])

SLOTS_PER_CUT = 4  # lookup-table slots per cut in :func:`quantize` (about one cut per slot)


def njit(fn: F) -> F:
    """``numba.njit(cache=True, nogil=True)``, or uncached (compiled in every process, with a warning naming
    the fix) when neither ``__pycache__`` nor numba's user cache directory can be written."""
    try:
        return numba.njit(cache=True, nogil=True)(fn)  # type: ignore[return-value]
    except RuntimeError:  # numba: "cannot cache function ...: no locator available"
        if not getattr(njit, "warned", False):
            msg = "camlib.metrics: no writable cache directory for numba, so the metric kernels are compiled in "
            warnings.warn(
                msg + "every process (~20 s): set NUMBA_CACHE_DIR to a writable folder", RuntimeWarning, 2
            )
            njit.warned = True  # type: ignore[attr-defined]
        return numba.njit(cache=False, nogil=True)(fn)  # type: ignore[return-value]


@njit
def _slot(v: float | np.floating[Any], lo: float, scale: float, n_slots: int) -> int:
    """Lookup-table slot of ``v``: non-decreasing in ``v``, so the cuts of earlier slots are all below ``v``."""
    j = (np.float64(v) - lo) * scale
    if j <= 0.0:
        return 0
    if j >= n_slots - 1:
        return n_slots - 1
    return int(j)


@njit
def lookup_table(cuts: np.ndarray, starts: np.ndarray) -> tuple[float, float]:
    """Fill ``starts`` ((K + 1,) int64) for :func:`count_le` over the (L,) sorted ``cuts``: ``starts[j]``
    counts the cuts in slots before j. Returns the slot origin and scale."""
    n_slots = starts.size - 1
    lo = np.float64(cuts[0])
    span = np.float64(cuts[-1]) - lo
    scale = n_slots / span if span > 0 else 0.0
    starts[:] = 0
    for c in range(cuts.size):
        starts[_slot(cuts[c], lo, scale, n_slots) + 1] += 1
    for j in range(n_slots):
        starts[j + 1] += starts[j]
    return lo, scale


@njit
def count_le(
    v: float | np.floating[Any], cuts: np.ndarray, starts: np.ndarray, lo: float, scale: float
) -> int:
    """How many ``cuts`` are ``<= v`` (compared in NumPy's promoted dtype), as ``np.searchsorted(cuts, v,
    "right")``: the cuts of earlier slots are all below ``v``, those of ``v``'s slot are compared one by one."""
    i = starts[_slot(v, lo, scale, starts.size - 1)]
    while i < cuts.size and cuts[i] <= v:
        i += 1
    return i


@njit
def level_table(cuts: np.ndarray, starts: np.ndarray) -> tuple[float, float, np.ndarray, int]:
    """:func:`lookup_table` for :func:`quantize_with`, built once per batch: also the cuts followed by one
    +inf (a sentinel no value passes) and the most cuts any slot holds (1 for an even grid)."""
    lo, scale = lookup_table(cuts, starts)
    most = 0
    for j in range(starts.size - 1):
        most = max(most, starts[j + 1] - starts[j])
    padded = np.empty(cuts.size + 1, dtype=cuts.dtype)
    padded[: cuts.size] = cuts
    padded[cuts.size] = np.inf
    return lo, scale, padded, most


@njit
def quantize_with(
    values: np.ndarray,
    table: tuple[float, float, np.ndarray, int],
    starts: np.ndarray,
    out: np.ndarray,
) -> None:
    """:func:`quantize` with a :func:`level_table`: ``count_le`` without its data-dependent loop (a fixed
    ``most`` compare-and-adds per value, which the CPU need not predict: ~2x faster on smooth maps)."""
    lo, scale, padded, most = table
    n_slots = starts.size - 1
    for p in range(values.size):
        v = values[p]
        i = starts[_slot(v, lo, scale, n_slots)]
        for _ in range(most):
            i += padded[i] <= v
        out[p] = i


@njit
def quantize(values: np.ndarray, cuts: np.ndarray, starts: np.ndarray, out: np.ndarray) -> None:
    """``out[p]`` = the number of ``cuts`` <= ``values[p]`` (its level), by a lookup table.

    Args:
        values: (N,) values, the dtype of ``cuts``.
        cuts: (L,) sorted distinct cuts.
        starts: (K + 1,) int64 scratch (K = ``SLOTS_PER_CUT`` * L).
        out: (N,) int32 levels in 0..L.
    """
    quantize_with(values, level_table(cuts, starts), starts, out)
