"""Helpers of the dashboard tests: log in, read a form's CSRF token, put state in Redis with
the worker's own stores."""

from __future__ import annotations

import re

import httpx
import orjson
import redis.asyncio as aioredis

from worker.events import ChannelEvent, ChannelEventKind, EventSource, Role
from worker.policies.enums import Mode
from worker.state.files import RecordingFile
from worker.state.history import Failure, HistoryEntry, HistoryStore, Outcome
from worker.state.occupancy import OccupancyRules, OccupancyScript
from worker.state.outbox import Endpoint, NotificationType, Outbox
from worker.state.sessions import Session, SessionState, SessionStore
from worker.state.slots import Slots

_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


async def log_in(client: httpx.AsyncClient, token: str) -> httpx.Response:
    """Post the login form."""
    return await client.post("/dashboard/login", data={"token": token})


def csrf_of(page: str) -> str:
    """The CSRF token in a rendered page."""
    found = _CSRF.search(page)
    assert found is not None, "no CSRF token in the page"
    return found.group(1)


async def logged_in(client: httpx.AsyncClient, token: str) -> str:
    """Log in with `token`; the session's CSRF token."""
    answer = await log_in(client, token)
    assert answer.status_code == 303, answer.text
    page = await client.get("/dashboard")
    assert page.status_code == 200
    return csrf_of(page.text)


async def now_ms(redis: aioredis.Redis[bytes]) -> int:
    """Redis server time."""
    seconds, micros = await redis.time()
    return int(seconds) * 1000 + int(micros) // 1000


async def join(redis: aioredis.Redis[bytes], channel: str, uid: int, at_ms: int) -> None:
    """A user joins `channel` (the occupancy script, as the worker applies events)."""
    event = ChannelEvent(
        channel,
        uid,
        ChannelEventKind.JOIN,
        Role.HOST,
        at_ms,
        at_ms,
        False,
        f"e-{channel}-{uid}",
        EventSource.APP,
    )
    await OccupancyScript().apply(redis, event, OccupancyRules())


async def running(
    redis: aioredis.Redis[bytes], channel: str, sid: str, started_ms: int, *, limit: int = 50
) -> None:
    """A recording runs in `channel`: its slot lease and its confirmed session."""
    await Slots(redis, limit=limit).acquire(channel)
    session = Session(
        channel=channel,
        state=SessionState.RUNNING,
        uid=4200000001,
        uid_index=0,
        mode=Mode.INDIVIDUAL,
        policy="default",
        created_ms=started_ms - 500,
        resource_id=f"res-{channel}",
        sid=sid,
        started_ms=started_ms,
        confirmed_ms=started_ms + 100,
        streams="both",
    )
    await SessionStore(redis).save(session)


async def finished(
    history: HistoryStore,
    channel: str,
    sid: str,
    started_ms: int,
    *,
    outcome: Outcome = Outcome.STOPPED,
    stop_reason: str | None = "empty",
    error: str | None = None,
    files: int = 2,
) -> HistoryEntry:
    """A finished recording of `channel` in its history and the catalog."""
    entry = HistoryEntry(
        channel=channel,
        outcome=outcome,
        uid=4200000001,
        mode=Mode.MIX,
        policy="default",
        created_ms=started_ms - 400,
        ended_ms=started_ms + 60_000,
        resource_id=f"res-{sid}",
        sid=sid if outcome is not Outcome.START_FAILED else None,
        started_ms=started_ms if outcome is not Outcome.START_FAILED else None,
        stop_reason=stop_reason,
        files=tuple(RecordingFile(f"{sid}_{n}.m3u8", "audio_and_video") for n in range(files)),
        uploading_status="uploaded" if files else None,
        last_error=error,
        streams="both",
    )
    await history.append(entry)
    return entry


async def failure(history: HistoryStore, channel: str, at_ms: int, error: str) -> None:
    """A failure in the recent-failures list."""
    await history.record_failure(
        Failure(channel=channel, at_ms=at_ms, what="start_failed", error=error)
    )


async def notification(redis: aioredis.Redis[bytes], url: str, at_ms: int) -> None:
    """One notification waiting for delivery to `url`."""
    body = orjson.dumps({"type": "recording.started", "data": {}})
    await Outbox(redis, [Endpoint(url)]).append(
        NotificationType.STARTED, body, recording="sid-x", now_ms=at_ms
    )
