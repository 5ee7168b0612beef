"""The machinery behind the exercise self-checks: run a learner's function on cases, compare, name the mistake.

A check is a :class:`CheckSpec`: a reference function, a few cases (edge cases included) and the typical wrong
answers of the exercise (:class:`Mistake`: how to compute one, and the message that names it). :func:`run_check`
grades a learner's function against it and prints ONE verdict:

- ✅ correct on every case;
- ⏳ not attempted yet (the body is still ``raise NotImplementedError``, ``...`` or ``pass``, or it returns
  ``...``): where to write and where the hints are; nothing is wrong, the notebook goes on;
- ❌ wrong: the first case that fails, and the named mistake when the result equals a typical wrong answer, or a
  precise description (the wrong kind of result, the shape, NaN, the largest difference and where);
- ❌ wrong, too, when the function changed one of its arguments in place (the argument is named);
- ❌ error: the function raised (the learner's own line that failed, the exception, a hint; never a traceback from
  inside camlib), or ran past the time limit (10 s per case by default).

Every call gets fresh copies of the case's arguments, so a check never changes its cases or the learner's tensors.
The result is a :class:`CheckResult`, true only when correct. The checks themselves live in
:mod:`camlib.checks.nets` and :mod:`camlib.checks.boxes`; :mod:`camlib.checks` gathers them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from camlib.checks.calling import (
    Call,
    argument_names,
    call_learner,
    clone,
    exception_hint,
    is_stub,
    learner_frame,
)
from camlib.checks.compare import describe, describe_args, difference, matches, same, type_problem

Status = Literal["correct", "wrong", "not attempted", "error"]
TIME_LIMIT_S = 10.0


@dataclass(frozen=True)
class Mistake:
    """A typical wrong answer: how to compute it and the hint shown when the learner's output matches it."""

    compute: Callable[..., Any]
    hint: str


@dataclass(frozen=True)
class CheckResult:
    """The verdict of one check: ``status`` is ``"correct"``, ``"wrong"``, ``"not attempted"`` or ``"error"``.

    True only when correct (``if check_gap(my_gap): ...``). The message was printed when the check ran; in a
    notebook the result displays nothing more, so a check cell shows its verdict once (``print(result)`` shows it
    again).
    """

    name: str
    status: Status
    message: str
    cases: int = 0  # cases the function got right

    def __bool__(self) -> bool:
        return self.status == "correct"

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return f"CheckResult({self.name!r}, {self.status!r})"

    def _ipython_display_(self) -> None:
        """Show nothing: the verdict was printed once when the check ran."""


@dataclass(frozen=True)
class CheckSpec:
    """One exercise's self-check: the reference, the cases (argument tuples) and the typical mistakes."""

    name: str
    reference: Callable[..., Any]
    cases: Sequence[tuple[Any, ...]]
    mistakes: Sequence[Mistake] = ()

    def run(
        self, fn: Callable[..., Any], *, verbose: bool = True, time_limit_s: float | None = TIME_LIMIT_S
    ) -> CheckResult:
        """Grade ``fn`` (see :func:`run_check`)."""
        return run_check(
            self.name,
            fn,
            self.reference,
            self.cases,
            self.mistakes,
            verbose=verbose,
            time_limit_s=time_limit_s,
        )


def run_check(
    name: str,
    fn: Callable[..., Any],
    reference: Callable[..., Any],
    cases: Sequence[tuple[Any, ...]],
    mistakes: Sequence[Mistake] = (),
    *,
    verbose: bool = True,
    time_limit_s: float | None = TIME_LIMIT_S,
) -> CheckResult:
    """Compare ``fn(*case)`` with ``reference(*case)`` on every case; print one verdict; return it.

    Args:
        name: the check's name, printed first (``"check_gap"``).
        fn: the learner's function.
        reference: the right answer, called on its own copy of each case.
        cases: tuples of arguments; never changed (every call gets copies).
        mistakes: typical wrong answers, tried in order on the first case that fails.
        verbose: print the verdict (tests pass ``False`` and read ``result.message``).
        time_limit_s: seconds per case before the call is stopped (``None``: no limit). Needs a POSIX timer on
            the main thread; elsewhere the call runs without a limit.

    Returns:
        A :class:`CheckResult`, true only when every case is right.
    """
    result = _grade(name, fn, reference, cases, mistakes, time_limit_s)
    if verbose:
        print(result.message)
    return result


