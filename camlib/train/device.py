"""Where the course's models run: device choice, seeding, mixed precision and memory-format helpers.

>>> select_device("cpu"), autocast_dtype(torch.device("cpu"))
(device(type='cpu'), torch.bfloat16)
"""

from __future__ import annotations

import random
from contextlib import AbstractContextManager, nullcontext
from typing import Any

import numpy as np
import torch
from torch import nn

from camlib.profile import SettingError
from camlib.train import distributed as D


def select_device(device: str | torch.device | None = None) -> torch.device:
    """The device to train on: ``device`` if given, else CUDA, then Apple MPS, then the CPU.

    Under ``torchrun`` on CUDA each process takes ``cuda:<LOCAL_RANK>``.

    Raises:
        SettingError: (a ``ValueError``) the requested device is unknown or not available here, naming one
            that is.
    """
    if device is None:
        mps = getattr(torch.backends, "mps", None)
        if torch.cuda.is_available():
            dev = torch.device("cuda")
        elif mps is not None and mps.is_available():
            dev = torch.device("mps")
        else:
            dev = torch.device("cpu")
    else:
        try:
            dev = torch.device(device)
        except RuntimeError:
            raise SettingError(f"unknown device {device!r}: use 'cpu', 'cuda', 'cuda:0' or 'mps'") from None
        mps = getattr(torch.backends, "mps", None)
        if dev.type == "cuda" and not torch.cuda.is_available():
            raise SettingError(
                f"device {str(dev)!r} requested but CUDA is not available here: use device='cpu'"
            )
        if dev.type == "mps" and not (mps is not None and mps.is_available()):
            raise SettingError(
                f"device {str(dev)!r} requested but MPS is not available here: use device='cpu'"
            )
    return D.device_for_rank(dev)


def seed_everything(seed: int, deterministic: bool = False) -> None:
    """Seed Python's ``random``, NumPy and torch (all devices).

    Args:
        seed: the seed.
        deterministic: also ask cuDNN/torch for deterministic kernels (slower on GPU). CPU training with
            the course's models is reproducible without it.
    """
    random.seed(seed)
    np.random.seed(seed % 2**32)  # noqa: NPY002 -- the legacy global RNG is what third-party code draws from
    torch.manual_seed(seed)  # also seeds every CUDA device
    if torch.cuda.is_available():
        torch.backends.cudnn.deterministic = deterministic
        torch.backends.cudnn.benchmark = not deterministic
    if deterministic:
        torch.use_deterministic_algorithms(True, warn_only=True)


def autocast_dtype(device: torch.device) -> torch.dtype:
    """bf16 where the device supports it (recent GPUs, CPU), else fp16."""
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.bfloat16 if device.type == "cpu" else torch.float16


def autocast(device: torch.device, enabled: bool) -> AbstractContextManager[Any]:
    """``torch.autocast`` with :func:`autocast_dtype` when ``enabled``, else a no-op context."""
    if not enabled:
        return nullcontext()
    return torch.autocast(device.type, dtype=autocast_dtype(device))


def is_channels_last(model: nn.Module) -> bool:
    """True when the model's first 4-D weight is stored NHWC (``model.to(memory_format=torch.channels_last)``)."""
    w = next((p for p in model.parameters() if p.dim() == 4), None)
    return w is not None and w.is_contiguous(memory_format=torch.channels_last) and not w.is_contiguous()


def synchronize(device: torch.device) -> None:
    """Wait for queued CUDA work (so timings are honest); no-op elsewhere."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
