"""What `autorec record|stop|auto|recordings` print: a channel as one line, a recording as a
small table, the catalog as a table or JSON (pure: views in, text or rich tables out)."""

from __future__ import annotations

from collections.abc import Sequence

import orjson
from rich.table import Table

from worker.cli import tables
from worker.state.views import ChannelView, OverrideView, RecordingView

_JSON_OPTIONS = orjson.OPT_UTC_Z
"""Datetimes as RFC 3339 in UTC with a `Z`."""


def channel_line(channel: str, view: ChannelView | None) -> str:
    """The channel in one line: state, place in line, recording, users, override."""
    if view is None:
        return f"{channel}: idle · never seen · automatic"
    parts = [f"{view.channel}: {_state(view)}"]
    recording = view.recording
    if recording is not None:
        parts.append(f"sid {recording.sid}" if recording.sid else "sid not known yet")
        parts.append(_mode(recording))
    parts.append(f"{view.occupancy} user{_s(view.occupancy)}")
    parts.append(override_text(view.override))
    return " · ".join(parts)


def _state(view: ChannelView) -> str:
    state = view.state
    if view.waiting_position is not None:
        state = f"{state} (#{view.waiting_position} in line for a slot)"
    if view.desired and view.state == "idle":
        return f"{state}, recording wanted"
    if not view.desired and view.state in ("starting", "recording"):
        return f"{state}, stop wanted"
    return state


def _mode(recording: RecordingView) -> str:
    if recording.streams:
        return f"{recording.mode}, {recording.streams}"
    return recording.mode


def override_text(override: OverrideView | None) -> str:
    """`automatic`, or what the override holds and until when."""
    if override is None:
        return "automatic"
    text = f"override {override.record}"
    ends = []
    if override.until_empty:
        ends.append("the channel is next empty")
    if override.expires_at is not None:
        ends.append(f"{tables.clock(override.expires_at)} UTC")
    return f"{text} until {' or '.join(ends)}" if ends else text


def recording_table(recording: RecordingView) -> Table:
    """One recording as a two-column table (field, value)."""
    table = tables.table(f"Recording {recording.id}")
    table.show_header = False
    table.add_column("field", style="bold", no_wrap=True)
    table.add_column("value", overflow="fold")
    rows: list[tuple[str, str]] = [
        ("channel", recording.channel),
        ("sid", recording.sid or "—"),
        ("mode", _mode(recording)),
        ("recorder uid", str(recording.recorder_uid)),
        ("started (UTC)", tables.clock(recording.started_at)),
        ("stopped (UTC)", tables.clock(recording.stopped_at)),
        ("duration", tables.duration(recording.duration_s)),
        ("state", recording.state),
        ("outcome", recording.outcome or "—"),
        ("stop reason", recording.stop_reason or "—"),
        ("upload status", recording.upload_status or "—"),
        ("files", "\n".join(f.filename for f in recording.files) or "—"),
    ]
    if recording.error is not None:
        error = recording.error
        status = f"HTTP {error.status}" if error.status is not None else ""
        code = f" code {error.code}" if error.code is not None else ""
        rows.append(("error", f"{status}{code}: {error.reason}" if status else error.reason))
    for name, value in rows:
        table.add_row(name, value)
    return table


def catalog_table(recordings: Sequence[RecordingView]) -> Table:
    """The catalog, newest first, one row per recording."""
    table = tables.table("Recordings (newest first)")
    table.add_column("id", no_wrap=True, min_width=32)  # Agora sids: 32 hex characters
    table.add_column("channel", overflow="fold", min_width=12)
    table.add_column("mode", no_wrap=True)
    table.add_column("streams", no_wrap=True)
    table.add_column("started (UTC)", no_wrap=True)
    table.add_column("duration", justify="right", no_wrap=True)
    table.add_column("outcome", no_wrap=True)
    table.add_column("stop reason", no_wrap=True)
    table.add_column("files", justify="right", no_wrap=True)
    table.add_column("upload", no_wrap=True)
    for recording in recordings:
        table.add_row(
            recording.id,
            recording.channel,
            recording.mode,
            recording.streams or "—",
            tables.clock(recording.started_at),
            tables.duration(recording.duration_s),
            recording.outcome or "—",
            recording.stop_reason or "—",
            str(len(recording.files)),
            recording.upload_status or "—",
        )
    return table


def no_recordings(channel: str | None) -> str:
    """What `autorec recordings` says when the catalog has nothing to show."""
    return "No recordings." if channel is None else f"No recordings of {channel!r}."


def recording_json(recording: RecordingView) -> str:
    """One recording as design §4's recording object (times RFC 3339, UTC)."""
    return orjson.dumps(recording, option=_JSON_OPTIONS).decode()


def catalog_json(recordings: Sequence[RecordingView]) -> str:
    """The catalog as one JSON array."""
    return orjson.dumps(list(recordings), option=_JSON_OPTIONS).decode()


def catalog_json_lines(recordings: Sequence[RecordingView]) -> str:
    """The catalog as JSON lines, one recording per line (no trailing newline)."""
    return "\n".join(recording_json(recording) for recording in recordings)


def _s(count: int) -> str:
    return "" if count == 1 else "s"
