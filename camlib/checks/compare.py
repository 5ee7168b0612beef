"""How a check compares the learner's result with the reference, and how it describes values in its messages.

Three questions, asked in this order by :func:`camlib.checks.runner.run_check`:

1. :func:`type_problem`: is the result the right *kind* of thing (a tensor where a tensor is asked for, a number
   and not its text, floating-point values where the reference has them)? A wrong kind is never "close enough".
2. :func:`same`: are the values the reference's (tensors with ``allclose``, numbers with a relative tolerance,
   tuples element by element)?
3. :func:`difference`: when they are not, what exactly differs (the shape, NaN where the reference is finite, the
   largest gap and where it is)?

>>> same(torch.tensor([1.0, 2.0]), torch.tensor([1.0, 2.00001]))
True
>>> type_problem("50.0", 50.0)
"returned a str ('50.0'); the exercise asks for a number, not its text: return the value itself"
>>> describe(torch.arange(10.0).view(2, 5))
'a (2, 5) float32 tensor, first values [0, 1, 2, 3, ...]'
>>> describe(torch.tensor([0.5, 2.0]))
'a (2,) float32 tensor = [0.5, 2]'
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np
import torch
from torch import Tensor

RTOL, ATOL = 1e-4, 1e-5


def article(word: str) -> str:
    """``'an int64'``, ``'a float32'``: the word with its indefinite article."""
    return f"an {word}" if word[:1].lower() in "aeiou" else f"a {word}"


def kind(value: Any) -> str:
    """``'a str'``, ``'a numpy.ndarray'``, ``'None'``: the type of ``value`` in words."""
    if value is None:
        return "None"
    cls = type(value)
    name = cls.__name__ if cls.__module__ == "builtins" else f"{cls.__module__.split('.')[0]}.{cls.__name__}"
    return article(name)


def _number(value: Any) -> float | None:
    """``value`` as a float if it is one number (a Python or numpy number, a 1-element tensor), else ``None``."""
    if isinstance(value, bool):
        return None
    if isinstance(value, numbers.Real):
        return float(value)
    if isinstance(value, np.ndarray) and value.size == 1 and value.dtype.kind in "iuf":
        return float(value.reshape(-1)[0])
    if isinstance(value, Tensor) and value.numel() == 1 and not value.dtype.is_complex:
        return float(value.reshape(-1)[0].item())
    return None


def type_problem(got: Any, expected: Any) -> str | None:
    """What is wrong with the *kind* of ``got`` (``None`` if nothing), as the end of "your function ..."."""
    if got is None and expected is not None:
        return "returned None: did you forget the `return`?"
    if isinstance(expected, Tensor):
        if not isinstance(got, Tensor):
            fix = (
                "torch.from_numpy(...) converts a numpy array"
                if isinstance(got, np.ndarray)
                else "torch.tensor(...) or torch.stack(...) builds one"
            )
            return f"returned {kind(got)}; the exercise asks for a torch.Tensor ({fix})"
        if expected.is_floating_point() and not got.is_floating_point():
            return (
                f"returned {article(str(got.dtype).removeprefix('torch.'))} tensor; the exercise asks for floating-point "
                "values (.float() converts)"
            )
        return None
    if isinstance(expected, numbers.Real) and not isinstance(expected, bool):
        if isinstance(got, str):
            return f"returned a str ({got!r}); the exercise asks for a number, not its text: return the value itself"
        if isinstance(got, bool):
            return f"returned a bool ({got}); the exercise asks for a number"
        if isinstance(got, Tensor) and got.numel() != 1:
            return f"returned {describe(got)}; the exercise asks for ONE number"
        if _number(got) is None:
            return f"returned {kind(got)}; the exercise asks for a number"
        return None
    if isinstance(expected, tuple):
        if not isinstance(got, (tuple, list)):
            return f"returned {kind(got)}; the exercise asks for a tuple of {len(expected)}"
        if len(got) != len(expected):
            return f"returned {len(got)} values; the exercise asks for {len(expected)}"
        for i, (g, e) in enumerate(zip(got, expected, strict=True)):
            problem = type_problem(g, e)
            if problem:
                return f"{problem.replace('returned', f'returned, as value {i + 1},', 1)}"
    return None


def same(got: Any, expected: Any) -> bool:
    """Whether ``got`` has ``expected``'s values (call :func:`type_problem` first: kinds are not converted here)."""
    if isinstance(expected, Tensor):
        if not isinstance(got, Tensor) or got.shape != expected.shape:
            return False
        a, b = got.detach().double().cpu(), expected.detach().double().cpu()
        return bool(torch.allclose(a, b, rtol=RTOL, atol=ATOL, equal_nan=True))
    if isinstance(expected, numbers.Real) and not isinstance(expected, bool):
        value = _number(got)
        if value is None:
            return False
        if isinstance(expected, numbers.Integral):
            return value == float(expected)
        if expected != expected:  # NaN
            return value != value
        return abs(value - float(expected)) <= RTOL * max(1.0, abs(float(expected)))
    if isinstance(expected, tuple):
        return (
            isinstance(got, (tuple, list))
            and len(got) == len(expected)
            and all(same(g, e) for g, e in zip(got, expected, strict=True))
        )
    try:
        return bool(got == expected)
    except (RuntimeError, ValueError, TypeError):
        return False


