"""What `autorec record|stop|auto|recordings` print, from channel and recording views (pure)."""

from __future__ import annotations

import io
from dataclasses import replace
from datetime import UTC, datetime

from rich.console import Console, RenderableType

from worker.cli.manual_output import channel_line, recording_table
from worker.state.views import (
    AgoraErrorView,
    ChannelView,
    FileView,
    OverrideView,
    RecordingView,
)

SID = "38f8e3cfdc474cd56fc1ceba380d7e1a"
STARTED = datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)
FINISHED = RecordingView(
    id=SID, channel="room-1", sid=SID, resource_id="res", recorder_uid=4200000001,
    mode="individual", streams="audio", started_at=STARTED,
    stopped_at=datetime(2023, 11, 14, 22, 14, 25, tzinfo=UTC), duration_s=65.0,
    state="finished", outcome="stopped", stop_reason="manual", error=None,
    upload_status="uploaded", files=[FileView("a.m3u8"), FileView("a_0.ts")],
)  # fmt: skip


def _text(renderable: RenderableType) -> list[list[str]]:
    out = io.StringIO()
    Console(file=out, width=160, color_system=None).print(renderable)
    return [line.split() for line in out.getvalue().splitlines() if line.strip()]


def _channel(**changes: object) -> ChannelView:
    fields: dict[str, object] = {
        "channel": "room-1", "state": "idle", "occupancy": 0, "desired": False,
        "override": None, "waiting_position": None, "recording": None,
    }  # fmt: skip
    fields.update(changes)
    return ChannelView(**fields)  # type: ignore[arg-type]


def test_a_finished_recording_shows_outcome_stop_reason_files_and_upload_status() -> None:
    rows = _text(recording_table(FINISHED))
    assert ["outcome", "stopped"] in rows
    assert ["stop", "reason", "manual"] in rows
    assert ["upload", "status", "uploaded"] in rows
    files = rows.index(["files", "a.m3u8"])
    assert rows[files + 1] == ["a_0.ts"]
    assert ["duration", "1:05"] in rows
    assert ["mode", "individual,", "audio"] in rows


def test_a_failed_recording_shows_agoras_error() -> None:
    failed = replace(
        FINISHED,
        outcome="failed",
        error=AgoraErrorView(status=400, code=2, reason="invalid appid"),
        files=[],
    )
    rows = _text(recording_table(failed))
    assert ["error", "HTTP", "400", "code", "2:", "invalid", "appid"] in rows
    assert ["files", "—"] in rows


def test_a_waiting_channel_shows_its_place_in_line() -> None:
    view = _channel(state="waiting", occupancy=2, desired=True, waiting_position=3)
    assert channel_line("room-1", view) == (
        "room-1: waiting (#3 in line for a slot) · 2 users · automatic"
    )


def test_an_override_with_an_expiry_says_until_when() -> None:
    override = OverrideView(record="always", until_empty=False, expires_at=STARTED, set_at=STARTED)
    view = _channel(desired=True, override=override)
    assert channel_line("room-1", view).endswith("override always until 2023-11-14 22:13:20 UTC")


def test_a_recording_whose_sid_is_not_known_yet_says_so() -> None:
    starting = replace(FINISHED, sid=None, state="starting")
    view = _channel(state="starting", occupancy=1, desired=True, recording=starting)
    assert channel_line("room-1", view) == (
        "room-1: starting · sid not known yet · individual, audio · 1 user · automatic"
    )


def test_a_channel_never_seen_reads_idle_and_automatic() -> None:
    assert channel_line("room-9", None) == "room-9: idle · never seen · automatic"
