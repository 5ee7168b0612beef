"""``make bench``: run every ``benchmarks/bench_*.py`` in its own process, then rewrite ``benchmarks/RESULTS.md``.

Each script writes ``results/<name>.json`` (see ``common.write_result``); this runner records each script's wall
time and exit status in ``results/_runs.json``, keeps going past a failing script, and assembles RESULTS.md from
the result files in a fixed order: cam, metrics, train, data, notebooks, then any others.

    .venv/bin/python benchmarks/run_all.py                 # everything (CAMLIB_PROFILE=fast, 2 threads)
    .venv/bin/python benchmarks/run_all.py --only cam,data # a subset; the other sections are kept
    .venv/bin/python benchmarks/run_all.py --no-run        # only rebuild RESULTS.md from results/*.json
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from common import RESULTS_DIR, machine, package_versions

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS_MD = HERE / "RESULTS.md"
RUNS = RESULTS_DIR / "_runs.json"
ORDER = [
    "cam",
    "metrics",
    "train",
    "data",
    "notebooks",
    "family",
]  # figure numbers 1-5 of the benchmark issue, 6
PACKAGES = ["torch", "torchvision", "torchcam", "grad-cam", "captum", "camlib"]


def order_key(name: str) -> tuple[int, str]:
    return (ORDER.index(name) if name in ORDER else len(ORDER), name)


def discover() -> list[str]:
    """Names of the benchmark scripts (``bench_<name>.py`` -> ``<name>``), in RESULTS.md order."""
    return sorted((p.stem.removeprefix("bench_") for p in HERE.glob("bench_*.py")), key=order_key)


def bench_env(threads: int) -> dict[str, str]:
    """The environment of every script: the caller's, with the fast profile by default and ``threads`` threads."""
    env = dict(os.environ)
    env.setdefault("CAMLIB_PROFILE", "fast")
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        env[var] = str(threads)
    env["PYTHONUNBUFFERED"] = "1"
    return env


def run_script(name: str, env: dict[str, str], timeout: float) -> dict[str, Any]:
    """Run ``bench_<name>.py``, echoing its output indented; return wall seconds, exit code and output tail."""
    script = HERE / f"bench_{name}.py"
    result = RESULTS_DIR / f"{name}.json"
    before = result.stat().st_mtime if result.exists() else None
    tail: collections.deque[str] = collections.deque(maxlen=25)
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, str(script)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        errors="replace",
    )

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            tail.append(line.rstrip())
            print(f"    {line.rstrip()}", flush=True)

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    try:
        rc: int | str = proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        rc = f"timed out after {timeout:.0f} s"
    reader.join(timeout=5)
    seconds = time.perf_counter() - t0
    wrote = result.exists() and result.stat().st_mtime != before
    ok = rc == 0 and wrote
    if rc == 0 and not wrote:
        rc = f"exited 0 without writing results/{name}.json"
    return {
        "seconds": round(seconds, 1),
        "ok": ok,
        "status": "ok" if ok else (f"exit code {rc}" if isinstance(rc, int) else str(rc)),
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "tail": [] if ok else list(tail),
    }


def git_commit() -> str:
    """Short commit of the working tree, '+ changes' when it has uncommitted edits; '' outside git."""
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain"], cwd=ROOT, capture_output=True, text=True
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return ""
    return sha + (" + uncommitted changes" if dirty.strip() else "")


def load_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return {}
    return data if isinstance(data, dict) else {}


def measured_on(info: dict[str, Any]) -> str:
    """One line about where and when a result file was measured."""
    if not info:
        return ""
    gpu = info.get("cuda") or "no GPU"
    return (
        f"*Measured {info.get('date', '?')} · {info.get('cpu_count', '?')} CPUs, torch threads "
        f"{info.get('torch_threads', '?')}, {gpu} · torch {info.get('torch', '?')}.*"
    )