def matches(got: Any, wrong: Any) -> bool:
    """Whether ``got`` is the typical wrong answer ``wrong`` (same kind and same values)."""
    return wrong is not None and type_problem(got, wrong) is None and same(got, wrong)


def _fmt(x: Any) -> str:
    if isinstance(x, list):
        return "[" + ", ".join(_fmt(v) for v in x) + "]"
    if isinstance(x, float):
        return f"{x:.4g}"
    return repr(x)


def describe(value: Any, max_values: int = 8) -> str:
    """A short description of a value: ``'a (2, 2) float32 tensor = [[1, 0], [0, 1]]'``, ``'0.5'``."""
    if isinstance(value, Tensor):
        dtype = str(value.dtype).removeprefix("torch.")
        text = f"a {tuple(value.shape)} {dtype} tensor" if value.dim() else f"a 0-d {dtype} tensor"
        if value.numel() <= max_values:
            text += f" = {_fmt(value.detach().cpu().tolist())}"
        elif max_values >= 8:  # a long tensor: its first values, enough to compare two results at a glance
            first = value.detach().cpu().reshape(-1)[:4].tolist()
            text += f", first values {_fmt(first)[:-1]}, ...]"
        return text
    if isinstance(value, np.ndarray):
        return f"a numpy array of shape {value.shape}"
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, (tuple, list)) and len(value) <= max_values:
        inner = ", ".join(describe(v) for v in value)
        return f"({inner})" if isinstance(value, tuple) else f"[{inner}]"
    if isinstance(value, (int, str, bool)) or value is None:
        return repr(value)
    return kind(value)


def describe_args(names: list[str], case: tuple[Any, ...]) -> str:
    """``'logits: a (4, 6) float32 tensor'``: each argument of a case with its name."""
    return ", ".join(f"{name}: {describe(v, max_values=4)}" for name, v in zip(names, case, strict=False))


def difference(got: Any, expected: Any) -> str:
    """What differs between a wrong result and the reference, in one sentence ('' if nothing precise to say)."""
    if isinstance(expected, Tensor) and isinstance(got, Tensor):
        if got.shape != expected.shape:
            return f"The shape is {tuple(got.shape)} but should be {tuple(expected.shape)}."
        a, b = got.detach().double().cpu(), expected.detach().double().cpu()
        if bool((a.isnan() & ~b.isnan()).any()):
            return "Your result has NaN where the expected values are numbers."
        if bool((a.isinf() & ~b.isinf()).any()):
            return "Your result has inf where the expected values are finite."
        gap = (a - b).abs().nan_to_num(nan=float("inf"))
        where = tuple(int(i) for i in np.unravel_index(int(gap.argmax()), tuple(gap.shape)))
        return f"It differs by up to {float(gap.max()):.4g} (at index {list(where)})." if gap.numel() else ""
    return ""