def _grade(
    name: str,
    fn: Callable[..., Any],
    reference: Callable[..., Any],
    cases: Sequence[tuple[Any, ...]],
    mistakes: Sequence[Mistake],
    time_limit_s: float | None,
) -> CheckResult:
    if not callable(fn):
        return CheckResult(
            name,
            "error",
            f"❌ {name}: expected your function, got {describe(fn)}. Pass the function itself, without "
            f"calling it: {name}(my_function), not {name}(my_function(...)).",
        )
    fname = getattr(fn, "__name__", "your function")
    if is_stub(fn):
        return _not_attempted(name, fname)
    for i, case in enumerate(cases):
        names = argument_names(fn, len(case))
        where = f"case {i + 1} of {len(cases)} ({describe_args(names, case)})"
        expected = reference(*clone(case))
        call = call_learner(fn, case, time_limit_s)
        verdict = _verdict(name, fname, call, names, where, expected, case, mistakes, time_limit_s)
        if verdict is not None:
            return CheckResult(verdict[0], verdict[1], verdict[2], i)
    return CheckResult(name, "correct", f"✅ {name}: correct on {len(cases)} cases.", len(cases))


def _not_attempted(name: str, fname: str) -> CheckResult:
    return CheckResult(
        name,
        "not attempted",
        f"⏳ {name}: not attempted yet: write the body of {fname}() above — hints are in the cell under the "
        "exercise.",
    )


def _verdict(
    name: str,
    fname: str,
    call: Call,
    names: list[str],
    where: str,
    expected: Any,
    case: tuple[Any, ...],
    mistakes: Sequence[Mistake],
    time_limit_s: float | None,
) -> tuple[str, Status, str] | None:
    """``(name, status, message)`` when this case is not right, ``None`` when it is."""
    if call.not_attempted:
        return name, "not attempted", _not_attempted(name, fname).message
    if call.timed_out:
        return (
            name,
            "error",
            (
                f"❌ {name}: {fname}() took longer than {time_limit_s:g} s on {where} and was stopped.\n"
                "   Hint: look for a loop that never ends (a `while` whose condition never changes)."
            ),
        )
    if call.error is not None:
        return name, "error", _error_message(name, fname, call.error, where)
    if call.mutated:
        arg = names[call.mutated[0]]
        return (
            name,
            "wrong",
            (
                f"❌ {name}: {fname}() changed its argument `{arg}` in place on {where}.\n"
                f"   Hint: a function should not change what it is given: work on a copy ({arg} = {arg}.clone()) or "
                "use operations that return a new tensor (x = x - m, not x -= m or x.sub_(m))."
            ),
        )
    problem = type_problem(call.value, expected)
    if problem is None and same(call.value, expected):
        return None
    hint = next((m.hint for m in mistakes if matches(call.value, _safely(m.compute, case))), None)
    if problem is not None and hint is None:
        end = "" if problem.endswith(("?", ".")) else "."
        return name, "wrong", f"❌ {name}: on {where}, {fname}() {problem}{end}"
    lines = [f"❌ {name}: wrong result on {where}."]
    if hint is not None:
        lines.append(f"   Mistake: {hint}")
    lines.append(f"   yours:    {describe(call.value)}")
    lines.append(f"   expected: {describe(expected)}")
    detail = difference(call.value, expected) if hint is None else ""
    if detail:
        lines.append(f"   {detail}")
    return name, "wrong", "\n".join(lines)


def _safely(compute: Callable[..., Any], case: tuple[Any, ...]) -> Any:
    """A mistake's answer on a copy of the case (``None`` if that mistake does not apply to it)."""
    try:
        return compute(*clone(case))
    except Exception:  # a wrong answer that cannot be computed on this case simply does not match
        return None


def _error_message(name: str, fname: str, exc: Exception, where: str) -> str:
    frame = learner_frame(exc)
    lines = [f"❌ {name}: {fname}() raised {type(exc).__name__} on {where}:"]
    if frame is not None:
        text = (frame.line or "").strip()
        lines.append(f"   line {frame.lineno}, in {frame.name}" + (f": {text}" if text else ""))
    lines.append(f"   {type(exc).__name__}: {exc}" if str(exc) else f"   {type(exc).__name__}")
    lines.append(f"   Hint: {exception_hint(exc)}.")
    return "\n".join(lines)
