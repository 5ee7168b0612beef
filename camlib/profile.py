"""The one switch between the laptop-CPU course and the GPU course, and the valid ranges of a run's settings.

``CAMLIB_PROFILE=fast|full`` picks a :class:`Profile`; without it the profile is ``full`` when CUDA or MPS is
available and ``fast`` otherwise. Notebooks call :func:`get_profile` once, print it, and branch on nothing else.

Every number of a run has one valid range, checked where it enters: in :class:`Profile` (``get_profile(epochs=0)``
raises) and, on the command line, by the argparse types below (``--epochs 0`` is refused when it is parsed, never
replaced by the profile's value). :class:`CommandParser` is the parser of ``python -m camlib``: an error is one
line naming the fix, exit status 2. A bad setting raises :class:`SettingError`.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import warnings
from collections.abc import Callable
from dataclasses import dataclass, fields, replace
from typing import Any, NoReturn

import torch

ENV_VAR = "CAMLIB_PROFILE"
MIN_IMAGE_SIZE = 32  # the embedded dataset's objects need room for their parts
MAX_IMAGE_SIZE = 1024


class SettingError(ValueError):
    """A setting of a run (the profile, a number, a device) is not valid here; the message names the fix."""


class SlowWarning(UserWarning):
    """What was asked runs, but far slower than the course expects (the message says how to go faster)."""


@dataclass(frozen=True)
class Profile:
    """Sizes that decide how long the course takes.

    Attributes:
        name: ``"fast"`` (laptop CPU, CI) or ``"full"`` (GPU).
        image_size: side of the square images, in pixels (32 to 1024).
        train_size: images in the training split of the embedded dataset (>= 1).
        val_size: images in the validation split (>= 1).
        test_size: images in the test split (>= 1).
        epochs: training epochs (>= 1).
        batch_size: images per optimisation step (>= 1).
        num_workers: DataLoader workers for real datasets (>= 0; the embedded dataset is generated in-process).

    Raises:
        SettingError: a number out of its range.
    """

    name: str
    image_size: int
    train_size: int
    val_size: int
    test_size: int
    epochs: int
    batch_size: int
    num_workers: int

    def __post_init__(self) -> None:
        for f in fields(self):
            if f.name == "name":
                continue
            lo, hi = (
                (MIN_IMAGE_SIZE, MAX_IMAGE_SIZE)
                if f.name == "image_size"
                else (int(f.name != "num_workers"), None)
            )
            value = getattr(self, f.name)
            if isinstance(value, bool) or not isinstance(value, int) or value < lo or (hi and value > hi):
                span = f"from {lo} to {hi}" if hi else f">= {lo}"
                raise SettingError(f"{f.name} must be an integer {span}, got {value!r}")


PROFILES: dict[str, Profile] = {
    "fast": Profile(
        name="fast",
        image_size=64,
        train_size=6000,
        val_size=1000,
        test_size=2000,
        epochs=8,
        batch_size=32,
        num_workers=0,
    ),
    "full": Profile(
        name="full",
        image_size=128,
        train_size=50_000,
        val_size=5_000,
        test_size=10_000,
        epochs=12,
        batch_size=256,
        num_workers=4,
    ),
}


def accelerator_available() -> bool:
    """True when CUDA or Apple MPS can run tensors."""
    mps = getattr(torch.backends, "mps", None)
    return torch.cuda.is_available() or bool(mps is not None and mps.is_available())


def get_profile(name: str | None = None, **overrides: Any) -> Profile:
    """Return the profile in force.

    Args:
        name: ``"fast"`` or ``"full"``. ``None`` reads ``CAMLIB_PROFILE``, then falls back to ``"full"`` on a
            machine with CUDA/MPS and ``"fast"`` elsewhere. When ``CAMLIB_PROFILE=full`` is set on a machine
            without an accelerator, a :class:`SlowWarning` says that it trains for hours.
        **overrides: fields to change, e.g. ``epochs=1`` (checked against their ranges).

    Raises:
        SettingError: for an unknown profile name (with the valid names), or an override out of range.

    >>> get_profile("fast").image_size
    64
    >>> get_profile("fast", epochs=1).epochs
    1
    """
    from_env = name is None
    if name is None:
        name = os.environ.get(ENV_VAR, "").strip().lower() or ("full" if accelerator_available() else "fast")
    if name not in PROFILES:
        where = f" (from {ENV_VAR})" if from_env else ""
        raise SettingError(
            f"unknown profile {name!r}{where}: use one of {sorted(PROFILES)} (set {ENV_VAR}=fast or {ENV_VAR}=full)"
        )
    if from_env and name == "full" and not accelerator_available():
        warn_full_on_cpu()
    return replace(PROFILES[name], **overrides) if overrides else PROFILES[name]


#: what :func:`get_profile` warns and ``python -m camlib train`` prints when the full profile meets a CPU
FULL_ON_CPU = (
    "the full profile runs on the CPU here (no CUDA or MPS): training takes hours; "
    f"set {ENV_VAR}=fast (or --profile fast) for the laptop version of the course"
)


def warn_full_on_cpu() -> None:
    """Warn (:class:`SlowWarning`) that the full profile is meant for a GPU."""
    warnings.warn(FULL_ON_CPU, SlowWarning, stacklevel=3)


# --- the command line: argparse types with ranges, and a parser whose errors are one line ------------------


def _number(kind: type, lo: float | None, hi: float | None, *, lo_open: bool = False) -> Callable[[str], Any]:
    word = "an integer" if kind is int else "a number"
    parts = [f"> {lo}" if lo_open else f">= {lo}"] if lo is not None else []
    parts += [f"<= {hi}"] if hi is not None else []
    want = f"{word} {' and '.join(parts)}".strip()

    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {want}, got {text!r}") from None
        bad = not math.isfinite(value) or (
            lo is not None and (value <= lo if lo_open else value < lo) or (hi is not None and value > hi)
        )
        if bad:
            raise argparse.ArgumentTypeError(f"must be {want}, got {text}")
        return value

    parse.__name__ = want  # argparse names the type in its messages
    return parse


#: ``--epochs``, ``--batch-size``, ``--train-size``, ``--threads``, ...: an integer >= 1
positive_int = _number(int, 1, None)
#: seeds: an integer >= 0
non_negative_int = _number(int, 0, None)
#: ``--image-size``: an integer from 32 to 1024 px
image_size = _number(int, MIN_IMAGE_SIZE, MAX_IMAGE_SIZE)
#: ``--lr``: a finite number > 0
positive_float = _number(float, 0.0, None, lo_open=True)
#: ``--weight-decay``: a finite number >= 0
non_negative_float = _number(float, 0.0, None)


def power_of_two(text: str) -> int:
    """``--downsample``: 1, 2, 4, 8, ...

    >>> power_of_two("4")
    4
    """
    value = positive_int(text)
    if value & (value - 1):
        raise argparse.ArgumentTypeError(f"must be a power of two (1, 2, 4, 8, ...), got {text}")
    return int(value)


def int_list(text: str) -> tuple[int, ...]:
    """``--widths``: comma-separated integers >= 1, e.g. ``16,32,64,128``.

    >>> int_list("8,16")
    (8, 16)
    """
    try:
        values = tuple(positive_int(v) for v in text.split(","))
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated integers >= 1 like 16,32,64,128, got {text!r}"
        ) from None
    return values


def device_name(text: str) -> str:
    """``--device``: a device torch knows (``cpu``, ``cuda``, ``cuda:1``, ``mps``) that this machine has.

    >>> device_name("cpu")
    'cpu'
    """
    try:
        dev = torch.device(text)
    except RuntimeError:
        raise argparse.ArgumentTypeError(f"unknown device {text!r}: use cpu, cuda, cuda:0 or mps") from None
    mps = getattr(torch.backends, "mps", None)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise argparse.ArgumentTypeError(f"{text}: CUDA is not available on this machine: use --device cpu")
    if dev.type == "cuda" and dev.index is not None and dev.index >= torch.cuda.device_count():
        raise argparse.ArgumentTypeError(
            f"{text}: this machine has {torch.cuda.device_count()} CUDA device(s): use cuda:0 .. "
            f"cuda:{torch.cuda.device_count() - 1}"
        )
    if dev.type == "mps" and not (mps is not None and mps.is_available()):
        raise argparse.ArgumentTypeError(f"{text}: MPS is not available on this machine: use --device cpu")
    if dev.type not in ("cpu", "cuda", "mps"):
        raise argparse.ArgumentTypeError(f"the course runs on cpu, cuda or mps, not {text!r}")
    return text


class CommandParser(argparse.ArgumentParser):
    """The parser of ``python -m camlib``: a usage error is ONE line on stderr with the fix, exit status 2.

    (argparse's own prints the whole usage first, dozens of lines for ``train``.) Sub-commands added with
    ``add_subparsers().add_parser`` get the same class.
    """

    def error(self, message: str) -> NoReturn:
        sys.stderr.write(f"{self.prog}: error: {message} (see {self.prog} --help)\n")
        raise SystemExit(2)
