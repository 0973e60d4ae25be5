"""`autorec record|stop|auto|recordings`: manual control of a channel and the recordings
catalog, from the command line (design §4, the same as the API's).

Each `run_*` function is a composition root: it reads the settings (REDIS_URL, the policy
file), talks to Redis through `worker.state.manual.ManualControl` or the views, then prints.
No Agora credential is needed: the worker does the recording. Exit status: 0 done; 1 Redis
unreachable, a conflict with what runs, or a `--wait` that ran out; 2 a bad field
(`autorec: <field>: <reason>`) or configuration.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, TypeVar

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from worker.cli import manual_output
from worker.cli.errors import EXIT_USAGE, CommandError
from worker.cli.status import status_console
from worker.policies import PolicyError, load_policies
from worker.redis_target import unreachable
from worker.settings import ConfigError, Settings
from worker.state.connection import COMMAND_TIMEOUTS, connect
from worker.state.history import HistoryStore
from worker.state.manual import Conflict, Invalid, ManualControl
from worker.state.views import ChannelReader, ChannelView, RecordingView

T = TypeVar("T")


class CatalogFormat(StrEnum):
    """How `autorec recordings` prints the catalog."""

    TABLE = "table"
    JSON = "json"
    """One JSON array."""
    JSON_LINES = "jsonl"
    """One JSON object per line."""


@dataclass(frozen=True, slots=True)
class RecordRequest:
    """What `autorec record` asks for."""

    channel: str
    fields: Mapping[str, Any]
    """Per-recording policy fields (`mode`, `streams`, `web_url`, `max_duration_s`)."""
    expires_in_s: int | None = None
    wait_s: float | None = None


@dataclass(frozen=True, slots=True)
class _Stopped:
    view: ChannelView | None
    running: str | None
    """The recording that ran when the stop was asked."""
    finished: RecordingView | None


def run_record(request: RecordRequest) -> int:
    """Record now (override `always`); with a wait, until it records with a sid."""

    async def record(control: ManualControl) -> ChannelView | None:
        await control.record(
            request.channel,
            fields=request.fields,
            expires_at_ms=await _expires_at_ms(control, request.expires_in_s),
        )
        if request.wait_s is not None:
            return await control.wait_recording(request.channel, request.wait_s)
        return await control.reader.channel(request.channel)

    view = _run_control(record)
    print(manual_output.channel_line(request.channel, view))
    if request.wait_s is not None and not _records(view):
        raise _ran_out(f"{request.channel!r} is not recording after {request.wait_s:g} s")
    return 0


def run_stop(channel: str, *, expires_in_s: int | None = None, wait_s: float | None = None) -> int:
    """Stop now (override `never` until the channel is next empty); with a wait, until the
    recording that ran has ended, then print it."""

    async def stop(control: ManualControl) -> _Stopped:
        before = await control.reader.channel(channel)
        running = before.recording.id if before and before.recording else None
        await control.stop(channel, expires_at_ms=await _expires_at_ms(control, expires_in_s))
        finished = None
        if wait_s is not None and running is not None:
            finished = await control.wait_stopped(channel, running, wait_s)
        return _Stopped(await control.reader.channel(channel), running, finished)

    stopped = _run_control(stop)
    print(manual_output.channel_line(channel, stopped.view))
    if wait_s is None:
        return 0
    if stopped.running is None:
        print(f"{channel}: nothing was recording")
        return 0
    if stopped.finished is None:
        raise _ran_out(f"recording {stopped.running} has not ended after {wait_s:g} s")
    status_console().print(manual_output.recording_table(stopped.finished))
    return 0


def run_auto(channel: str) -> int:
    """Back to automatic: remove the channel's override."""

    async def automatic(control: ManualControl) -> tuple[bool, ChannelView | None]:
        removed = await control.automatic(channel)
        return removed, await control.reader.channel(channel)

    removed, view = _run_control(automatic)
    if not removed:
        print(f"{channel}: had no override")
    print(manual_output.channel_line(channel, view))
    return 0


def run_recordings(*, channel: str | None, limit: int, output: CatalogFormat) -> int:
    """Print the catalog of finished recordings, newest first."""
    settings = Settings.load()

    async def read(redis: aioredis.Redis[bytes]) -> list[RecordingView]:
        reader = ChannelReader(redis, _history(redis, settings))
        return await reader.recordings(
            channel=channel, since_ms=None, until_ms=None, after=None, limit=limit
        )

    recordings = _run_redis(settings, read)
    if output is CatalogFormat.JSON:
        print(manual_output.catalog_json(recordings))
    elif output is CatalogFormat.JSON_LINES:
        if recordings:
            print(manual_output.catalog_json_lines(recordings))
    elif recordings:
        status_console().print(manual_output.catalog_table(recordings))
    else:
        print(manual_output.no_recordings(channel))
    return 0


# --- running against Redis ------------------------------------------------------------------


def _run_control(work: Callable[[ManualControl], Awaitable[T]]) -> T:
    """Run `work` with a ManualControl on REDIS_URL; a bad field, a conflict with what runs
    or an unreachable Redis raise CommandError."""
    settings = Settings.load()
    try:
        policies = load_policies(
            settings.autorec_policy_file, default_grace_s=settings.autorec_empty_grace_s
        )
    except PolicyError as exc:
        raise ConfigError(f"AUTOREC_POLICY_FILE: {exc}") from None

    async def controlled(redis: aioredis.Redis[bytes]) -> T:
        return await work(ManualControl(redis, policies, _history(redis, settings)))

    try:
        return _run_redis(settings, controlled)
    except Invalid as exc:
        raise CommandError(f"{exc.field}: {exc.reason}", exit_status=EXIT_USAGE) from None
    except Conflict as exc:
        raise CommandError(f"error: {exc}") from None


def _run_redis(settings: Settings, work: Callable[[aioredis.Redis[bytes]], Awaitable[T]]) -> T:
    """Run `work` with a client of REDIS_URL, closed after; CommandError when Redis cannot
    be reached."""
    try:
        client = connect(settings.redis_target, COMMAND_TIMEOUTS)
    except ValueError as exc:
        raise ConfigError(f"REDIS_URL: {exc}") from None

    async def run() -> T:
        try:
            return await work(client)
        finally:
            await client.aclose()  # type: ignore[attr-defined]  # stubs predate redis 5

    try:
        return asyncio.run(run())
    except (RedisError, OSError) as exc:
        raise CommandError(f"error: {unreachable(settings.redis_url, exc)}") from None


def _history(redis: aioredis.Redis[bytes], settings: Settings) -> HistoryStore:
    return HistoryStore(redis, history_days=settings.autorec_session_history_days)


async def _expires_at_ms(control: ManualControl, expires_in_s: int | None) -> int | None:
    """`expires_in_s` from now by Redis server time (the clock overrides are judged by)."""
    if expires_in_s is None:
        return None
    return await control.reader.now_ms() + expires_in_s * 1000


def _records(view: ChannelView | None) -> bool:
    return (
        view is not None
        and view.recording is not None
        and view.recording.state == "recording"
        and view.recording.sid is not None
    )


def _ran_out(what: str) -> CommandError:
    return CommandError(f"{what}; the override stays (see `autorec status`)")
