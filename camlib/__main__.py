"""The course's command line: ``python -m camlib {train,evaluate,reproduce,doctor,prefetch} --help``.

Each command lives in the room that owns its concept and registers itself with ``add_cli(subparsers)``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from camlib import doctor, prefetch, reproduce
from camlib.train import cli as train_cli

# each registers its sub-commands: train and evaluate, reproduce, doctor, prefetch
COMMAND_MODULES = (train_cli, reproduce, doctor, prefetch)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m camlib",
        description="Class Activation Mapping course tools (Zhou et al., CVPR 2016).",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in COMMAND_MODULES:
        module.add_cli(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
