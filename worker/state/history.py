"""Session history: every recording of a channel, kept `AUTOREC_SESSION_HISTORY_DAYS`.

Per channel a Redis list `keys.history(channel)` of JSON entries, newest first, capped at
`MAX_ENTRIES_PER_CHANNEL`, expiring `history_days` after its newest entry; the sorted set
`keys.HISTORY_INDEX` lists channels by their last recording's end (entries past the retention
are dropped on each append). Files and the upload status often arrive after the stop
(recording events 31/32/11 come when the upload is done), so `amend` amends an entry
in place. `keys.FAILURES` keeps the most recent failures.

Read API for operator surfaces: `history(channel)`, `channels()`, `recent_failures()`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

import orjson
import redis.asyncio as aioredis

from worker import keys
from worker.policies.enums import Mode
from worker.state.scripts import LuaScript
from worker.state.sessions import RecordingFacts

MAX_ENTRIES_PER_CHANNEL: Final = 200
MAX_FAILURES: Final = 200
_DAY_MS: Final = 86_400_000

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
    files: tuple[str, ...] = ()
    uploading_status: str | None = None
    leave_code: int | None = None
    exit_status: int | None = None
    failover_uid: int | None = None
    last_error: str | None = None
    uid_index: int = 0

    def to_json(self) -> bytes:
        """The stored form."""
        return orjson.dumps(dataclasses.asdict(self))

    @classmethod
    def from_json(cls, raw: bytes | str) -> HistoryEntry:
        """Decode a stored entry (unknown keys ignored)."""
        data: dict[str, Any] = orjson.loads(raw)
        names = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in data.items() if k in names}
        values["outcome"] = Outcome(values["outcome"])
        values["mode"] = Mode(values["mode"])
        values["files"] = tuple(values.get("files") or ())
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

    async def append(self, entry: HistoryEntry) -> None:
        """Add a finished recording (newest first), refresh the retention and drop index
        entries of channels whose history has expired (so the index stays bounded)."""
        key = keys.history(entry.channel)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.lpush(key, entry.to_json())
            pipe.ltrim(key, 0, MAX_ENTRIES_PER_CHANNEL - 1)
            pipe.pexpire(key, self.keep_ms)
            pipe.zadd(keys.HISTORY_INDEX, {entry.channel: entry.ended_ms})
            pipe.zremrangebyscore(keys.HISTORY_INDEX, "-inf", entry.ended_ms - self.keep_ms - 1)
            await pipe.execute()

    async def amend(self, channel: str, sid: str, facts: RecordingFacts) -> bool:
        """Amend the channel's entry of recording `sid` with facts reported after it ended;
        False if there is none."""
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
