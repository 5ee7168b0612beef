"""The course's command line: ``python -m camlib {train,evaluate,reproduce,doctor,prefetch} --help``.

Each command lives in the module that owns its concept and registers itself with ``add_cli(subparsers)``.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

# module -> it registers these sub-commands
COMMAND_MODULES = ("camlib.train", "camlib.reproduce", "camlib.doctor", "camlib.prefetch")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m camlib",
        description="Class Activation Mapping course tools (Zhou et al., CVPR 2016).",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(name).add_cli(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