def build_results(runs: dict[str, dict[str, Any]]) -> str:
    """The text of RESULTS.md from ``results/*.json`` and the run log."""
    m = machine()
    versions = package_versions(PACKAGES)
    results = {p.stem: load_json(p) for p in RESULTS_DIR.glob("*.json") if not p.name.startswith("_")}
    names = sorted(set(results) | set(runs), key=order_key)
    commit = git_commit()
    lines = [
        "# Benchmark results",
        "",
        "Written by `make bench` (`benchmarks/run_all.py`); do not edit by hand. How to run and what each script "
        "measures: [README.md](README.md).",
        "",
        f"- **Date**: {time.strftime('%Y-%m-%d %H:%M %Z')}" + (f" · commit {commit}" if commit else ""),
        f"- **Machine**: {m['platform']}, Python {m['python']}, {m['cpu_count']} CPUs, "
        f"GPU: {m['cuda'] or 'none'}",
        "- **Versions**: " + ", ".join(f"{k} {v or 'not installed'}" for k, v in versions.items()),
        "- **Method**: every time is the median of ≥ 5 repetitions after warm-up, with the min–max in "
        "parentheses. Each script runs in its own process with `OMP_NUM_THREADS=2` (torch uses 2 threads) and "
        "`CAMLIB_PROFILE=fast` unless set otherwise.",
        "",
    ]
    if runs:
        lines += ["| script | wall s | status | last run |", "|---|---|---|---|"]
        for name in names:
            r = runs.get(name)
            if r:
                status = "ok" if r["ok"] else f"**FAILED** ({r['status']})"
                lines.append(f"| bench_{name}.py | {r['seconds']:.1f} | {status} | {r['date']} |")
        total = sum(r["seconds"] for r in runs.values())
        lines += [f"| **sum** | **{total:.1f}** ({total / 60:.1f} min) | | |", ""]
    for name in names:
        res, run = results.get(name, {}), runs.get(name)
        number = f"Figure {ORDER.index(name) + 1}: " if name in ORDER else ""
        lines += [f"## {number}{res.get('title') or f'bench_{name}.py'}", ""]
        if run and not run["ok"]:
            lines += [
                f"**bench_{name}.py failed** on {run['date']} ({run['status']}). Last lines of its output:",
                "",
            ]
            lines += ["```", *run["tail"][-15:], "```", ""]
            if res:
                lines += ["**Stale**: the numbers below are from an earlier successful run.", ""]
        if res:
            lines += [measured_on(res.get("machine", {})), "", str(res.get("markdown", "")).rstrip(), ""]
        elif not run:
            lines += ["No results yet.", ""]
    return "\n".join(lines).rstrip() + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run the benchmarks and rewrite benchmarks/RESULTS.md.")
    parser.add_argument("--only", default="", help="comma-separated names to run, e.g. cam,data")
    parser.add_argument("--no-run", action="store_true", help="only rebuild RESULTS.md from results/*.json")
    parser.add_argument("--threads", type=int, default=2, help="OMP/MKL threads of each script (default 2)")
    parser.add_argument("--timeout", type=float, default=1200, help="seconds before a script is stopped")
    args = parser.parse_args(argv)

    available = discover()
    chosen = [n.strip().removeprefix("bench_").removesuffix(".py") for n in args.only.split(",") if n.strip()]
    unknown = [n for n in chosen if n not in available]
    if unknown:
        parser.error(f"unknown benchmark(s) {unknown}; available: {', '.join(available)}")
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    runs: dict[str, dict[str, Any]] = load_json(RUNS)
    if not args.no_run:
        env = bench_env(args.threads)
        todo = chosen or available
        t_all = time.perf_counter()
        for name in todo:
            print(f"== bench_{name}.py", flush=True)
            runs[name] = run_script(name, env, args.timeout)
            print(
                f"== bench_{name}.py: {runs[name]['status']}, {runs[name]['seconds']:.1f} s wall", flush=True
            )
            RUNS.write_text(json.dumps(runs, indent=2) + "\n")
        wall = time.perf_counter() - t_all
        budget = " (over the 10-minute budget of `make bench`)" if wall > 600 else ""
        print(f"== {len(todo)} script(s) in {wall:.1f} s wall{budget}:")
        for name in todo:
            print(f"   {'bench_' + name + '.py':<24}{runs[name]['seconds']:8.1f} s  {runs[name]['status']}")
    RESULTS_MD.write_text(build_results(runs))
    print(f"wrote {RESULTS_MD.relative_to(ROOT)}")
    failed = [n for n, r in runs.items() if not r["ok"] and (args.no_run or n in (chosen or available))]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
