"""The machinery behind the exercise self-checks: run a learner's function on cases, compare, name the mistake.

``run_check`` runs ``fn(*case)`` and ``reference(*case)`` on every case, compares them (tensors with ``allclose``,
floats with a relative tolerance, tuples element-wise), and on the first mismatch looks for the typical wrong
answer (a ``Mistake``) the learner's output equals, so the printed hint names what is wrong. The checks themselves
live in :mod:`camlib.checks.nets` and :mod:`camlib.checks.boxes`; :mod:`camlib.checks` gathers them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor


@dataclass(frozen=True)
class Mistake:
    """A typical wrong answer: how to compute it and the hint shown when the learner's output matches it."""

    compute: Callable[..., Any]
    hint: str


def _same(a: Any, b: Any) -> bool:
    if isinstance(b, Tensor):
        if not isinstance(a, Tensor):
            try:
                a = torch.as_tensor(a, dtype=b.dtype)
            except (TypeError, ValueError, RuntimeError):
                return False
        return a.shape == b.shape and bool(
            torch.allclose(a.double(), b.double(), rtol=1e-4, atol=1e-5, equal_nan=True)
        )
    if isinstance(b, float):
        try:
            return abs(float(a) - b) <= 1e-4 * max(1.0, abs(b))
        except (TypeError, ValueError):
            return False
    if isinstance(b, tuple):
        return (
            isinstance(a, (tuple, list))
            and len(a) == len(b)
            and all(_same(x, y) for x, y in zip(a, b, strict=True))
        )
    return bool(a == b)


def _describe(value: Any) -> str:
    if isinstance(value, Tensor):
        return f"a tensor of shape {tuple(value.shape)}" + (
            f" = {value.tolist()}" if value.numel() <= 8 else ""
        )
    return repr(value)


def run_check(
    name: str,
    fn: Callable[..., Any],
    reference: Callable[..., Any],
    cases: Sequence[tuple[Any, ...]],
    mistakes: Sequence[Mistake] = (),
    verbose: bool = True,
) -> bool:
    """Compare ``fn(*case)`` with ``reference(*case)`` on every case; print a verdict and a hint.

    Returns:
        True when all cases match.
    """
    for i, case in enumerate(cases):
        expected = reference(*case)
        try:
            got = fn(*[c.clone() if isinstance(c, Tensor) else c for c in case])
        except Exception as exc:  # the learner's code raised: show it as a hint, not a traceback
            msg = f"❌ {name}: case {i + 1} raised {type(exc).__name__}: {exc}"
            if verbose:
                print(msg)
            return False
        if _same(got, expected):
            continue
        hint = next((m.hint for m in mistakes if _same(got, m.compute(*case))), None)
        if (
            hint is None
            and isinstance(expected, Tensor)
            and isinstance(got, Tensor)
            and got.shape != expected.shape
        ):
            hint = f"the shape is {tuple(got.shape)} but should be {tuple(expected.shape)}"
        msg = f"❌ {name}: case {i + 1} gave {_describe(got)}, expected {_describe(expected)}."
        if hint:
            msg += f"\n   Hint: {hint}"
        if verbose:
            print(msg)
        return False
    if verbose:
        print(f"✅ {name}: correct on {len(cases)} cases.")
    return True
