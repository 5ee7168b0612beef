"""Calling the learner's function safely: on copies, with a time limit, and reading what went wrong.

- :func:`clone` copies a case's arguments (tensors, lists, dicts, modules) so that nothing the learner does reaches
  the check's own cases; :func:`unchanged` then says whether the learner changed the copy it was given in place.
- :func:`time_limit` stops a call that runs too long (``signal.setitimer`` on the main thread; elsewhere, e.g. on
  Windows or in a worker thread, there is no limit and the call simply runs).
- :func:`call_learner` runs ``fn(*case)`` and returns a :class:`Call`: the value, or the exception, or "timed out",
  or "not attempted" (a ``NotImplementedError`` raised by the learner's own code, as a stub does).
- :func:`is_stub` reads a function's source: a body that is only ``...`` or ``pass`` is not attempted yet.
- :func:`learner_frame` finds the learner's own line in a traceback (the last frame outside camlib, torch, the
  standard library and installed packages).
"""

from __future__ import annotations

import ast
import copy
import inspect
import signal
import sysconfig
import textwrap
import threading
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

_CAMLIB = str(Path(__file__).resolve().parents[1])
_LIBRARY_DIRS = tuple(
    {
        _CAMLIB,
        str(Path(torch.__file__).resolve().parent),
        *(str(Path(p).resolve()) for k, p in sysconfig.get_paths().items() if k in {"stdlib", "platstdlib"}),
    }
)


class TimeLimitExceeded(BaseException):
    """Raised inside the learner's function when it runs past the time limit (a ``BaseException``, so that an
    ``except Exception`` in the learner's code cannot swallow it)."""


def clone(value: Any) -> Any:
    """A copy of ``value`` that shares no mutable state with it (tensors are cloned, containers copied)."""
    if isinstance(value, Tensor):
        copied = value.detach().clone()
        return copied.requires_grad_(True) if value.requires_grad else copied
    if isinstance(value, (int, float, complex, str, bytes, bool)) or value is None:
        return value
    if isinstance(value, tuple) and not hasattr(value, "_fields"):
        return tuple(clone(v) for v in value)
    if isinstance(value, list):
        return [clone(v) for v in value]
    if isinstance(value, dict):
        return {k: clone(v) for k, v in value.items()}
    try:
        return copy.deepcopy(value)
    except Exception:  # an object that cannot be copied: hand it over as it is
        return value


def unchanged(before: Any, after: Any) -> bool:
    """Whether ``after`` (the copy the learner got) still equals ``before`` (the check's original)."""
    if isinstance(before, Tensor):
        if not isinstance(after, Tensor) or after.shape != before.shape or after.dtype != before.dtype:
            return False
        a, b = before.detach(), after.detach()
        if a.is_floating_point() or a.is_complex():
            return bool(((a == b) | (a.isnan() & b.isnan())).all())
        return bool(torch.equal(a, b))
    if isinstance(before, nn.Module):
        sa, sb = before.state_dict(), after.state_dict() if isinstance(after, nn.Module) else {}
        return sa.keys() == sb.keys() and all(unchanged(sa[k], sb[k]) for k in sa)
    if isinstance(before, (list, tuple)):
        return (
            isinstance(after, type(before))
            and len(after) == len(before)
            and all(unchanged(x, y) for x, y in zip(before, after, strict=True))
        )
    if isinstance(before, dict):
        return (
            isinstance(after, dict)
            and before.keys() == after.keys()
            and all(unchanged(before[k], after[k]) for k in before)
        )
    return True  # numbers, strings and other immutable values cannot be changed in place


def timer_available() -> bool:
    """Whether :func:`time_limit` can stop a call here (a POSIX timer, on the main thread)."""
    return hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()


