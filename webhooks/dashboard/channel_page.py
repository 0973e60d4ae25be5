"""A channel's dashboard page: its state, recordings and a timeline from what Redis keeps.

Redis keeps no log of a channel's events, so the timeline is assembled from what remains:
each uid's last join or leave (the members hash, tombstones included), when the channel
became empty or closed (the channel hash), each finished recording's decision, start and
end with Agora's answer (the history), the channel's entries among the recent failures, and
the current override. The page says so.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Final

import redis.asyncio as aioredis

from worker import keys
from worker.state.channel_state import Member, parse_channel_state, parse_member
from worker.state.history import HistoryEntry
from worker.state.views import ChannelReader, ChannelView, RecordingView, at, history_view

#: Failures read to find the channel's among them (the list keeps this many).
FAILURES_READ: Final = 200
#: The timeline's rows shown at most.
TIMELINE_SHOWN: Final = 100


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    """One line of a channel's timeline."""

    at: datetime
    kind: str
    """`event`, `decision`, `agora`, `override` or `failure` (also its CSS class)."""
    text: str


@dataclass(frozen=True, slots=True)
class ChannelPage:
    """Everything a channel's page shows."""

    now: datetime
    channel: ChannelView
    recordings: list[RecordingView]
    timeline: list[TimelineEntry] = field(default_factory=list)
    history_days: float = 0.0


def _ms(sec: int, usec: int) -> int:
    return int(sec) * 1000 + int(usec) // 1000


def _member_line(member: Member) -> TimelineEntry | None:
    moment = at(member.ts_ms)
    if moment is None:
        return None
    verb = "joined" if member.present else "left"
    return TimelineEntry(moment, "event", f"uid {member.uid} {verb} ({member.role.value})")


def _recording_lines(entry: HistoryEntry) -> list[TimelineEntry]:
    view = history_view(entry)
    lines = []
    requested = at(entry.created_ms)
    assert requested is not None
    lines.append(
        TimelineEntry(requested, "decision", f"start decided ({entry.mode.value}, {entry.policy})")
    )
    if view.started_at is not None:
        lines.append(TimelineEntry(view.started_at, "agora", f"started, sid {entry.sid}"))
    ended = view.stopped_at or requested
    text = f"ended: {view.outcome}"
    if view.stop_reason:
        text += f", stop reason {view.stop_reason}"
    if view.error is not None:
        code = f" code {view.error.code}" if view.error.code is not None else ""
        text += f", Agora {view.error.status or ''}{code} {view.error.reason}".rstrip()
    lines.append(TimelineEntry(ended, "agora" if view.error else "decision", text))
    return lines


async def read_channel(
    redis: aioredis.Redis[bytes], reader: ChannelReader, channel: str
) -> ChannelPage | None:
    """The channel's page; None if the channel is not known."""
    view = await reader.channel(channel)
    if view is None:
        return None
    history = reader.history
    async with redis.pipeline(transaction=False) as pipe:
        pipe.time()
        pipe.hgetall(keys.channel(channel))
        pipe.hgetall(keys.channel_members(channel))
        (sec, usec), raw_state, raw_members = await pipe.execute()
    now = at(_ms(sec, usec))
    assert now is not None
    entries = await history.history(channel)
    timeline: list[TimelineEntry] = []
    for uid, record in raw_members.items():
        line = _member_line(parse_member(int(uid), record))
        if line is not None:
            timeline.append(line)
    state = parse_channel_state(raw_state)
    if state is not None and state.empty_since_ms is not None:
        moment = at(state.empty_since_ms)
        assert moment is not None
        timeline.append(TimelineEntry(moment, "decision", "channel empty: stop after the grace"))
    if state is not None and state.closed_ts_ms is not None:
        moment = at(state.closed_ts_ms)
        assert moment is not None
        timeline.append(TimelineEntry(moment, "event", "channel closed"))
    for entry in entries:
        timeline.extend(_recording_lines(entry))
    current = view.recording
    if current is not None and current.started_at is not None:
        timeline.append(TimelineEntry(current.started_at, "agora", f"started, sid {current.sid}"))
    if view.override is not None:
        until = " until the channel is empty" if view.override.until_empty else ""
        if view.override.expires_at is not None:
            until += f", expires {view.override.expires_at:%Y-%m-%d %H:%M:%S} UTC"
        timeline.append(
            TimelineEntry(
                view.override.set_at, "override", f"override {view.override.record}{until}"
            )
        )
    for failure in await history.recent_failures(FAILURES_READ):
        if failure.channel == channel:
            moment = at(failure.at_ms)
            assert moment is not None
            timeline.append(TimelineEntry(moment, "failure", f"{failure.what}: {failure.error}"))
    timeline.sort(key=lambda line: line.at, reverse=True)
    return ChannelPage(
        now=now,
        channel=view,
        recordings=[history_view(e) for e in entries],
        timeline=timeline[:TIMELINE_SHOWN],
        history_days=history.keep_ms / 86_400_000,
    )
