"""Checks of exercises that act on a model: graded on what the function returns AND on what it leaves behind.

A forward hook that is never removed, a model left in eval mode, BatchNorm statistics updated by a forward pass,
an input network changed in place: none of these shows in the returned value. An :class:`ObservedCheckSpec` wraps
the learner's function (and the reference, and every typical mistake, alike) in an *observer*: it hands the
function private copies of the models of the case, calls it, and returns an observation, a tuple of the value and
plain sentences about the models afterwards (``"hooks left on the model: 1"``). The runner then compares
observations exactly as it compares any result, so each leftover has its own named mistake, and a model changed
in place is named by the observation rather than by the runner's generic message.

>>> from torch import nn
>>> hooks_left(nn.Linear(2, 2))
0
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import torch
from torch import Tensor, nn

from camlib.checks.calling import unchanged
from camlib.checks.runner import TIME_LIMIT_S, CheckResult, CheckSpec, Mistake, run_check

Observer = Callable[[Callable[..., Any], tuple[Any, ...]], tuple[Any, ...]]


def hooks_left(model: nn.Module) -> int:
    """Forward (pre-)hooks registered on ``model`` or any of its submodules."""
    return sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in model.modules())


def changed(before: nn.Module, after: nn.Module) -> bool:
    """Whether ``after`` (a copy of ``before`` that a function worked on) differs in its layers or its state."""
    return repr(before) != repr(after) or not unchanged(before, after)


def shares_parameters(a: nn.Module, b: nn.Module) -> bool:
    """Whether two models hold the same parameter storage (one was built from the other's layers, uncopied)."""
    mine = {p.data_ptr() for p in a.parameters() if p.numel()}
    return any(p.data_ptr() in mine for p in b.parameters() if p.numel())


def mode(model: nn.Module) -> str:
    """``"train"`` or ``"eval"``."""
    return "train" if model.training else "eval"


class NetCase(str):
    """A network of a check's case: its description (what the messages show) and how to build it.

    The model is built once, on first use, under ``torch.random.fork_rng`` (so building it never moves the
    notebook's random state), and kept: observers hand out deep copies of it (:func:`private_copy`), so the kept
    model is also the "before" that a function's copy is compared with. Being a ``str``, a case is described
    and copied by the runner as a short text, not as a 60 MB network.
    """

    _build: Callable[[], nn.Module]
    _model: nn.Module | None

    def __new__(cls, text: str, build: Callable[[], nn.Module]) -> NetCase:
        case = super().__new__(cls, text)
        case._build, case._model = build, None
        return case

    def __deepcopy__(self, memo: dict[int, Any]) -> NetCase:
        return self  # a description: the network behind it is only ever handed out as a private copy

    def __reduce__(self) -> tuple[Any, ...]:
        return NetCase, (str(self), self._build)

    def model(self) -> nn.Module:
        """The network (built on first use; never give it out: give a :func:`private_copy`)."""
        if self._model is None:
            with torch.random.fork_rng(devices=[]):
                self._model = self._build()
        return self._model


class Recipe(str):
    """An object of a check's case made afresh for every call (an optimizer, a gradient scaler): its description,
    which the messages show, and ``make(*args)``, which builds it (an optimizer on the copy of the model)."""

    _make: Callable[..., Any]

    def __new__(cls, text: str, make: Callable[..., Any]) -> Recipe:
        recipe = super().__new__(cls, text)
        recipe._make = make
        return recipe

    def make(self, *args: Any) -> Any:
        """A new object."""
        return self._make(*args)

    def __deepcopy__(self, memo: dict[int, Any]) -> Recipe:
        return self

    def __reduce__(self) -> tuple[Any, ...]:
        return Recipe, (str(self), self._make)


def as_model(value: Any) -> Any:
    """The network of a :class:`NetCase`; any other value as it is."""
    return value.model() if isinstance(value, NetCase) else value


def _key(value: Any) -> Any:
    if isinstance(value, Tensor):
        return (tuple(value.shape), str(value.dtype), hash(value.detach().cpu().numpy().tobytes()))
    return value


def _memoized(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``fn`` remembering its answers by argument values (references and mistakes are deterministic)."""
    answers: dict[Any, Any] = {}

    @functools.wraps(fn)
    def remembered(*args: Any) -> Any:
        key = tuple(_key(a) for a in args)
        if key not in answers:
            answers[key] = fn(*args)
        return answers[key]

    return remembered


def observed(fn: Callable[..., Any], observer: Observer) -> Callable[..., Any]:
    """``fn`` wrapped so that it returns ``observer(fn, args)``; it keeps ``fn``'s name, signature and source."""

    @functools.wraps(fn)
    def watched(*args: Any) -> tuple[Any, ...]:
        return observer(fn, args)

    return watched


@dataclass(frozen=True)
class ObservedCheckSpec(CheckSpec):
    """A :class:`CheckSpec` graded on observations: ``observer(fn, args)`` runs ``fn`` and describes the result.

    ``reference`` and the mistakes' ``compute`` are written like the learner's function (they return the value
    the exercise asks for); the observer is applied to all of them.
    """

    observer: Observer | None = None
    _memo: dict[int, Callable[..., Any]] = field(default_factory=dict, compare=False, repr=False)

    def _remembered(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        """The observed reference or mistake, computed once per case and remembered (the learner's never is)."""
        if id(fn) not in self._memo:
            assert self.observer is not None
            self._memo[id(fn)] = _memoized(observed(fn, self.observer))
        return self._memo[id(fn)]

    def run(
        self, fn: Callable[..., Any], *, verbose: bool = True, time_limit_s: float | None = TIME_LIMIT_S
    ) -> CheckResult:
        """Grade ``fn`` on what it returns and what it leaves behind; print one verdict."""
        if self.observer is None or not callable(fn):
            return super().run(fn, verbose=verbose, time_limit_s=time_limit_s)
        obs = self.observer
        with torch.random.fork_rng(
            devices=[]
        ):  # new layers draw their weights: never from the notebook's stream
            result = run_check(
                self.name,
                observed(fn, obs),
                self._remembered(self.reference),
                self.cases,
                [Mistake(self._remembered(m.compute), m.hint) for m in self.mistakes],
                verbose=False,
                time_limit_s=time_limit_s,
            )
        # the observation's first value is what the function returned: say so without "as value 1"
        result = replace(result, message=result.message.replace("returned, as value 1,", "returned"))
        if verbose:
            print(result.message)
        return result


def detached(value: Any) -> Any:
    """A tensor without its autograd graph (for comparing values); anything else as it is."""
    return value.detach() if isinstance(value, Tensor) else value


def private_copy(model: nn.Module) -> nn.Module:
    """A deep copy of ``model`` for the function to work on (the runner's copy stays as the 'before')."""
    return copy.deepcopy(model)
