"""The recording session of each channel and its history, in Redis.

A session is one recording attempt of one channel, from taking the slot to the end of the
recording. It lives in the hash `keys.session(channel)`; the controller writes it *before*
each Agora call (what it is about to do) and *after* (what Agora answered), so a crash at any
point leaves enough to recover (docs/design.md, "Sessions"). When a recording has ended its
session becomes an entry of the channel's history (`worker/state/history.py`) and the hash goes.

States (a `SessionState`):

    ACQUIRING ─acquire─▶ STARTING ─start─▶ STARTED ─query 4/5─▶ RUNNING
        │                    │  └─start outcome unknown, resource too old─▶ SID_UNKNOWN
        └─────────────── any of them ─stop due─▶ STOPPING ─stop─▶ (history)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
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


class SessionState(StrEnum):
    """Where a session is in its life."""

    ACQUIRING = "acquiring"
    """A slot is held and the recorder uid chosen; acquire is next (or in flight)."""
    STARTING = "starting"
    """A resource is acquired; start is next (or in flight, or its outcome unknown)."""
    STARTED = "started"
    """Agora answered start with a sid; not yet confirmed by query."""
    RUNNING = "running"
    """A query confirmed the task records (status 4 or 5)."""
    SID_UNKNOWN = "sid_unknown"
    """The task probably runs but its sid is unknown: waiting for recording event 40."""
    STOPPING = "stopping"
    """Stop is next (or in flight)."""


#: States in which a task may be running at Agora.
MAY_RUN: Final = frozenset(
    {SessionState.STARTED, SessionState.RUNNING, SessionState.SID_UNKNOWN, SessionState.STOPPING}
)

_INT_FIELDS: Final = (
    "uid",
    "uid_index",
    "created_ms",
    "resource_ms",
    "start_attempts",
    "started_ms",
    "confirmed_ms",
    "check_due_ms",
    "not_found",
    "not_found_since_ms",
    "undesired_since_ms",
    "stop_requested_ms",
    "stop_attempts",
    "leave_code",
    "exit_status",
    "failover_uid",
    "retry_due_ms",
    "segment",
)
_TEXT_FIELDS: Final = (
    "probe_of",
    "mode",
    "policy",
    "resource_id",
    "sid",
    "event_sid",
    "stop_reason",
    "last_error",
    "uploading_status",
    "streams",
    "overlay",
    "logical_id",
)


@dataclass(frozen=True, slots=True)
class RecordingFacts:
    """What recording events report about a task (None: not reported), stored on its
    session while it is current, else amended into its history entry."""

    event_sid: str | None = None
    """Event 40: the sid of the task this (channel, uid) runs."""
    leave_code: int | None = None
    """Event 12 (recorder left the channel): Agora's leave code."""
    exit_status: int | None = None
    """Event 11: the task has exited (0 normal, 1 abnormal)."""
    failover_uid: int | None = None
    """Event 12 (session failover): the uid the task continues with."""
    uploading_status: str | None = None
    """Events 31/32: `uploaded` or `backuped`."""
    files: tuple[RecordingFile, ...] | None = None
    """Events 31/32 or the web recorder's stop: the files written (merged by filename into
    those already known, worker/state/files.py)."""

    def reported(self) -> dict[str, object]:
        """The reported facts by name, in their JSON form (`files` as a list of objects)."""
        found: dict[str, object] = {}
        for name in self.__slots__:
            value = getattr(self, name)
            if value is not None:
                found[name] = files_to_json(value) if name == "files" else value
        return found

    def session_fields(self) -> dict[str, str]:
        """The reported facts as session hash fields (encoded as `Session.to_fields` does)."""
        return {
            name: orjson.dumps(value).decode() if isinstance(value, list) else str(value)
            for name, value in self.reported().items()
        }


