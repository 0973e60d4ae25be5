"""Manual control of a channel's recording: what the API's and the CLI's "record now", "stop
now" and "back to automatic" do (design §4, invariant I8).

Each writes the channel's override (`worker/state/overrides.py`) and enqueues the channel's
reconcile job in one transaction (both or neither: a Redis failure leaves nothing half
done); the controller does the rest under the recording limit, the FIFO queue and the
request rate. Nothing here calls Agora.
`wait_until` lets a caller wait (bounded) for the outcome it asked for.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

import redis.asyncio as aioredis
from arq.connections import ArqRedis

from worker.policies import Policy, PolicySet
from worker.policies.overlay import OverlayError, overlay
from worker.state.channel_state import read_channel_state
from worker.state.history import HistoryStore, recording_id_of
from worker.state.overrides import Override, OverrideStore, Record, stage_clear, stage_put
from worker.state.reconcile_queue import stage_reconcile
from worker.state.sessions import SessionStore
from worker.state.views import ChannelReader, ChannelView, RecordingView, history_view

#: How often a bounded wait looks at the channel again.
POLL_S: Final = 0.1
#: The longest a caller may wait for an outcome.
MAX_WAIT_S: Final = 30.0


class Conflict(Exception):
    """The request contradicts what runs (the API answers 409)."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True, slots=True)
class Invalid(Exception):
    """A field of the request is not valid for the channel's policy (the API answers 400)."""

    field: str
    reason: str

    def __str__(self) -> str:
        return f"{self.field}: {self.reason}"


class ManualControl:
    """Record now, stop now, back to automatic, for one Redis (see the module docstring)."""

    def __init__(self, redis: aioredis.Redis[bytes], policies: PolicySet, history: HistoryStore):
        self.redis = redis
        self.arq = ArqRedis(pool_or_conn=redis.connection_pool)
        self.policies = policies
        self.overrides = OverrideStore(redis)
        self.sessions = SessionStore(redis)
        self.reader = ChannelReader(redis, history)

    def policy_with(self, channel: str, fields: Mapping[str, Any]) -> Policy:
        """The channel's policy with a request's per-recording fields (Invalid if they do
        not fit)."""
        try:
            return overlay(self.policies.match(channel), fields)
        except OverlayError as exc:
            raise Invalid(exc.field, exc.reason) from None

    async def set_override(
        self,
        channel: str,
        record: Record,
        *,
        until_empty: bool = False,
        expires_at_ms: int | None = None,
        fields: Mapping[str, Any] | None = None,
    ) -> Override:
        """Validate and store an override, then wake the channel's reconcile."""
        fields = dict(fields or {})
        if record is Record.NEVER and fields:
            raise Invalid(next(iter(fields)), 'applies only to record "always"')
        wanted = self.policy_with(channel, fields)
        now = await self.reader.now_ms()
        if expires_at_ms is not None and expires_at_ms <= now:
            raise Invalid("expires_at", "must be in the future")
        if record is Record.ALWAYS:
            session = await self.sessions.get(channel)
            if session is not None and (
                session.mode is not wanted.mode
                or (session.streams is not None and session.streams != wanted.streams.value)
            ):
                raise Conflict(
                    f"a {session.mode.value} recording of streams {session.streams or '?'} "
                    f"runs in {channel!r}; stop it first",
                    field="mode" if session.mode is not wanted.mode else "streams",
                )
        override = Override(
            record=record,
            set_at_ms=now,
            until_empty=until_empty,
            expires_at_ms=expires_at_ms,
            policy_fields=_json_fields(fields),
        )
        gen = await self._gen(channel)
        async with self.redis.pipeline(transaction=True) as pipe:
            stage_put(pipe, channel, override)
            stage_reconcile(pipe, channel, gen, tag=f"o{now}-{secrets.token_hex(4)}")
            await pipe.execute()
        return override

    async def record(
        self,
        channel: str,
        *,
        fields: Mapping[str, Any] | None = None,
        expires_at_ms: int | None = None,
    ) -> Override:
        """Record now: override `always`."""
        return await self.set_override(
            channel, Record.ALWAYS, expires_at_ms=expires_at_ms, fields=fields
        )

    async def stop(self, channel: str, *, expires_at_ms: int | None = None) -> Override | None:
        """Stop now: override `never` until the channel is next empty (or expires). A channel
        never seen (no state, session, override or history) has nothing to stop: None."""
        if expires_at_ms is None and await self.reader.channel(channel) is None:
            return None
        return await self.set_override(
            channel, Record.NEVER, until_empty=True, expires_at_ms=expires_at_ms
        )

    async def automatic(self, channel: str) -> bool:
        """Back to automatic now; False if there was no override."""
        gen = await self._gen(channel)
        now = await self.reader.now_ms()
        async with self.redis.pipeline(transaction=True) as pipe:
            stage_clear(pipe, channel)
            stage_reconcile(pipe, channel, gen, tag=f"a{now}-{secrets.token_hex(4)}")
            cleared, *_ = await pipe.execute()
        return bool(cleared)

    async def _gen(self, channel: str) -> int:
        state = await read_channel_state(self.redis, channel)
        return state.gen if state is not None else 0

    async def wait_until(
        self, channel: str, done: Callable[[ChannelView | None], bool], timeout_s: float
    ) -> ChannelView | None:
        """Look at the channel until `done` says so or `timeout_s` passed; the last view."""
        deadline = time.monotonic() + min(timeout_s, MAX_WAIT_S)
        view = await self.reader.channel(channel)
        while not done(view) and time.monotonic() < deadline:
            await asyncio.sleep(POLL_S)
            view = await self.reader.channel(channel)
        return view

    async def wait_recording(self, channel: str, timeout_s: float) -> ChannelView | None:
        """Wait until the channel records with a known sid (or the time is up)."""

        def recording(view: ChannelView | None) -> bool:
            return (
                view is not None
                and view.recording is not None
                and view.recording.state == "recording"
                and view.recording.sid is not None
            )

        return await self.wait_until(channel, recording, timeout_s)

    async def wait_stopped(
        self, channel: str, recording_id: str | None, timeout_s: float
    ) -> RecordingView | None:
        """Wait until the recording `recording_id` (the one running when the stop was asked)
        has ended; the finished recording, or None if it has not ended in time.

        The session is followed by when it began, not by its id: a recording that had no
        sid yet when the stop was asked changes its id once Agora names the sid.
        """
        if recording_id is None:
            return None
        session = await self.sessions.get(channel)
        if session is None or recording_id not in (
            recording_id_of(session),
            f"r{session.created_ms}-{session.uid}",
        ):
            found = await self.reader.recording(recording_id)
            return found if found is not None and found.state == "finished" else None
        began = session.created_ms
        deadline = time.monotonic() + min(timeout_s, MAX_WAIT_S)
        while True:
            current = await self.sessions.get(channel)
            if current is None or current.created_ms != began:
                break
            if time.monotonic() >= deadline:
                return None
            await asyncio.sleep(POLL_S)
        for entry in await self.reader.history.history(channel):
            if entry.created_ms == began:
                return history_view(entry)
        return None


def _json_fields(fields: Mapping[str, Any]) -> dict[str, Any]:
    """Fields as they are stored (JSON types)."""
    out: dict[str, Any] = {}
    for name, value in fields.items():
        out[name] = value.value if hasattr(value, "value") else value
    return out
