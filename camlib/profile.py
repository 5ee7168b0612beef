"""The one switch between the laptop-CPU course and the GPU course.

``CAMLIB_PROFILE=fast|full`` picks a :class:`Profile`; without it the profile is ``full`` when CUDA or MPS is
available and ``fast`` otherwise. Notebooks call :func:`get_profile` once, print it, and branch on nothing else.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from typing import Any

import torch

ENV_VAR = "CAMLIB_PROFILE"


@dataclass(frozen=True)
class Profile:
    """Sizes that decide how long the course takes.

    Attributes:
        name: ``"fast"`` (laptop CPU, CI) or ``"full"`` (GPU).
        image_size: side of the square images, in pixels.
        train_size: images in the training split of the embedded dataset.
        val_size: images in the validation split.
        test_size: images in the test split.
        epochs: training epochs.
        batch_size: images per optimisation step.
        num_workers: DataLoader workers for real datasets (the embedded dataset is generated in-process).
    """

    name: str
    image_size: int
    train_size: int
    val_size: int
    test_size: int
    epochs: int
    batch_size: int
    num_workers: int


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
            machine with CUDA/MPS and ``"fast"`` elsewhere.
        **overrides: fields to change, e.g. ``epochs=1``.

    Raises:
        ValueError: for an unknown profile name, with the valid names.

    >>> get_profile("fast").image_size
    64
    >>> get_profile("fast", epochs=1).epochs
    1
    """
    if name is None:
        name = os.environ.get(ENV_VAR, "").strip().lower() or ("full" if accelerator_available() else "fast")
    if name not in PROFILES:
        raise ValueError(
            f"unknown profile {name!r}: use one of {sorted(PROFILES)} (set {ENV_VAR}=fast or {ENV_VAR}=full)"
        )
    return replace(PROFILES[name], **overrides) if overrides else PROFILES[name]
