"""The course's command line: ``python -m camlib {train,evaluate,reproduce,doctor,prefetch} --help``.

Each command lives in the room that owns its concept and registers itself with ``add_cli(subparsers)``.

A user error never ends in a Python traceback: a bad argument is refused by the parser (one line, exit status
2, see :class:`camlib.profile.CommandParser`), and the course's own error types raised by a command
(:data:`USER_ERRORS`: a bad checkpoint, an existing output file, a missing dataset, an unknown zoo name, a
setting out of range) are printed as ``error: ...`` on one line naming the fix, exit status 2. Anything else is
a bug of camlib and keeps its traceback.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from camlib import doctor, prefetch, reproduce
from camlib.checkpoint import CheckpointError
from camlib.data.folder import DatasetNotFoundError, ImageFileError
from camlib.files import DestinationError
from camlib.prefetch import PrefetchError
from camlib.profile import CommandParser, SettingError
from camlib.train import cli as train_cli
from camlib.zoo import ZooError

# each registers its sub-commands: train and evaluate, reproduce, doctor, prefetch
COMMAND_MODULES = (train_cli, reproduce, doctor, prefetch)

#: the course's own errors: the user's input or files are wrong, and the message says how to fix them
USER_ERRORS: tuple[type[BaseException], ...] = (
    CheckpointError,
    DatasetNotFoundError,
    DestinationError,
    ImageFileError,
    PrefetchError,
    SettingError,
    ZooError,
)


def build_parser() -> CommandParser:
    parser = CommandParser(
        prog="python -m camlib",
        description="Class Activation Mapping course tools (Zhou et al., CVPR 2016).",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in COMMAND_MODULES:
        module.add_cli(sub)
    return parser


def one_line(exc: BaseException) -> str:
    """The message of ``exc`` on one line (a multi-line message's lines joined with ``; ``).

    >>> one_line(ValueError("no file\\n  fix: fetch it"))
    'no file; fix: fetch it'
    """
    text = exc.args[0] if isinstance(exc, KeyError) and exc.args else str(exc)
    return "; ".join(line.strip() for line in str(text).splitlines() if line.strip())


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``python -m camlib ARGV``; return the exit status (2 for a user error, printed on stderr)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except USER_ERRORS as exc:
        print(f"error: {one_line(exc)}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