@dataclass(frozen=True, slots=True)
class Session:
    """A channel's current recording session (all times are ms of Redis server time)."""

    channel: str
    state: SessionState
    uid: int
    """The recorder uid of this session."""
    uid_index: int
    """0 primary, 1 backup (worker/controller/recorder_uids.py)."""
    mode: Mode
    policy: str
    """The policy's label, for operators."""
    created_ms: int
    resource_id: str | None = None
    resource_ms: int | None = None
    """When `resource_id` was acquired (Agora keeps it 5 minutes)."""
    resource_ids: tuple[str, ...] = ()
    """Every resource acquired in this session, newest last (to adopt a task by sid)."""
    start_attempts: int = 0
    """Start calls made (or maybe made) on `resource_id`; after one, starts are retries."""
    sid: str | None = None
    started_ms: int | None = None
    confirmed_ms: int | None = None
    check_due_ms: int | None = None
    """When the next query is due (confirmation, 404 back-off, periodic check)."""
    not_found: int = 0
    """Consecutive query 404s (a stop answered 404 while in doubt counts too)."""
    not_found_since_ms: int | None = None
    """When the first of these 404s came: the failover window runs from it, and until it
    has passed the task counts as running (it keeps its slot and the channel)."""
    retry_due_ms: int | None = None
    """Not before this time: the next attempt after a transient failure."""
    undesired_since_ms: int | None = None
    """When this controller first saw the recording no longer desired (the grace clock
    when the channel hash has no `empty_since_ms`)."""
    stop_reason: str | None = None
    stop_requested_ms: int | None = None
    stop_attempts: int = 0
    """Stop calls made (or maybe made) in this session."""
    event_sid: str | None = None
    """A sid announced by recording event 40 for this (channel, uid)."""
    probe_of: str | None = None
    """Set while a fresh start probes whether the task of a `sid_unknown` session runs:
    the resource of that task (restored if the probe answers 53)."""
    leave_code: int | None = None
    exit_status: int | None = None
    """Recording event 11 for `sid`: the task has exited (0 normal, 1 abnormal)."""
    failover_uid: int | None = None
    files: tuple[RecordingFile, ...] = ()
    """The files reported so far (recording events 31/32/71), merged by filename."""
    uploading_status: str | None = None
    last_error: str | None = None
    streams: str | None = None
    """What the recorder subscribes: `audio`, `video` or `both` (worker.policies.Streams)."""
    overlay: str | None = None
    """A manual override's per-recording policy fields the session runs with (JSON), so
    every call of the session uses the policy it started with."""
    segment: int = 1
    """This recording's place in its logical recording: a recording stopped for
    `max_duration_s` continues as the next segment (from 1)."""
    logical_id: str | None = None
    """The id of the logical recording's first segment; None while this session is the
    first (its own id, known once its sid is)."""

    def overlay_fields(self) -> dict[str, Any]:
        """The override's per-recording policy fields of this session (empty: none)."""
        if not self.overlay:
            return {}
        fields: dict[str, Any] = orjson.loads(self.overlay)
        return fields

    def to_fields(self) -> dict[str, str]:
        """The hash fields (absent values are left out)."""
        fields = {"state": self.state.value}
        for name in (*_INT_FIELDS, *_TEXT_FIELDS):
            value = getattr(self, name)
            if value is not None:
                fields[name] = str(value)
        if self.resource_ids:
            fields["resource_ids"] = orjson.dumps(list(self.resource_ids)).decode()
        if self.files:
            fields["files"] = orjson.dumps(files_to_json(self.files)).decode()
        return fields

    @classmethod
    def from_fields(cls, channel: str, raw: Mapping[bytes, bytes]) -> Session:
        """Decode a session hash."""
        text = {k.decode(): v.decode("utf-8", "replace") for k, v in raw.items()}
        values: dict[str, Any] = {"channel": channel, "state": SessionState(text["state"])}
        for name in _INT_FIELDS:
            if name in text:
                values[name] = int(text[name])
        for name in _TEXT_FIELDS:
            if name in text:
                values[name] = text[name]
        values["mode"] = Mode(text["mode"])
        if "resource_ids" in text:
            values["resource_ids"] = tuple(str(v) for v in orjson.loads(text["resource_ids"]))
        if "files" in text:
            values["files"] = files_from_json(orjson.loads(text["files"]))
        values.setdefault("not_found", 0)
        values.setdefault("start_attempts", 0)
        values.setdefault("stop_attempts", 0)
        return cls(**values)


