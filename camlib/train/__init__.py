"""Training and evaluation: the loop, accuracy on a split, batching, devices, ``torchrun``, the CLI commands.

One loop for every setting of the course: a laptop CPU (channels_last, float32), a GPU (channels_last, bf16
autocast, or fp16 with a gradient scaler where bf16 is missing), and ``torchrun`` with DistributedDataParallel
(``gloo`` on CPU, ``nccl`` on GPU), without code changes.

What lives where:

- :mod:`camlib.train.loop`: :func:`fit`, :class:`EpochStats`, :class:`History`, the schedule, :func:`train_mode`.
- :mod:`camlib.train.evaluation`: :func:`evaluate` (accuracy and loss on a split).
- :mod:`camlib.train.batches`: batches drawn on the device, pregenerated splits, DataLoaders for photos.
- :mod:`camlib.train.device`: device choice, seeding, mixed precision, memory format.
- :mod:`camlib.train.distributed`: the ``torchrun`` collectives.
- :mod:`camlib.train.cli` and :mod:`camlib.train.run`: the ``train`` and ``evaluate`` commands.
- :mod:`camlib.train.wsol`: WSOL methods on the loop: Hide-and-Seek and CutMix (``fit(batch_transform=...)``), ADL
  (:func:`insert_adl`); :mod:`camlib.train.wsol_run`: method x seed trained, epoch and threshold chosen on
  validation, test measured once (``python -m camlib.train.wsol_run``).

>>> select_device("cpu")
device(type='cpu')
"""

from camlib.train.device import seed_everything, select_device
from camlib.train.evaluation import evaluate
from camlib.train.loop import EpochStats, History, fit, lr_factor, train_mode
from camlib.train.wsol import ADL, CutMix, HideAndSeek, insert_adl

__all__ = [
    "ADL",
    "CutMix",
    "EpochStats",
    "HideAndSeek",
    "History",
    "evaluate",
    "fit",
    "insert_adl",
    "lr_factor",
    "seed_everything",
    "select_device",
    "train_mode",
]
