"""docs/ERRORS.md is the table of tests/error_cases.py: this test fails when they disagree.

Regenerate the document after changing the catalogue: ``.venv/bin/python tests/test_errors_doc.py``.
"""

from __future__ import annotations

import sys
from pathlib import Path

from error_cases import ACCEPTED, CASES, CLI_CASES, GROUPS

DOC = Path(__file__).resolve().parents[1] / "docs" / "ERRORS.md"
BEGIN, END = "<!-- BEGIN GENERATED from tests/error_cases.py -->", "<!-- END GENERATED -->"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def table() -> str:
    """The generated part of docs/ERRORS.md: per class of failure, its count of cases and one row each."""
    out = []
    for key, title in GROUPS.items():
        api = [c for c in CASES if c.group == key]
        cli = [c for c in CLI_CASES if c.group == key]
        ok = [a for a in ACCEPTED if a.group == key]
        out += [
            f"### {title} ({len(api) + len(cli) + len(ok)} cases: {len(api)} in the API, {len(cli)} on the "
            f"command line, {len(ok)} that now work{'s' if len(ok) == 1 else ''})",
            "",
            "| bad input | what it gets | the message names |",
            "|---|---|---|",
        ]
        out += [f"| `{_cell(c.bad)}` | `{c.error.__name__}` | {_cell(c.fix)} |" for c in api]
        out += [f"| `{_cell(c.bad)}` | exit status 2, one line on stderr | {_cell(c.fix)} |" for c in cli]
        out += [f"| `{_cell(a.bad)}` | works: {_cell(a.gets)} | — |" for a in ok]
        out.append("")
    total = len(CASES) + len(CLI_CASES) + len(ACCEPTED)
    return f"{total} cases in all.\n\n" + "\n".join(out).rstrip() + "\n"


def rewrite(text: str) -> str:
    head, _, rest = text.partition(BEGIN)
    _, _, tail = rest.partition(END)
    return f"{head}{BEGIN}\n{table()}{END}{tail}"


def test_errors_md_is_the_catalogue() -> None:
    text = DOC.read_text(encoding="utf-8")
    assert BEGIN in text and END in text, f"{DOC} lost its markers"
    assert rewrite(text) == text, (
        "docs/ERRORS.md is out of date: run .venv/bin/python tests/test_errors_doc.py"
    )


if __name__ == "__main__":
    DOC.write_text(rewrite(DOC.read_text(encoding="utf-8")), encoding="utf-8")
    print(f"wrote {DOC.relative_to(DOC.parents[1])}", file=sys.stderr)
