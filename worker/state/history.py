"""Session history: every recording of a channel, kept `AUTOREC_SESSION_HISTORY_DAYS`.

Per channel a Redis list `keys.history(channel)` of JSON entries, newest first, capped at
`MAX_ENTRIES_PER_CHANNEL`, expiring `history_days` after its newest entry; the sorted set
`keys.HISTORY_INDEX` lists channels by their last recording's end (entries past the retention
are dropped on each append). Files and the upload status often arrive after the stop
(recording events 31/32/11 come when the upload is done), so `amend` amends an entry
in place (files merge by filename: worker/state/files.py). `keys.FAILURES` keeps the most
recent failures.

A recording stopped for `max_duration_s` continues as the next segment of one logical
recording: each entry keeps its `segment` (from 1) and the `logical_id` its segments share
(the first segment's id). Entries stored before segments read as first segments.

Read API for operator surfaces: `history(channel)`, `channels()`, `recent_failures()`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

import orjson
import redis.asyncio as aioredis
from redis.asyncio.client import Pipeline

from worker import keys
from worker.policies.enums import Mode
from worker.state.files import RecordingFile, files_from_json, files_to_json
from worker.state.scripts import LuaScript
from worker.state.sessions import RecordingFacts, Session

MAX_ENTRIES_PER_CHANNEL: Final = 200
MAX_FAILURES: Final = 200
_DAY_MS: Final = 86_400_000
#: The stop reason of a recording that reached its policy's `max_duration_s` (the next
#: recording of the channel continues it as its next segment).
MAX_DURATION_STOP_REASON: Final = "max_duration"

_UPDATE_BY_SID: Final = LuaScript("worker.state", "history_update_by_sid.lua")


class Outcome(StrEnum):
    """How a recording ended (the stored `outcome` of a history entry).

    The first four are the terminal answers of stop and carry the same values as
    `worker.agora.StopOutcome`.
    """

    STOPPED = "stopped"
    """Our stop ended it (200)."""
    NO_RECORDED_DATA = "no_recorded_data"
    """Our stop ended it, but nobody published, so there are no files (206/435)."""
    ALREADY_STOPPING = "already_stopping"
    """Stop found the task already exiting (400/49)."""
    NOT_FOUND = "not_found"
    """Stop found no task (404)."""
    DIED = "died"
    """Queries stopped finding the task (404 after the back-off, or an exiting status)."""
    EXITED = "exited"
    """Recording event 11: the task exited at Agora without our stop."""
    SID_UNKNOWN = "sid_unknown"
    """The task's sid never became known; Agora's idle exit (or the stop without a sid)
    ended it."""
    START_FAILED = "start_failed"
    """Acquire or start failed for good; no recording ran."""
    CANCELLED = "cancelled"
    """No longer wanted before any start (never stored in the history)."""


#: Why a recording failed, in words, for each failure outcome (when no error says more).
OUTCOME_REASONS: Final = {
    Outcome.DIED: "Agora's queries stopped finding the task",
    Outcome.EXITED: "the task exited at Agora without our stop",
    Outcome.SID_UNKNOWN: "the task's sid never became known",
    Outcome.START_FAILED: "acquire or start failed",
}


def failure_reason(
    outcome: Outcome,
    *,
    last_error: str | None,
    exit_status: int | None = None,
    leave_code: int | None = None,
) -> str:
    """The reason shown for a failed recording: its last error, else the outcome in words
    with what Agora reported (exit status of event 11, leave code of event 12)."""
    if last_error:
        return last_error
    reason = OUTCOME_REASONS.get(outcome, outcome.value)
    reported = []
    if exit_status is not None:
        reported.append(
            f"exit status {exit_status} ({'normal' if exit_status == 0 else 'abnormal'})"
        )
    if leave_code is not None:
        reported.append(f"recorder leave code {leave_code}")
    return f"{reason}: {', '.join(reported)}" if reported else reason


def recording_id(sid: str | None, created_ms: int, uid: int) -> str:
    """A recording's id: Agora's sid once known, else one made of when it began and its
    recorder uid (a start that never got a sid)."""
    return sid if sid else f"r{created_ms}-{uid}"


def recording_id_of(session: Session) -> str:
    """The catalog id of a current session's recording."""
    return recording_id(session.sid, session.created_ms, session.uid)