_SET_FIELDS: Final = LuaScript("worker.state", "sessions_set_fields.lua")
_UNINDEX_IF_GONE: Final = LuaScript("worker.state", "sessions_unindex_if_gone.lua")
_CHECK_DUE: Final = LuaScript("worker.state", "sessions_check_due.lua")


@dataclass
class SessionStore:
    """Reads and writes session hashes and the index of channels that have one."""

    redis: aioredis.Redis[bytes]

    async def get(self, channel: str) -> Session | None:
        """The channel's session, or None."""
        raw: dict[bytes, bytes] = await self.redis.hgetall(keys.session(channel))
        if not raw or b"state" not in raw:
            return None
        return Session.from_fields(channel, raw)

    async def save(
        self,
        session: Session,
        previous: Session | None = None,
        *,
        also: Callable[[Pipeline[bytes]], object] | None = None,
    ) -> None:
        """Store `session`, writing only what changed since `previous` (fields other
        writers own, such as those set by recording events, are left alone). `also` adds
        commands to the same transaction (a notification of the change)."""
        new = session.to_fields()
        old = previous.to_fields() if previous is not None else {}
        changed = {k: v for k, v in new.items() if old.get(k) != v}
        removed = [k for k in old if k not in new]
        key = keys.session(session.channel)
        async with self.redis.pipeline(transaction=True) as pipe:
            if changed:
                pipe.hset(key, mapping=changed)  # type: ignore[arg-type]
            if removed:
                pipe.hdel(key, *removed)
            if previous is None:
                pipe.zadd(keys.SESSIONS, {session.channel: session.created_ms})
            if also is not None:
                also(pipe)
            await pipe.execute()

    async def note(self, channel: str, facts: RecordingFacts) -> bool:
        """Store facts reported by recording events on the channel's existing session
        (reported files merge into its files by filename); False if there is none."""
        return await self._set_fields(channel, facts.session_fields())

    async def set_check_due(self, channel: str, due_ms: int) -> bool:
        """Make the existing session's next query due by `due_ms`, unless that would cut a
        back-off short: a session with query 404s outstanding or a retry not yet due keeps
        its time (only the back-off's own schedule decides when the task is declared dead).
        True if a query is now due by `due_ms`; False if not, or there is no session."""
        return bool(
            await _CHECK_DUE.run(self.redis, keys=[keys.session(channel)], args=[str(due_ms)])
        )

    async def _set_fields(self, channel: str, fields: Mapping[str, str]) -> bool:
        args = [part for item in fields.items() for part in item]
        return bool(await _SET_FIELDS.run(self.redis, keys=[keys.session(channel)], args=args))

    async def delete(self, channel: str) -> None:
        """Forget the channel's session."""
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.delete(keys.session(channel))
            pipe.zrem(keys.SESSIONS, channel)
            await pipe.execute()

    async def channels(self) -> list[str]:
        """Channels that have a session, oldest session first."""
        return [c.decode() for c in await self.redis.zrange(keys.SESSIONS, 0, -1)]

    async def list_sessions(self) -> list[Session]:
        """Every current session (for `autorec status`, the dashboard and reconcile_all)."""
        found = []
        for channel in await self.channels():
            session = await self.get(channel)
            if session is None:
                # Only if it is still gone: a session saved meanwhile keeps its entry.
                await _UNINDEX_IF_GONE.run(
                    self.redis, keys=[keys.session(channel), keys.SESSIONS], args=[channel]
                )
            else:
                found.append(session)
        return found
