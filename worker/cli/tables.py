"""How the `autorec` commands print tables, durations and times (pure)."""

from __future__ import annotations

from datetime import UTC, datetime

from rich import box
from rich.table import Table


def table(title: str | None) -> Table:
    """A table with a left-aligned title and a line under the header, as `autorec status`."""
    return Table(
        title=title, title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False,
        collapse_padding=True,
    )  # fmt: skip


def duration(seconds: float | None) -> str:
    """`m:ss` or `h:mm:ss`; `—` when unknown."""
    if seconds is None:
        return "—"
    whole = int(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def clock_ms(ms: int) -> str:
    """Milliseconds since the epoch as `YYYY-MM-DD HH:MM:SS` (UTC)."""
    return clock(datetime.fromtimestamp(ms / 1000, tz=UTC))


def clock(moment: datetime | None) -> str:
    """An aware datetime as `YYYY-MM-DD HH:MM:SS` (UTC); `—` when unknown."""
    if moment is None:
        return "—"
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")