#: Catalog entries pruned per append (the rest goes on later appends).
_CATALOG_PRUNE: Final = 100


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """One past recording of a channel (times in ms of Redis server time)."""

    channel: str
    outcome: Outcome
    """How it ended."""
    uid: int
    mode: Mode
    policy: str
    created_ms: int
    ended_ms: int
    resource_id: str | None = None
    sid: str | None = None
    started_ms: int | None = None
    stop_reason: str | None = None
    files: tuple[RecordingFile, ...] = ()
    uploading_status: str | None = None
    leave_code: int | None = None
    exit_status: int | None = None
    failover_uid: int | None = None
    last_error: str | None = None
    uid_index: int = 0
    streams: str | None = None
    segment: int = 1
    """Its place in its logical recording (from 1)."""
    logical_id: str | None = None
    """The id of its logical recording's first segment (None: stored before segments, so
    its own id)."""

    @property
    def id(self) -> str:
        """The recording's id in the catalog (`recording_id`)."""
        return recording_id(self.sid, self.created_ms, self.uid)

    @property
    def logical(self) -> str:
        """The id its segments share: the first segment's id."""
        return self.logical_id or self.id

    def to_json(self) -> bytes:
        """The stored form (files as objects, worker/state/files.py)."""
        stored = dataclasses.asdict(self)
        stored["files"] = files_to_json(self.files)
        return orjson.dumps(stored)

    @classmethod
    def from_json(cls, raw: bytes | str) -> HistoryEntry:
        """Decode a stored entry (unknown keys ignored; files stored as plain names read as
        files of that name)."""
        data: dict[str, Any] = orjson.loads(raw)
        names = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in data.items() if k in names}
        values["outcome"] = Outcome(values["outcome"])
        values["mode"] = Mode(values["mode"])
        values["files"] = files_from_json(values.get("files"))
        return cls(**values)


@dataclass(frozen=True, slots=True)
class Failure:
    """A failure worth an operator's attention."""

    channel: str
    at_ms: int
    what: str
    error: str


