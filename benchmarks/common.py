"""Shared helpers of the benchmark scripts: timing, machine facts, and the result files RESULTS.md is built from.

Each ``benchmarks/bench_<name>.py`` measures one figure and calls :func:`write_result`, which writes
``benchmarks/results/<name>.json`` (title, markdown section, raw numbers). ``benchmarks/run_all.py`` runs every
script in its own process and rebuilds ``benchmarks/RESULTS.md`` from those files.
"""

from __future__ import annotations

import cProfile
import json
import os
import platform
import pstats
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

RESULTS_DIR = Path(__file__).resolve().parent / "results"


@dataclass(frozen=True)
class Timing:
    """Seconds per call: median, min and max over ``reps`` calls after ``warmup`` calls."""

    median: float
    min: float
    max: float
    reps: int

    def fmt_ms(self) -> str:
        return f"{self.median * 1e3:.2f} ms ({self.min * 1e3:.2f}–{self.max * 1e3:.2f})"


def timeit(fn: Callable[[], Any], reps: int = 7, warmup: int = 2) -> Timing:
    """Time ``fn()``: ``warmup`` untimed calls, then the median, min and max of ``reps`` timed calls."""
    if reps < 5:
        raise ValueError("use at least 5 repetitions")
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return Timing(statistics.median(times), min(times), max(times), reps)


def summarize(times: Sequence[float]) -> Timing:
    """The :class:`Timing` (median, min, max) of measured seconds per call."""
    if len(times) < 5:
        raise ValueError("use at least 5 repetitions")
    return Timing(statistics.median(times), min(times), max(times), len(times))


def timeit_interleaved(
    fns: Mapping[str, Callable[[], Any]], reps: int = 7, warmup: int = 1
) -> dict[str, list[float]]:
    """Time several callables round-robin: each round calls every one once, in a rotating order.

    Interleaving spreads slow drifts of a shared machine (other processes, thermal state) over all callables
    alike, so their ratios stay meaningful when absolute times are noisy. ``warmup`` untimed rounds first.

    Returns:
        seconds per call of each callable, one entry per timed round (``summarize`` gives the :class:`Timing`;
        ``times[a][i] / times[b][i]`` are paired ratios from the same round).
    """
    if reps < 5:
        raise ValueError("use at least 5 repetitions")
    names = list(fns)
    times: dict[str, list[float]] = {n: [] for n in names}
    for r in range(warmup + reps):
        for j in range(len(names)):
            name = names[(r + j) % len(names)]
            t0 = time.perf_counter()
            fns[name]()
            if r >= warmup:
                times[name].append(time.perf_counter() - t0)
    return times


def ratio_stats(a: list[float], b: list[float]) -> tuple[float, float, float]:
    """Median, min, max of the paired ratios a[i] / b[i]."""
    r = [x / y for x, y in zip(a, b, strict=True)]
    return statistics.median(r), min(r), max(r)


def torch_top_ops(fn: Callable[[], Any], n: int = 4) -> list[tuple[str, float, float]]:
    """(op, self CPU ms, % of all ops' self CPU time) of one profiled call, the costliest first."""
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU]) as prof:
        fn()
    events = [e for e in prof.key_averages() if e.self_cpu_time_total > 0]
    total = sum(e.self_cpu_time_total for e in events)
    events.sort(key=lambda e: e.self_cpu_time_total, reverse=True)
    return [(e.key, e.self_cpu_time_total / 1e3, 100 * e.self_cpu_time_total / total) for e in events[:n]]


def breakdown(model: Any, fn: Callable[[], Any]) -> dict[str, float]:
    """Shares (%) of one call spent in ``model``'s forward, in autograd's backward, and elsewhere (cProfile)."""
    import torch

    prof = cProfile.Profile()
    prof.enable()
    fn()
    prof.disable()
    stats: dict[tuple[str, int, str], tuple[Any, ...]] = pstats.Stats(prof).stats  # type: ignore[attr-defined]

    def cum(code: Any) -> float:
        key = (code.co_filename, code.co_firstlineno, code.co_name)
        return float(stats[key][3]) if key in stats else 0.0

    total = max(ct for *_, ct, _callers in stats.values())
    fwd = cum(type(model).forward.__code__)
    bwd = cum(torch.Tensor.backward.__code__) + cum(torch.autograd.grad.__code__)
    return {
        "total_ms": total * 1e3,
        "forward_pct": 100 * fwd / total,
        "backward_pct": 100 * bwd / total,
        "other_pct": 100 * max(total - fwd - bwd, 0.0) / total,
    }


def package_versions(names: Sequence[str]) -> dict[str, str | None]:
    """Installed distribution versions (``None`` when not installed), read without importing the packages.

    >>> package_versions(["surely-not-installed-xyz"])
    {'surely-not-installed-xyz': None}
    """
    from importlib import metadata

    out: dict[str, str | None] = {}
    for name in names:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def machine() -> dict[str, Any]:
    """Machine and library facts recorded next to every figure."""
    import torch

    info: dict[str, Any] = {
        "python": platform.python_version(),
        "platform": platform.platform(terse=True),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "date": time.strftime("%Y-%m-%d"),
    }
    try:
        import torchvision

        info["torchvision"] = torchvision.__version__
    except ImportError:  # pragma: no cover
        pass
    return info


def write_result(name: str, title: str, markdown: str, data: dict[str, Any]) -> Path:
    """Write ``results/<name>.json``; ``markdown`` is the section body that RESULTS.md shows under ``title``."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"{name}.json"
    payload = {"name": name, "title": title, "markdown": markdown, "data": data, "machine": machine()}
    path.write_text(
        json.dumps(
            payload, indent=2, default=lambda o: asdict(o) if hasattr(o, "__dataclass_fields__") else str(o)
        )
        + "\n"
    )
    return path
