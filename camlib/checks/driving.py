"""Exercise self-checks that drive the explorer: the learner's function gets ``show`` and asks it questions.

In notebook 06 the learner passes the app's own ``app.show``; here the check passes a stand-in,
:class:`ExplorerShow`, that answers like the app (``show(index=i, norm="max" | "minmax" | "raw")`` returns a state
whose ``panels[0].box`` is the box at the current tau) from maps of its own, computed with :mod:`camlib.boxes` and
:func:`camlib.cam.normalize`. So what the learner wrote against the app is graded on cases with a known answer.

- ``check_first_disagreement``: the first image where the ÷ max box (the paper's rule) and the min–max box
  (Choe et al.'s) differ.

``SPECS`` lists the checks for :data:`camlib.checks.CATALOGUE`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from camlib.boxes import largest_component_box
from camlib.cam import normalize
from camlib.checks.runner import CheckResult, CheckSpec, Mistake

Box = tuple[float, float, float, float]


@dataclass(frozen=True)
class ShownPanel:
    """One model's panel, as the explorer's ``state.panels[k]``: its name and its box (XYXY, exclusive edges)."""

    name: str
    box: Box


@dataclass(frozen=True)
class ShownState:
    """What the stand-in shows, as the explorer's ``state``: the image, the normalisation, tau and the panels."""

    index: int
    norm: str
    tau: float
    panels: tuple[ShownPanel, ...]


class ExplorerShow:
    """A stand-in for ``app.show``: ``show(index=i, norm=...)`` sets the controls and returns the state shown.

    Args:
        maps: ``{dataset index: (H, W) raw map}``, the map of the class shown on each image.
        tau: the box threshold (the app's slider).

    Like the app, it keeps the last value of each control it was given (``norm`` stays until changed), accepts the
    app's older names (``rule="max" | "minmax"``, ``normalised=False`` for raw) and ignores the controls it does
    not model; an index it does not hold raises ``KeyError`` (the app would show the nearest image instead).
    """

    def __init__(self, maps: dict[int, Tensor], tau: float = 0.2) -> None:
        self.maps, self.tau, self.index, self.norm = maps, tau, next(iter(maps)), "max"
        self.calls = 0

    def __call__(
        self,
        index: int | None = None,
        cls: int | None = None,
        tau: float | None = None,
        *,
        norm: str | None = None,
        rule: str | None = None,
        normalised: bool | None = None,
        **others: object,
    ) -> ShownState:
        self.calls += 1
        if index is not None:
            if index not in self.maps:
                raise KeyError(f"image {index} is not in the explorer (images {sorted(self.maps)})")
            self.index = index
        self.tau = self.tau if tau is None else float(tau)
        picked = norm if norm is not None else rule if rule is not None else None
        if normalised is False:
            picked = "raw"
        if picked is not None:
            if picked not in ("raw", "max", "minmax"):
                raise ValueError(f"unknown normalisation {picked!r}: use 'raw', 'max' or 'minmax'")
            self.norm = picked
        box = _box(self.maps[self.index], self.norm, self.tau)
        return ShownState(self.index, self.norm, self.tau, (ShownPanel("GAP", box),))

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, ExplorerShow)
            and self.maps.keys() == other.maps.keys()
            and all(torch.equal(self.maps[k], other.maps[k]) for k in self.maps)
        )

    __hash__ = None  # type: ignore[assignment]  # mutable (it keeps its controls)

    def __repr__(self) -> str:
        return f"the explorer's show (images {sorted(self.maps)})"


def _box(raw: Tensor, norm: str, tau: float) -> Box:
    """The box the app draws: ÷ max and raw keep ``m >= tau * max`` (the same box), min–max ``>= min + tau span``."""
    shown = normalize(raw, "minmax") if norm == "minmax" else raw
    b = largest_component_box(shown, tau)
    return (float(b[0]), float(b[1]), float(b[2]), float(b[3]))


def _first(
    show: ExplorerShow, indices: Sequence[int], a: str = "max", b: str = "minmax", last: bool = False
) -> int:
    found = [i for i in indices if _box(show.maps[i], a, show.tau) != _box(show.maps[i], b, show.tau)]
    return (found[-1] if last else found[0]) if found else -1


def _disagreement_cases() -> list[tuple[ExplorerShow, list[int]]]:
    def image(background: float, halo: float, at: int) -> Tensor:
        m = torch.full((12, 12), background)  # (12, 12)
        m[at - 1 : at + 5, at - 1 : at + 5] = halo  # a ring of weak evidence around the object
        m[at : at + 4, at : at + 4] = 1.0  # the object
        return m

    # background 0, halo 0.1: both rules keep only the object (0.2 * 1 = 0 + 0.2 * (1 - 0)): the same box.
    # background -1, halo -0.5: the paper's rule keeps m >= 0.2, the object; min-max keeps m >= -0.6, the halo too.
    same = {i: image(0.0, 0.1, 2 + i % 5) for i in (0, 1, 12)}
    differ = {i: image(-1.0, -0.5, 1 + i % 5) for i in (5, 9, 20)}
    maps = {k: (same | differ)[k] for k in sorted(same | differ)}
    return [
        (ExplorerShow(maps), [12, 5, 9, 20]),
        (ExplorerShow(maps), [0, 20, 1, 9]),
        (ExplorerShow(maps), [0, 1, 12]),
    ]


FIRST_DISAGREEMENT = CheckSpec(
    "check_first_disagreement",
    _first,
    _disagreement_cases(),
    [
        Mistake(
            lambda s, i: _first(s, i, "raw", "max"),
            "raw and ÷ max give the SAME box (both keep m >= tau * max): compare ÷ max ('max') with min–max "
            "('minmax')",
        ),
        Mistake(
            lambda s, i: _first(s, i, last=True),
            "return the FIRST index (in the order of `indices`) where the boxes differ: stop at the first one",
        ),
        Mistake(
            lambda s, i: list(i).index(_first(s, i)) if _first(s, i) in i else -1,
            "return the image's index (indices[k]), not its position k in the list",
        ),
    ],
)


def check_first_disagreement(fn: Callable[[ExplorerShow, Sequence[int]], int]) -> CheckResult:
    """Exercise (driving the app): ``fn(show, indices) -> index``: the first of ``indices`` whose box under
    ``show(index=i, norm="max")`` differs from the one under ``norm="minmax"`` (``state.panels[0].box``); -1 if none."""
    return FIRST_DISAGREEMENT.run(fn)


SPECS = (FIRST_DISAGREEMENT,)