class HistoryStore:
    """Appends and reads channel histories and the recent-failures list."""

    def __init__(self, redis: aioredis.Redis[bytes], *, history_days: float) -> None:
        self.redis = redis
        self.keep_ms = max(1, int(history_days * _DAY_MS))

    async def append(
        self, entry: HistoryEntry, *, also: Callable[[Pipeline[bytes]], object] | None = None
    ) -> None:
        """Add a finished recording (newest first), refresh the retention, list it in the
        catalog and drop index and catalog entries past the retention (so both stay
        bounded)."""
        key = keys.history(entry.channel)
        horizon = entry.ended_ms - self.keep_ms - 1
        expired = await self.redis.zrangebyscore(
            keys.CATALOG, "-inf", horizon, start=0, num=_CATALOG_PRUNE
        )
        async with self.redis.pipeline(transaction=True) as pipe:
            if expired:
                pipe.zrem(keys.CATALOG, *expired)
                pipe.hdel(keys.CATALOG_CHANNELS, *expired)
            pipe.zadd(keys.CATALOG, {entry.id: entry.created_ms})
            pipe.hset(keys.CATALOG_CHANNELS, entry.id, entry.channel)
            pipe.lpush(key, entry.to_json())
            pipe.ltrim(key, 0, MAX_ENTRIES_PER_CHANNEL - 1)
            pipe.pexpire(key, self.keep_ms)
            pipe.zadd(keys.HISTORY_INDEX, {entry.channel: entry.ended_ms})
            pipe.zremrangebyscore(keys.HISTORY_INDEX, "-inf", entry.ended_ms - self.keep_ms - 1)
            if also is not None:
                also(pipe)  # e.g. the notification of the end, in the same transaction
            await pipe.execute()

    async def amend(self, channel: str, sid: str, facts: RecordingFacts) -> bool:
        """Amend the channel's entry of recording `sid` with facts reported after it ended
        (reported files merge into its files by filename); False if there is none."""
        payload = orjson.dumps(facts.reported())
        found = await _UPDATE_BY_SID.run(
            self.redis, keys=[keys.history(channel)], args=[sid, payload]
        )
        return bool(found)

    async def history(self, channel: str, *, now_ms: int | None = None) -> list[HistoryEntry]:
        """The channel's recordings, newest first, within the retention."""
        raw = await self.redis.lrange(keys.history(channel), 0, -1)
        entries = [HistoryEntry.from_json(item) for item in raw]
        if now_ms is not None:
            entries = [e for e in entries if e.ended_ms >= now_ms - self.keep_ms]
        return entries

    async def find(self, channel: str, recording: str) -> HistoryEntry | None:
        """The channel's finished recording with id `recording`, or None."""
        for entry in await self.history(channel):
            if entry.id == recording:
                return entry
        return None

    async def catalog_page(
        self, *, since_ms: int | None, until_ms: int | None, before: str | None, limit: int
    ) -> list[tuple[str, str]]:
        """Up to `limit` (id, channel) of the catalog, newest first, begun in
        [since_ms, until_ms], after the id `before` (a page cursor)."""
        high: str | int = "+inf" if until_ms is None else until_ms
        low: str | int = "-inf" if since_ms is None else since_ms
        if before is not None:
            score = await self.redis.zscore(keys.CATALOG, before)
            if score is None:
                return []
            # Ids of one millisecond are ordered by id; ZREVRANGEBYSCORE walks them backwards.
            high = min(int(score), int(high)) if high != "+inf" else int(score)
        rows = await self.redis.zrevrangebyscore(
            keys.CATALOG, high, low, start=0, num=limit + 200, withscores=False
        )
        ids = [r.decode() for r in rows]
        if before is not None and before in ids:
            ids = ids[ids.index(before) + 1 :]
        ids = ids[:limit]
        if not ids:
            return []
        channels = await self.redis.hmget(keys.CATALOG_CHANNELS, ids)
        return [
            (rid, channel.decode())
            for rid, channel in zip(ids, channels, strict=True)
            if channel is not None
        ]

    async def channel_of(self, recording: str) -> str | None:
        """The channel of a recording in the catalog."""
        raw = await self.redis.hget(keys.CATALOG_CHANNELS, recording)
        return raw.decode() if raw is not None else None

    async def last(self, channel: str) -> HistoryEntry | None:
        """The channel's most recent recording."""
        raw = await self.redis.lindex(keys.history(channel), 0)
        return HistoryEntry.from_json(raw) if raw is not None else None

    async def channels(self, *, now_ms: int) -> list[str]:
        """Channels with history inside the retention, most recently ended first."""
        await self.redis.zremrangebyscore(keys.HISTORY_INDEX, "-inf", now_ms - self.keep_ms)
        return [c.decode() for c in await self.redis.zrevrange(keys.HISTORY_INDEX, 0, -1)]

    async def record_failure(self, failure: Failure) -> None:
        """Remember a failure (the list keeps the newest `MAX_FAILURES`)."""
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.lpush(keys.FAILURES, orjson.dumps(dataclasses.asdict(failure)))
            pipe.ltrim(keys.FAILURES, 0, MAX_FAILURES - 1)
            await pipe.execute()

    async def recent_failures(self, limit: int = 50) -> list[Failure]:
        """The newest failures first."""
        raw = await self.redis.lrange(keys.FAILURES, 0, limit - 1)
        return [Failure(**orjson.loads(item)) for item in raw]
