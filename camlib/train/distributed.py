"""Data-parallel training under ``torchrun``: the few collective steps the training loop needs.

``torchrun --nproc_per_node=N -m camlib train ...`` starts N processes with ``RANK``, ``WORLD_SIZE`` and
``LOCAL_RANK`` set. :func:`init_distributed` joins them into a process group (``nccl`` on CUDA, ``gloo`` on the
CPU); the loop wraps the model in ``DistributedDataParallel`` (which broadcasts rank 0's initial weights), gives
each rank a disjoint slice of one seeded permutation (:func:`shard`), sums its counters over the ranks
(:func:`all_reduce_sum`) and lets only rank 0 print and save (:func:`is_main`). Without those variables every
function here is a no-op for a single process.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import Tensor, nn


@dataclass(frozen=True)
class DistInfo:
    """Where this process sits in the job: ``rank`` of ``world_size`` processes, ``local_rank`` on its host."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        """True on the process that prints, saves and writes results (rank 0)."""
        return self.rank == 0


def env_info() -> DistInfo:
    """The job layout that ``torchrun`` put in the environment (a single process when it did not).

    >>> env_info() if "WORLD_SIZE" not in os.environ else DistInfo()
    DistInfo(rank=0, world_size=1, local_rank=0)
    """
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local = int(os.environ.get("LOCAL_RANK", str(rank)))
    if world < 1 or not 0 <= rank < world:
        raise ValueError(f"inconsistent torchrun environment: RANK={rank}, WORLD_SIZE={world}")
    return DistInfo(rank, world, local)


def info() -> DistInfo:
    """The layout of the initialised process group, or of a single process when there is none."""
    if dist.is_available() and dist.is_initialized():
        return DistInfo(dist.get_rank(), dist.get_world_size(), env_info().local_rank)
    return DistInfo()


def is_main() -> bool:
    """True unless this is a non-zero rank of a distributed job."""
    return info().is_main


def device_for_rank(device: torch.device) -> torch.device:
    """``cuda`` becomes ``cuda:<LOCAL_RANK>`` in a multi-process job (one GPU per process); others unchanged."""
    if device.type == "cuda" and device.index is None and env_info().world_size > 1:
        return torch.device("cuda", env_info().local_rank)
    return device


def init_distributed(device: torch.device) -> DistInfo:
    """Join the ``torchrun`` process group when ``WORLD_SIZE > 1`` (``nccl`` on CUDA, else ``gloo``).

    Idempotent, and a no-op for a single process. Returns this process's :class:`DistInfo`.
    """
    env = env_info()
    if env.world_size == 1 or (dist.is_available() and dist.is_initialized()):
        return info()
    if not dist.is_available():
        raise RuntimeError("this torch build has no torch.distributed: run without torchrun")
    if device.type == "cuda":
        torch.cuda.set_device(device)
    dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    return info()


def destroy_distributed() -> None:
    """Leave the process group (no-op when none was initialised)."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def shard(indices: Tensor, rank: int, world_size: int) -> Tensor:
    """This rank's disjoint, equal-sized slice of ``indices`` (a strided slice, the tail dropped).

    Every rank gets the same number of items, so the ranks run the same number of steps (DDP needs that).

    >>> shard(torch.arange(10), 1, 3).tolist()
    [1, 4, 7]
    >>> shard(torch.arange(4), 0, 1).tolist()
    [0, 1, 2, 3]
    """
    usable = len(indices) - len(indices) % world_size
    return indices[rank:usable:world_size]


def all_reduce_sum(values: list[float], device: torch.device) -> list[float]:
    """Sum ``values`` element-wise over the ranks (identity for a single process)."""
    if not (dist.is_available() and dist.is_initialized()):
        return list(values)
    t = torch.tensor(values, dtype=torch.float64, device=device)
    dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return [float(v) for v in t.tolist()]


def broadcast_state(model: nn.Module) -> None:
    """Copy rank 0's parameters and buffers to every rank (identity for a single process).

    DDP keeps parameters in step, but each rank's BatchNorm running statistics drift by its last forward pass;
    broadcasting at the end makes the ranks' weights bit-identical.
    """
    if not (dist.is_available() and dist.is_initialized()):
        return
    with torch.no_grad():
        for t in list(model.parameters()) + list(model.buffers()):
            dist.broadcast(t.data, src=0)


def state_digest(model: nn.Module) -> str:
    """sha256 of every tensor of ``model.state_dict()`` (names, dtypes, shapes, values), to compare ranks or runs.

    >>> a, b = nn.Linear(2, 1), nn.Linear(2, 1)
    >>> _ = b.load_state_dict(a.state_dict())
    >>> state_digest(a) == state_digest(b), len(state_digest(a))
    (True, 64)
    """
    h = hashlib.sha256()
    for name, t in model.state_dict().items():
        t = t.detach().to("cpu").contiguous()
        h.update(f"{name}:{t.dtype}:{tuple(t.shape)}".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())  # raw bytes, any dtype
    return h.hexdigest()


def unwrap(model: nn.Module) -> nn.Module:
    """The module inside a ``DistributedDataParallel`` (or ``DataParallel``) wrapper; else ``model`` itself."""
    inner = getattr(model, "module", None)
    return inner if isinstance(inner, nn.Module) else model


def gather_digests(model: nn.Module) -> list[str]:
    """Every rank's :func:`state_digest` of ``model``, in rank order (all ranks must call it)."""
    mine = state_digest(unwrap(model))
    if not (dist.is_available() and dist.is_initialized()):
        return [mine]
    out: list[object] = [None] * dist.get_world_size()
    dist.all_gather_object(out, mine)
    return [str(d) for d in out]
