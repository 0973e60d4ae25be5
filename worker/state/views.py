"""What the app-facing API, the CLI and the dashboard show of a channel and its recordings.

Read-only views over the state the controller keeps (channel hash, session, history,
override, waiting queue), shaped as design §4's channel and recording objects. Pure mapping
functions (`recording_view`, `channel_view`) are apart from the Redis reads
(`ChannelReader`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Final

import redis.asyncio as aioredis

from worker import keys
from worker.state.channel_state import ChannelState, parse_channel_state
from worker.state.files import RecordingFile
from worker.state.history import (
    MAX_DURATION_STOP_REASON,
    HistoryEntry,
    HistoryStore,
    Outcome,
    recording_id,
)
from worker.state.overrides import MANUAL_STOP_REASON, Override, desire
from worker.state.sessions import Session, SessionState

#: Stop reasons the API names; any other reason the controller gave reads `policy`.
STOP_REASONS: Final = frozenset(
    {"empty", MANUAL_STOP_REASON, MAX_DURATION_STOP_REASON, "leak", "agora"}
)
_ERROR: Final = re.compile(r"HTTP (?P<status>\d{3})(?: code (?P<code>-?\d+))?(?:: (?P<reason>.*))?")
_OUTCOMES: Final = {
    Outcome.STOPPED: "stopped",
    Outcome.NO_RECORDED_DATA: "stopped",
    Outcome.ALREADY_STOPPING: "stopped",
    Outcome.NOT_FOUND: "stopped",
    Outcome.DIED: "died",
    Outcome.EXITED: "died",
    Outcome.SID_UNKNOWN: "died",
    Outcome.START_FAILED: "failed",
    Outcome.CANCELLED: "failed",
}
_SESSION_STATES: Final = {
    SessionState.ACQUIRING: "starting",
    SessionState.STARTING: "starting",
    SessionState.STARTED: "recording",
    SessionState.RUNNING: "recording",
    SessionState.SID_UNKNOWN: "recording",
    SessionState.STOPPING: "stopping",
}


@dataclass(frozen=True, slots=True)
class AgoraErrorView:
    """The Agora answer that failed a recording."""

    status: int | None
    code: int | None
    reason: str


#: One file a recording wrote (what is known of it): the stored file already has the
#: fields of design §4's file object.
FileView = RecordingFile


@dataclass(frozen=True, slots=True)
class RecordingView:
    """Design §4's recording object."""

    id: str
    channel: str
    sid: str | None
    resource_id: str | None
    recorder_uid: int
    mode: str
    streams: str | None
    started_at: datetime | None
    stopped_at: datetime | None
    duration_s: float | None
    state: str
    """`starting`, `recording`, `stopping` while current; `finished` once ended."""
    outcome: str | None
    stop_reason: str | None
    error: AgoraErrorView | None
    upload_status: str | None
    files: list[FileView] = field(default_factory=list)
    segment: int = 1
    """Its place in its logical recording (from 1)."""
    logical_id: str = ""
    """The id its segments share (the first segment's id)."""


@dataclass(frozen=True, slots=True)
class OverrideView:
    """A channel's manual override."""

    record: str
    until_empty: bool
    expires_at: datetime | None
    set_at: datetime


@dataclass(frozen=True, slots=True)
class ChannelView:
    """Design §4's channel object."""

    channel: str
    state: str
    """`idle`, `waiting`, `starting`, `recording` or `stopping`."""
    occupancy: int
    desired: bool
    override: OverrideView | None
    waiting_position: int | None
    recording: RecordingView | None


def at(ms: int | None) -> datetime | None:
    """Milliseconds since the epoch as an aware UTC datetime."""
    return None if ms is None else datetime.fromtimestamp(ms / 1000, tz=UTC)


def agora_error(text: str | None) -> AgoraErrorView | None:
    """The Agora status, code and reason of a stored error line, if it holds one."""
    if not text:
        return None
    found = _ERROR.search(text)
    if found is None:
        return AgoraErrorView(status=None, code=None, reason=text)
    code = found.group("code")
    reason = (found.group("reason") or "").split(" (")[0].strip()
    return AgoraErrorView(
        status=int(found.group("status")),
        code=int(code) if code is not None else None,
        reason=reason or text,
    )


def _stop_reason(reason: str | None) -> str | None:
    if reason is None:
        return None
    return reason if reason in STOP_REASONS else "policy"


def _upload_status(status: str | None, files: tuple[RecordingFile, ...]) -> str | None:
    if status in ("uploaded", "backuped"):
        return status
    return "unknown" if files else None


def _duration(started_ms: int | None, ended_ms: int | None) -> float | None:
    if started_ms is None or ended_ms is None:
        return None
    return max(0.0, (ended_ms - started_ms) / 1000)


def session_view(session: Session, now_ms: int) -> RecordingView:
    """A current session as a recording object."""
    rid = recording_id(session.sid, session.created_ms, session.uid)
    return RecordingView(
        id=rid,
        channel=session.channel,
        sid=session.sid,
        resource_id=session.resource_id,
        recorder_uid=session.uid,
        mode=session.mode.value,
        streams=session.streams,
        started_at=at(session.started_ms),
        stopped_at=None,
        duration_s=_duration(session.started_ms, now_ms),
        state=_SESSION_STATES[session.state],
        outcome=None,
        stop_reason=_stop_reason(session.stop_reason),
        error=agora_error(session.last_error),
        upload_status=_upload_status(session.uploading_status, session.files),
        files=list(session.files),
        segment=session.segment,
        logical_id=session.logical_id or rid,
    )