@contextmanager
def time_limit(seconds: float | None) -> Iterator[None]:
    """Raise :class:`TimeLimitExceeded` in the code under ``with`` after ``seconds``; restores any earlier timer.

    Without a POSIX timer or off the main thread there is no limit (the call runs to its end).
    """
    if seconds is None or seconds <= 0 or not timer_available():
        yield
        return

    def _stop(signum: int, frame: Any) -> None:
        raise TimeLimitExceeded(f"took longer than {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, _stop)
    start = time.monotonic()
    earlier, interval = signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        if earlier > 0:  # someone else's timer was running: give it back what is left (at least a moment)
            left = earlier - (time.monotonic() - start)
            signal.setitimer(signal.ITIMER_REAL, max(left, 1e-3), interval)


def is_library(filename: str) -> bool:
    """Whether a traceback frame's file is camlib, torch, the standard library or an installed package."""
    if filename.startswith("<frozen") or "site-packages" in filename or "dist-packages" in filename:
        return True
    try:
        path = str(Path(filename).resolve())
    except (OSError, ValueError):
        return False
    return path.startswith(_LIBRARY_DIRS)


def learner_frame(exc: BaseException) -> traceback.FrameSummary | None:
    """The last frame of ``exc``'s traceback that is the learner's code (``None`` if there is none)."""
    mine = [f for f in traceback.extract_tb(exc.__traceback__) if not is_library(f.filename)]
    return mine[-1] if mine else None


def is_stub(fn: Callable[..., Any]) -> bool:
    """Whether ``fn``'s body (after its docstring) is only ``...`` or ``pass``: an exercise not attempted yet.

    Functions whose source cannot be read (lambdas, built-ins, code made by ``exec``) are never stubs here; a stub
    that raises ``NotImplementedError`` is recognised when it is called.
    """
    name = getattr(fn, "__name__", "")
    if not name.isidentifier():
        return False
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(fn)))
    except (OSError, TypeError, SyntaxError):
        return False
    node = next(
        (
            n
            for n in ast.walk(tree)
            if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.name == name
        ),
        None,
    )
    if node is None:
        return False
    body = node.body
    if body and isinstance(body[0], ast.Expr) and isinstance(getattr(body[0], "value", None), ast.Constant):
        if isinstance(body[0].value.value, str):  # type: ignore[attr-defined]
            body = body[1:]
    return all(
        isinstance(s, ast.Pass)
        or (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant) and s.value.value is Ellipsis)
        for s in body
    )


@dataclass(frozen=True)
class Call:
    """What happened when the learner's function ran on one case."""

    value: Any = None
    error: Exception | None = None
    timed_out: bool = False
    not_attempted: bool = False
    mutated: tuple[int, ...] = ()  # positions of the arguments the function changed in place


def call_learner(fn: Callable[..., Any], case: Sequence[Any], time_limit_s: float | None) -> Call:
    """Run ``fn`` on a copy of ``case`` under the time limit; never raises for anything the learner's code does."""
    args = [clone(a) for a in case]
    try:
        with time_limit(time_limit_s):
            value = fn(*args)
    except TimeLimitExceeded:
        return Call(timed_out=True)
    except NotImplementedError as exc:
        tb = traceback.extract_tb(exc.__traceback__)
        if tb and not is_library(tb[-1].filename):  # raised by the learner's own code: a stub
            return Call(not_attempted=True)
        return Call(error=exc)
    except Exception as exc:  # the learner's code raised: the runner reports it with the learner's line
        return Call(error=exc)
    if value is Ellipsis:
        return Call(not_attempted=True)
    mutated = tuple(i for i, (a, b) in enumerate(zip(case, args, strict=True)) if not unchanged(a, b))
    return Call(value=value, mutated=mutated)


def argument_names(fn: Callable[..., Any], n: int) -> list[str]:
    """The names of ``fn``'s first ``n`` parameters (``argument 1``, ... where they cannot be read)."""
    try:
        params = [p.name for p in inspect.signature(fn).parameters.values()]
    except (TypeError, ValueError):
        params = []
    return [params[i] if i < len(params) else f"argument {i + 1}" for i in range(n)]


_HINTS: dict[type[BaseException], str] = {
    IndexError: "an index is out of range: check which dim you index along and its size (x.shape)",
    KeyError: "a key is missing: print the dict's keys",
    ZeroDivisionError: "a division by zero: which case can make the denominator 0 (an empty mask, no overlap)?",
    NameError: "a name is not defined: a typo, or a variable of a cell that was not run (define it inside)",
    AttributeError: "this object has no such attribute or method: check its type with type(x)",
    TypeError: "a value has a type this operation does not take: check each argument (tensor, int, tuple)",
    ValueError: "a value this operation refuses: print the values and shapes on that line",
}


def exception_hint(exc: BaseException) -> str:
    """A one-line hint for an exception raised by the learner's code."""
    text = str(exc).lower()
    if isinstance(exc, RuntimeError) and any(w in text for w in ("size", "shape", "dimension", "match")):
        return (
            "the shapes do not fit: print x.shape of each tensor on that line and compare with the docstring"
        )
    for cls, hint in _HINTS.items():
        if isinstance(exc, cls):
            return hint
    return "read the line above: the error happened there, in your code"
