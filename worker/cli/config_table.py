"""Render the README's configuration table from the `Settings` field descriptions.

`python -m worker.cli.config_table` prints the table; `--write README.md` replaces the table
between the `<!-- config-table:start -->` / `<!-- config-table:end -->` markers, and
`--check README.md` exits 1 when the file's table is stale.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from pydantic.fields import FieldInfo

from worker.settings import Settings

START_MARKER = "<!-- config-table:start -->"
END_MARKER = "<!-- config-table:end -->"


class MarkerError(ValueError):
    """The target file lacks the start/end markers, or has them out of order."""


def render() -> str:
    """The Markdown table (variable, meaning, default) of every `Settings` field."""
    lines = ["| variable | meaning | default |", "|---|---|---|"]
    for name, field in Settings.model_fields.items():
        meaning = _cell(field.description or "")
        lines.append(f"| `{name.upper()}` | {meaning} | {_default(field)} |")
    return "\n".join(lines) + "\n"


def replace_table(text: str, table: str) -> str:
    """`text` with everything between the markers replaced by `table`."""
    start = text.find(START_MARKER)
    end = text.find(END_MARKER)
    if start < 0 or end < 0 or end < start:
        raise MarkerError(f"expected {START_MARKER} followed by {END_MARKER}")
    head = text[: start + len(START_MARKER)]
    return f"{head}\n{table}{text[end:]}"


def _default(field: FieldInfo) -> str:
    value = field.default
    if value is None or value == []:
        return "—"
    if isinstance(value, list):
        value = ",".join(f"{item:g}" if isinstance(item, float) else str(item) for item in value)
    return f"`{_cell(str(value))}`"


def _cell(text: str) -> str:
    """Text safe inside one Markdown table cell."""
    return " ".join(text.split()).replace("|", "\\|")


def main(argv: Sequence[str] | None = None) -> int:
    """Print the table, or write/check it in a Markdown file between the markers."""
    parser = argparse.ArgumentParser(
        prog="python -m worker.cli.config_table",
        description="Render the configuration table from the Settings field descriptions.",
    )
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--write", metavar="FILE", type=Path, help="update the table in FILE")
    group.add_argument("--check", metavar="FILE", type=Path, help="exit 1 if FILE is stale")
    args = parser.parse_args(argv)
    table = render()
    target: Path | None = args.write or args.check
    if target is None:
        sys.stdout.write(table)
        return 0
    try:
        text = target.read_text(encoding="utf-8")
        updated = replace_table(text, table)
    except (OSError, MarkerError) as exc:
        print(f"error: {target}: {exc}", file=sys.stderr)
        return 2
    if args.check:
        if updated != text:
            print(f"{target}: configuration table is stale; run with --write", file=sys.stderr)
            return 1
        return 0
    if updated != text:
        target.write_text(updated, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