def history_view(entry: HistoryEntry) -> RecordingView:
    """A finished recording as a recording object."""
    rid = entry.id
    outcome = _OUTCOMES[entry.outcome]
    return RecordingView(
        id=rid,
        channel=entry.channel,
        sid=entry.sid,
        resource_id=entry.resource_id,
        recorder_uid=entry.uid,
        mode=entry.mode.value,
        streams=entry.streams,
        started_at=at(entry.started_ms),
        stopped_at=at(entry.ended_ms),
        duration_s=_duration(entry.started_ms, entry.ended_ms),
        state="finished",
        outcome=outcome,
        stop_reason=_stop_reason(entry.stop_reason) if outcome != "failed" else None,
        error=agora_error(entry.last_error) if outcome != "stopped" else None,
        upload_status=_upload_status(entry.uploading_status, entry.files),
        files=list(entry.files),
        segment=entry.segment,
        logical_id=entry.logical,
    )


def channel_view(
    channel: str,
    *,
    now_ms: int,
    state: ChannelState | None,
    session: Session | None,
    override: Override | None,
    waiting: tuple[str, ...],
) -> ChannelView:
    """The channel object from what Redis holds of the channel (pure)."""
    wish = desire(
        state is not None and state.desired,
        state.occupancy if state is not None else 0,
        override,
        now_ms=now_ms,
        recording=session is not None,
    )
    position = waiting.index(channel) + 1 if channel in waiting else None
    if session is not None:
        shown = _SESSION_STATES[session.state]
    else:
        shown = "waiting" if position is not None else "idle"
    held = wish.override
    return ChannelView(
        channel=channel,
        state=shown,
        occupancy=state.occupancy if state is not None else 0,
        desired=wish.desired,
        override=(
            OverrideView(
                record=held.record.value,
                until_empty=held.until_empty,
                expires_at=at(held.expires_at_ms),
                set_at=at(held.set_at_ms) or datetime.fromtimestamp(0, tz=UTC),
            )
            if held is not None
            else None
        ),
        waiting_position=position,
        recording=session_view(session, now_ms) if session is not None else None,
    )


class ChannelReader:
    """Reads channel and recording views from Redis."""

    def __init__(self, redis: aioredis.Redis[bytes], history: HistoryStore) -> None:
        self.redis = redis
        self.history = history

    async def now_ms(self) -> int:
        """Redis server time."""
        seconds, micros = await self.redis.time()
        return int(seconds) * 1000 + int(micros) // 1000

    async def channel(self, channel: str) -> ChannelView | None:
        """One channel; None if it was never seen and has no override or history."""
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.time()
            pipe.hgetall(keys.channel(channel))
            pipe.hgetall(keys.session(channel))
            pipe.hgetall(keys.override(channel))
            pipe.zrange(keys.WAITING, 0, -1)
            pipe.exists(keys.history(channel))
            (
                (sec, usec),
                raw_state,
                raw_session,
                raw_override,
                raw_waiting,
                known,
            ) = await pipe.execute()
        state = parse_channel_state(raw_state)
        session = (
            Session.from_fields(channel, raw_session)
            if raw_session and b"state" in raw_session
            else None
        )
        override = Override.from_fields(raw_override)
        if state is None and session is None and override is None and not known:
            return None
        return channel_view(
            channel,
            now_ms=int(sec) * 1000 + int(usec) // 1000,
            state=state,
            session=session,
            override=override,
            waiting=tuple(c.decode() for c in raw_waiting),
        )

    async def channels(self, *, after: str | None, limit: int) -> list[str]:
        """Tracked channels (seen, recording, waiting or overridden), by name, after the
        name `after`."""
        names: set[str] = set()
        for key in (keys.CHANNELS, keys.SESSIONS, keys.OVERRIDES, keys.WAITING):
            names.update(c.decode() for c in await self.redis.zrange(key, 0, -1))
        ordered = sorted(n for n in names if after is None or n > after)
        return ordered[:limit]

    async def recording(self, recording: str) -> RecordingView | None:
        """A recording by id: a current session's, or one of the catalog."""
        now = await self.now_ms()
        for channel in [c.decode() for c in await self.redis.zrange(keys.SESSIONS, 0, -1)]:
            raw = await self.redis.hgetall(keys.session(channel))
            if raw and b"state" in raw:
                session = Session.from_fields(channel, raw)
                if recording_id(session.sid, session.created_ms, session.uid) == recording:
                    return session_view(session, now)
        owner = await self.history.channel_of(recording)
        if owner is None:
            return None
        entry = await self.history.find(owner, recording)
        return history_view(entry) if entry is not None else None

    async def recordings(
        self,
        *,
        channel: str | None,
        since_ms: int | None,
        until_ms: int | None,
        after: str | None,
        limit: int,
    ) -> list[RecordingView]:
        """Finished recordings, newest first (the catalog), optionally of one channel."""
        if channel is not None:
            entries = await self.history.history(channel)
            chosen = [
                e
                for e in entries
                if (since_ms is None or e.created_ms >= since_ms)
                and (until_ms is None or e.created_ms <= until_ms)
            ]
            if after is not None:
                ids = [e.id for e in chosen]
                chosen = chosen[ids.index(after) + 1 :] if after in ids else []
            return [history_view(e) for e in chosen[:limit]]
        views: list[RecordingView] = []
        for rid, owner in await self.history.catalog_page(
            since_ms=since_ms, until_ms=until_ms, before=after, limit=limit
        ):
            entry = await self.history.find(owner, rid)
            if entry is not None:
                views.append(history_view(entry))
        return views
