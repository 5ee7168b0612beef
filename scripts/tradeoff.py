"""Accuracy against localization over training, measured on the boxed VALIDATION split: the course's trade-off.

One architecture, one profile: each epoch budget is a full training run with its own warm-up + cosine schedule,
the model that ``python -m camlib train --model ARCH --epochs K --seed S`` makes with the same settings. After
each run, on the validation split only (never test): accuracy, MaxBoxAcc, MaxBoxAccV2 with its deltas 0.3 / 0.5
/ 0.7 (Choe et al., CVPR 2020) and PxAP of the map of the TRUE class, and the box threshold chosen there
(:func:`camlib.localization.select_tau`). The shipped checkpoints follow from these numbers (``--ship``).

    python scripts/tradeoff.py                        # GAP sweep: budgets 1,2,3,5,8 x seeds 0,1,2 -> reports/tradeoff.*
    python scripts/tradeoff.py --arch gmp --budgets 2,3,5,8 --seeds 0                 # -> reports/tradeoff_gmp.*
    python scripts/tradeoff.py --arch fc --method gradcam --budgets 2,3,5,8 --seeds 0  # -> reports/tradeoff_fc.*
    python scripts/tradeoff.py --report-only          # redraw the report and figure from the JSON
    python scripts/tradeoff.py --ship                 # re-make the shipped checkpoints the reports select
    python scripts/tradeoff.py --quick --out DIR      # a smoke test on tiny sizes (the unit test runs it)

Runs are written to the JSON as they finish; a second invocation with the same settings skips the runs it has.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import torch
from torch import nn

from camlib.data.shapes import Shapes
from camlib.files import REPO_ROOT
from camlib.localization import localize, tau_choice
from camlib.models import ModelSpec, NetConfig, build_model
from camlib.profile import get_profile
from camlib.train import History, fit, seed_everything

REPORTS = REPO_ROOT / "reports"
CACHE = REPO_ROOT / "data" / "cache" / "tradeoff"  # seed-0 models for the figure (git-ignored)
#: the four validation images of the figure: both pairs of twins (they differ by one small part)
FIGURE_CLASSES = ("beetle", "firefly", "fish", "shark")


@dataclass(frozen=True)
class Settings:
    """Everything a run depends on besides its budget and seed (the flags of ``python -m camlib train``)."""

    arch: str = "gap"
    method: str = "cam"
    profile: str = "fast"
    train_size: int = 6000
    val_size: int = 1000
    image_size: int = 64
    batch_size: int = 32
    lr: float = 3e-3
    weight_decay: float = 5e-4
    data_seed: int = 0
    widths: tuple[int, ...] = NetConfig().widths
    downsample: int = NetConfig().downsample

    @classmethod
    def of_profile(cls, name: str = "fast", **kw: Any) -> Settings:
        p = get_profile(name)
        return cls(profile=p.name, train_size=p.train_size, val_size=p.val_size, image_size=p.image_size,
                   batch_size=p.batch_size, **kw)  # fmt: skip

    def train_argv(self, epochs: int, seed: int, test_size: int) -> list[str]:
        """The ``python -m camlib train`` arguments that make the model of (``epochs``, ``seed``)."""
        return [
            "train", "--dataset", "shapes", "--model", self.arch, "--profile", self.profile,
            "--epochs", str(epochs), "--batch-size", str(self.batch_size), "--lr", f"{self.lr:g}",
            "--weight-decay", f"{self.weight_decay:g}", "--seed", str(seed), "--data-seed", str(self.data_seed),
            "--train-size", str(self.train_size), "--val-size", str(self.val_size), "--test-size", str(test_size),
            "--image-size", str(self.image_size), "--widths", ",".join(map(str, self.widths)),
            "--downsample", str(self.downsample),
        ]  # fmt: skip


#: tiny sizes for the smoke test (seconds, not minutes)
QUICK = Settings(train_size=96, val_size=32, image_size=32, batch_size=16, widths=(8, 16), downsample=2)


def datasets(s: Settings) -> dict[str, Shapes]:
    """The training and VALIDATION splits, built as ``python -m camlib train`` builds them (no test split)."""
    return {
        k: Shapes(split=k, size=n, image_size=s.image_size, seed=s.data_seed)
        for k, n in (("train", s.train_size), ("val", s.val_size))
    }


def train_one(s: Settings, data: dict[str, Shapes], epochs: int, seed: int) -> tuple[nn.Module, History]:
    """Train one model exactly as ``python -m camlib train`` does (seed, build, fit with validation)."""
    seed_everything(seed)
    spec = ModelSpec(s.arch, data["train"].num_classes, NetConfig(widths=s.widths, downsample=s.downsample))
    model = build_model(spec)
    history = fit(model, data["train"], data["val"], epochs=epochs, batch_size=s.batch_size, lr=s.lr,
                  weight_decay=s.weight_decay, device="cpu", seed=seed, progress=False)  # fmt: skip
    return model, history


def measure(model: nn.Module, val: Shapes, method: str) -> dict[str, float]:
    """Validation accuracy and localization of one model (percentages), with the threshold chosen there."""
    t0 = time.perf_counter()
    rep = localize(model, val, method)
    choice = tau_choice(rep, "val")
    s = rep.summary()
    return {
        "val_accuracy": round(100.0 - s["top1_cls_err"], 2),
        "val_max_box_acc": s["max_box_acc"],
        "val_max_box_acc_v2": s["max_box_acc_v2"],
        **{f"val_{k}": v for k, v in s.items() if k.startswith("max_box_acc_delta")},
        "val_pxap": s.get("pxap", float("nan")),
        "val_chosen_tau": choice.tau,
        "val_box_acc_at_chosen_tau": round(choice.box_acc, 2),
        "eval_seconds": round(time.perf_counter() - t0, 1),
    }


def summarise(runs: list[dict[str, Any]], key: str) -> dict[int, dict[str, float]]:
    """Per budget: mean, standard deviation (0 for one seed), min and max of ``key`` over the seeds."""
    out = {}
    for b in sorted({r["budget"] for r in runs}):
        v = [float(r[key]) for r in runs if r["budget"] == b]
        sd = statistics.stdev(v) if len(v) > 1 else 0.0
        out[b] = {"mean": statistics.fmean(v), "sd": sd, "min": min(v), "max": max(v), "n": len(v)}
    return out


def best_budget(runs: list[dict[str, Any]], key: str) -> int:
    """The budget with the highest mean of ``key`` over its seeds; exact ties go to the fewer epochs.

    >>> best_budget([{"budget": 1, "a": 2.0}, {"budget": 3, "a": 2.0}, {"budget": 2, "a": 1.0}], "a")
    1
    """
    means = summarise(runs, key)
    return max(sorted(means), key=lambda b: (round(means[b]["mean"], 6), -b))


def tied_with_best(runs: list[dict[str, Any]], key: str) -> list[int]:
    """The budgets whose mean of ``key`` is within one standard error (over the seeds) of the best mean.

    The standard error is the best budget's sd / sqrt(seeds); with one seed only exact ties count.

    >>> runs = [{"budget": b, "a": v} for b, v in [(1, 80.0), (1, 81.0), (2, 80.4), (2, 80.6), (3, 70.0), (3, 71.0)]]
    >>> tied_with_best(runs, "a")
    [1, 2]
    """
    means = summarise(runs, key)
    best = means[best_budget(runs, key)]
    se = best["sd"] / best["n"] ** 0.5
    return [b for b in sorted(means) if means[b]["mean"] >= best["mean"] - se - 1e-9]


#: each shipped name: the metric it maximises, and the one that breaks a tie within the seeds' noise
RULES = {
    "gap": [
        ("gap", "val_max_box_acc_v2", "val_accuracy"),
        ("gap_fast", "val_accuracy", "val_max_box_acc_v2"),
    ],
    "gmp": [("gmp", "val_max_box_acc_v2", "val_accuracy")],
    "fc": [("fc", "val_max_box_acc_v2", "val_accuracy")],
}


def select(runs: list[dict[str, Any]], arch: str) -> dict[str, dict[str, Any]]:
    """The selection rule, applied: zoo name -> the budget it ships and why (validation split only).

    GAP: ``gap`` = the budget with the best mean validation MaxBoxAccV2, ``gap_fast`` = the budget with the best
    mean validation accuracy. GMP and FC: the budget with the best validation MaxBoxAccV2. Budgets within one
    standard error of the best mean (over the seeds) are tied, and the tie goes to the better mean of the other
    metric (:data:`RULES`); the budget the metric alone picks is kept as ``by_metric_alone``.
    """
    seeds = sorted({r["seed"] for r in runs})
    out = {}
    for name, key, tie_break in RULES[arch]:
        tied = tied_with_best(runs, key)
        other = summarise(runs, tie_break)
        b = max(tied, key=lambda x: (round(other[x]["mean"], 6), -x))
        out[name] = {
            "budget": b,
            "metric": key,
            "mean": round(summarise(runs, key)[b]["mean"], 2),
            "tied_within_one_se": tied,
            "tie_break": tie_break,
            "by_metric_alone": best_budget(runs, key),
            "seeds": seeds,
            "shipped_seed": 0,
        }
    return out


def _path(out: Path, arch: str, suffix: str) -> Path:
    return out / (f"tradeoff{'' if arch == 'gap' else '_' + arch}{suffix}")


def _model_file(cache: Path, s: Settings, epochs: int) -> Path:
    tag = (
        f"{s.arch}_{s.method}_{'-'.join(map(str, s.widths))}_{s.image_size}px_{s.train_size}_e{epochs}_s0.pt"
    )
    return cache / tag


def sweep(s: Settings, budgets: list[int], seeds: list[int], out: Path, cache: Path) -> dict[str, Any]:
    """Train and measure every (budget, seed); the JSON is rewritten after each run (a rerun resumes)."""
    path = _path(out, s.arch, ".json")
    doc: dict[str, Any] = json.loads(path.read_text()) if path.is_file() else {}
    if doc.get("settings") != json.loads(json.dumps(asdict(s))):
        doc = {"settings": asdict(s), "runs": []}
    data = datasets(s)
    doc.update(val_images=len(data["val"]), split="val", method=s.method)
    if doc.setdefault("threads", torch.get_num_threads()) != torch.get_num_threads():
        raise SystemExit(
            f"{path.name} was measured with {doc['threads']} torch threads (the bits of a model depend on it): "
            f"rerun with --threads {doc['threads']}, or move the file away to start afresh"
        )
    for b in budgets:
        for seed in seeds:
            if any(r["budget"] == b and r["seed"] == seed for r in doc["runs"]):
                continue
            model, history = train_one(s, data, b, seed)
            run = {"budget": b, "seed": seed, **measure(model, data["val"], s.method)}
            run["train_seconds"] = round(history.train_seconds, 1)
            run["history_val_accuracy"] = round(history[-1].val_acc, 2)
            doc["runs"].append(run)
            if seed == 0:
                cache.mkdir(parents=True, exist_ok=True)
                spec = ModelSpec(s.arch, data["train"].num_classes, NetConfig(s.widths, s.downsample))
                torch.save({"spec": spec.to_dict(), "state": model.state_dict()}, _model_file(cache, s, b))
            print(f"{s.arch} {b} epochs seed {seed}: val acc {run['val_accuracy']:.1f}%, MaxBoxAccV2 "
                  f"{run['val_max_box_acc_v2']:.1f}, {run['train_seconds']:.0f} s", flush=True)  # fmt: skip
            doc["runs"].sort(key=lambda r: (r["budget"], r["seed"]))
            out.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(doc, indent=1) + "\n")
    return doc


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--arch", choices=("gap", "gmp", "fc"), default="gap")
    p.add_argument("--method", default=None, help="map method (default: cam; gradcam for fc)")
    p.add_argument("--budgets", default=None, help="epoch budgets, e.g. 1,2,3,5,8")
    p.add_argument("--seeds", default=None, help="training seeds, e.g. 0,1,2")
    p.add_argument(
        "--show", default=None, help="budgets whose seed-0 maps the figure shows (default: 3 of them)"
    )
    p.add_argument("--quick", action="store_true", help="tiny sizes, budgets 1,2, seeds 0,1 (a smoke test)")
    p.add_argument("--out", type=Path, default=REPORTS, help="folder of the JSON, markdown and figure")
    p.add_argument(
        "--cache", type=Path, default=None, help="folder for the seed-0 models (default: data/cache)"
    )
    p.add_argument("--report-only", action="store_true", help="redraw report and figure from the JSON")
    p.add_argument("--ship", nargs="*", choices=("gap", "gmp", "fc"), default=None, metavar="ARCH",
                   help="re-make the shipped checkpoints the reports select (of these sweeps; default: all)")  # fmt: skip
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's; recorded)")
    a = p.parse_args(argv)
    if a.threads:
        torch.set_num_threads(a.threads)
    s = QUICK if a.quick else Settings.of_profile("fast")
    s = replace(s, arch=a.arch, method=a.method or ("gradcam" if a.arch == "fc" else "cam"))
    default_budgets, default_seeds = ("1,2", "0,1") if a.quick else ("1,2,3,5,8", "0,1,2")
    budgets = sorted({int(v) for v in (a.budgets or default_budgets).split(",")})
    seeds = sorted({int(v) for v in (a.seeds or default_seeds).split(",")})
    if min(budgets) < 1 or 0 not in seeds:
        p.error("budgets must be >= 1 and the seeds must include 0 (the shipped checkpoints use seed 0)")
    cache = a.cache or (a.out / "models" if a.quick else CACHE)
    if a.ship is not None:
        return ship(a.out, a.ship or ["gap", "gmp", "fc"])
    if a.report_only:
        doc = json.loads(_path(a.out, s.arch, ".json").read_text())
        s = Settings(**{**doc["settings"], "widths": tuple(doc["settings"]["widths"])})
        budgets = sorted({r["budget"] for r in doc["runs"]})
    else:
        doc = sweep(s, budgets, seeds, a.out, cache)
    show = [int(v) for v in a.show.split(",")] if a.show else _default_show(budgets)
    if not set(show) <= set(budgets):
        p.error(f"--show {show}: every budget shown must be in the sweep {budgets}")
    write_report(doc, s, show, a.out, cache, sweep_command(doc, s, show, a.quick))
    return 0


def sweep_command(doc: dict[str, Any], s: Settings, show: list[int], quick: bool) -> str:
    """The command that makes this report from scratch (the same for the sweep and ``--report-only``)."""
    budgets = sorted({r["budget"] for r in doc["runs"]})
    seeds = sorted({r["seed"] for r in doc["runs"]})
    parts = ["--quick"] if quick else []
    parts += [
        "--threads",
        str(doc.get("threads", torch.get_num_threads())),
        "--arch",
        s.arch,
        "--method",
        s.method,
    ]
    parts += ["--budgets", ",".join(map(str, budgets)), "--seeds", ",".join(map(str, seeds))]
    parts += ["--show", ",".join(map(str, show))]
    return "python scripts/tradeoff.py " + shlex.join(parts)


def _default_show(budgets: list[int]) -> list[int]:
    return sorted({budgets[0], budgets[len(budgets) // 2], budgets[-1]})


def write_report(
    doc: dict[str, Any], s: Settings, show: list[int], out: Path, cache: Path, command: str
) -> None:
    """``tradeoff*.md`` (means and spreads per budget, the selection and why) and ``tradeoff*.png``."""
    from tradeoff_report import figure, markdown  # the report half of this script, beside it

    runs = doc["runs"]
    selection = select(runs, s.arch)
    doc["selection"] = selection
    _path(out, s.arch, ".json").write_text(json.dumps(doc, indent=1) + "\n")
    models = {}
    data = datasets(s)
    for b in show:
        f = _model_file(cache, s, b)
        if f.is_file():
            saved = torch.load(f, weights_only=True)
            model = build_model(ModelSpec.from_dict(saved["spec"]))
            model.load_state_dict(saved["state"])
        else:  # the cache was cleared: train the seed-0 model of this budget again
            model, _ = train_one(s, data, b, 0)
        models[b] = model.eval()
    fig = figure(doc, s.method, models, data["val"], FIGURE_CLASSES, selection)
    fig.savefig(_path(out, s.arch, ".png"), dpi=110)
    _path(out, s.arch, ".md").write_text(markdown(doc, selection, command, s))
    print(f"written {_path(out, s.arch, '.md').name}, .json, .png in {out}")


def ship(out: Path, archs: list[str]) -> int:
    """Re-make the shipped checkpoints the reports select, with ``python -m camlib train ... --zoo NAME``.

    Each manifest entry then records what it was selected on. The command's validation accuracy must equal the
    sweep's seed-0 run of that budget (the same model); a mismatch stops here.
    """
    manifest = REPO_ROOT / "data" / "checkpoints" / "manifest.json"
    help_text = subprocess.run([sys.executable, "-m", "camlib", "train", "--help"], capture_output=True,
                               text=True, cwd=REPO_ROOT, check=True).stdout  # fmt: skip
    force = ["--force"] if "--force" in help_text else []
    for arch in archs:
        path = _path(out, arch, ".json")
        if not path.is_file():
            print(f"no {path.name}: run the {arch} sweep first", file=sys.stderr)
            return 2
        doc = json.loads(path.read_text())
        s = Settings(**{**doc["settings"], "widths": tuple(doc["settings"]["widths"])})
        for name, sel in select(doc["runs"], arch).items():
            b = sel["budget"]
            argv = [
                *s.train_argv(b, 0, get_profile(s.profile).test_size),
                "--no-progress",
                "--zoo",
                name,
                *force,
                *(
                    "--threads",
                    str(doc.get("threads", torch.get_num_threads())),
                ),  # the same bits as the sweep
            ]
            print("python -m camlib " + shlex.join(argv), flush=True)
            r = subprocess.run([sys.executable, "-m", "camlib", *argv, "--json"], capture_output=True,
                               text=True, cwd=REPO_ROOT)  # fmt: skip
            if r.returncode != 0:
                print(r.stderr, file=sys.stderr)
                return r.returncode
            result = json.loads(r.stdout[r.stdout.index("{") :])
            swept = next(x for x in doc["runs"] if x["budget"] == b and x["seed"] == 0)
            got = round(result["metrics"]["val_accuracy"], 2)
            if abs(got - swept["history_val_accuracy"]) > 1e-6:
                print(f"{name}: the command's val accuracy {got} differs from the sweep's "
                      f"{swept['history_val_accuracy']}: not the same model", file=sys.stderr)  # fmt: skip
                return 1
            entries = json.loads(manifest.read_text())
            entries["checkpoints"][name]["selection"] = {
                "selected_on": f"validation split ({doc['val_images']} boxed images), never test",
                "metric": f"mean {sel['metric']} over seeds {sel['seeds']} ({doc['method']})",
                "budget_epochs": b,
                "budgets_compared": sorted({x["budget"] for x in doc["runs"]}),
                "value": sel["mean"],
                "seed_0_value": swept[sel["metric"]],
                "tied_within_one_se": sel["tied_within_one_se"],
                "tie_break": sel["tie_break"],
                "by_metric_alone": sel["by_metric_alone"],
                "threads": doc.get("threads"),
                "report": f"reports/{path.with_suffix('.md').name}",
            }
            tmp = manifest.with_name(".manifest.json.tmp")
            tmp.write_text(json.dumps(entries, indent=2) + "\n")
            os.replace(tmp, manifest)
            print(f"{name}: {b} epochs, test accuracy {result['metrics']['test_accuracy']:.2f}%", flush=True)
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    sys.exit(main())
