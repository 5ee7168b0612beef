"""The ``reproduce`` command of ``python -m camlib``."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from camlib.cam import METHODS
from camlib.files import REPO_ROOT, check_destination
from camlib.profile import SettingError, device_name, get_profile, non_negative_int, positive_int
from camlib.reproduce.compare import ROWS, run
from camlib.reproduce.methods import run_methods, write_methods
from camlib.reproduce.real import DATASETS, add_options, main_real, refuse_mixed_options
from camlib.reproduce.report import SUFFIXES, write

REPORTS_DIR = REPO_ROOT / "reports"


def add_cli(subparsers: Any) -> None:
    """Register ``reproduce`` on the ``python -m camlib`` parser."""
    from camlib import reproduce  # the package's docstring is the command's description

    p = subparsers.add_parser(
        "reproduce",
        help="the paper's GAP vs GMP vs backprop comparison on the embedded dataset",
        description=reproduce.__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--profile",
        choices=("fast", "full"),
        default=None,
        help="profile for --train: fast re-runs the recorded commands as they are, full swaps in the full "
        "profile's data sizes (default: in force)",
    )
    p.add_argument(
        "--train",
        action="store_true",
        help="retrain the three models with the commands recorded in data/checkpoints/manifest.json",
    )
    p.add_argument(
        "--methods",
        nargs="+",
        choices=sorted(METHODS),
        default=[],
        metavar="METHOD",
        help=f"also compare these map methods on the GAP network: any of {', '.join(sorted(METHODS))}",
    )
    p.add_argument(
        "--methods-limit",
        type=positive_int,
        default=100,
        help="with --methods: also judge every method on the first N test images (reports/methods_PROFILE.md)",
    )
    p.add_argument(
        "--wsol",
        action="store_true",
        help="instead of the comparison: the WSOL table (CAM, HaS, CutMix, ADL x 3 seeds) from "
        "data/checkpoints/wsol/ into reports/wsol_PROFILE.md; with --train they are re-trained and shipped first "
        "(about 70 min on one CPU thread)",
    )
    p.add_argument("--seed", type=non_negative_int, default=0, help="seed for --train (an integer >= 0)")
    p.add_argument("--device", type=device_name, default="cpu", help="cpu, cuda, cuda:0, mps")
    p.add_argument("--limit", type=positive_int, default=None, help="measure only the first N test images")
    p.add_argument(
        "--val-limit",
        type=positive_int,
        default=None,
        help="choose the thresholds on the first N validation images (default: the whole validation split)",
    )
    p.add_argument(
        "--out", type=Path, default=None, help="folder for the markdown, JSON and figure (default: reports/)"
    )
    p.add_argument("--json", action="store_true", help="print machine-readable JSON instead of tables")
    p.add_argument(
        "--dataset", choices=("shapes", *DATASETS), default="shapes",
        help="shapes: the embedded comparison; cub, pets: CAM on real photos, a fine-tuned pretrained backbone",
    )  # fmt: skip
    add_options(p)
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    """Handler of ``python -m camlib reproduce``."""
    if args.wsol:
        given = [f for f, v in (("--dataset", args.dataset != "shapes"), ("--methods", args.methods),
                                ("--limit", args.limit), ("--val-limit", args.val_limit)) if v]  # fmt: skip
        if given:
            raise SettingError(
                f"--wsol measures the shipped WSOL checkpoints on their whole test split; {', '.join(given)} "
                f"belong to the comparison: run `python -m camlib reproduce --wsol` on its own"
            )
    if args.dataset != "shapes":
        return main_real(args, REPORTS_DIR)
    refuse_mixed_options(args)
    profile = args.profile or get_profile().name
    out = args.out or REPORTS_DIR
    for suffix in SUFFIXES:  # a report is regenerated (replaced), but a bad --out fails before any work
        check_destination(out / f"reproduce_{profile}{suffix}", force=True)
    if args.wsol:  # the WSOL methods, tuned on validation (camlib/reproduce/wsol.py)
        from camlib.reproduce.wsol import reproduce_wsol

        for suffix in (".md", ".json"):
            check_destination(out / f"wsol_{profile}{suffix}", force=True)
        print(reproduce_wsol(out, profile=profile, train=args.train, device=str(args.device)))
        return 0
    t0 = time.perf_counter()
    comparison = run(
        train=args.train,
        profile=profile,
        seed=args.seed,
        device=args.device,
        limit=args.limit,
        val_limit=args.val_limit,
        methods=tuple(args.methods),
    )
    seconds = time.perf_counter() - t0
    rows = {r.label: r.model for r in ROWS} | {
        label: "gap" for label in comparison.reports if label not in {r.label for r in ROWS}
    }
    md, payload = write(comparison, rows, profile, seconds, out)
    if args.json:
        meta = ("profile", "source", "test_images", "seconds")
        print(json.dumps(payload["rows"] | {"_meta": {k: payload[k] for k in meta} | {
            "val_images": comparison.val_images, "tau_split": "val"}}, indent=1))  # fmt: skip
    else:
        print(md)
        print(f"({seconds:.0f} s; written to {out.name}/reproduce_{profile}.md, .json, .png)")
    if args.methods:  # every method judged every way (camlib/reproduce/methods.py)
        table, took = run_methods(args.methods, limit=args.methods_limit, device=str(args.device))
        print(write_methods(table, profile, took, out))
    return 0
