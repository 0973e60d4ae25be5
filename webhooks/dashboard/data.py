"""What the dashboard shows, read from Redis with the worker's own state readers.

`read_overview` gathers the overview in a few pipelined reads: its cost grows with the
recordings running and the rows shown, not with the channels tracked (one channel's page:
`channel_page.py`). Nothing here writes, and nothing secret is read: the notification
backlog is counted, its endpoints' URLs are not looked at.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Final

import redis.asyncio as aioredis

from webhooks.api.models import StatusOut
from webhooks.api.status import read_status
from worker import keys
from worker.settings import Settings
from worker.state.history import HistoryEntry, HistoryStore
from worker.state.sessions import Session
from worker.state.views import (
    RecordingView,
    agora_error,
    at,
    history_view,
    session_view,
)

#: Rows of the overview's lists.
WAITING_SHOWN: Final = 50
RECENT_SHOWN: Final = 15
FAILURES_READ: Final = 200
#: A worker whose last stream read is older than this counts as not alive (its blocking
#: read returns every second, so a live worker is seen within about a second).
WORKER_ALIVE_S: Final = 30.0
#: Ingest rate: events appended to the stream in the last window, counted up to a cap.
INGEST_WINDOW_S: Final = 10
INGEST_CAP: Final = 2000


@dataclass(frozen=True, slots=True)
class Running:
    """A recording running (or starting, or stopping) now."""

    recording: RecordingView
    age_s: float | None
    agora_status: str
    """The last thing Agora told us of it, in short."""


@dataclass(frozen=True, slots=True)
class FailureGroup:
    """Recent failures with one Agora status and code."""

    status: int | None
    code: int | None
    reason: str
    count: int
    last_at: datetime
    last_channel: str


@dataclass(frozen=True, slots=True)
class Ingest:
    """Events into the stream: recent rate, backlog and dead letters."""

    per_s: float
    capped: bool
    """The window held more than `INGEST_CAP` events: the rate is at least `per_s`."""
    length: int
    pending: int
    dead_letters: int


@dataclass(frozen=True, slots=True)
class Backlog:
    """Outgoing notifications not yet delivered, and those that gave up."""

    pending: int
    failed: int
    oldest_age_s: float | None


@dataclass(frozen=True, slots=True)
class Overview:
    """Everything the overview page shows."""

    now: datetime
    status: StatusOut
    tracked: int
    running: list[Running]
    recent: list[RecordingView]
    failures: list[FailureGroup]
    ingest: Ingest
    workers_alive: int
    backlog: Backlog

    @property
    def waiting_shown(self) -> list[str]:
        """The head of the waiting queue, next first."""
        return self.status.waiting[:WAITING_SHOWN]


def agora_status(session: Session) -> str:
    """The last Agora answer about a session, in short."""
    if session.not_found:
        return f"query 404 x{session.not_found} (in doubt)"
    error = agora_error(session.last_error)
    if error is not None and error.status is not None:
        code = f" code {error.code}" if error.code is not None else ""
        return f"{error.status}{code}"
    if session.sid is None:
        return "acquired" if session.resource_id else "no answer yet"
    return "200 running" if session.confirmed_ms else "200 started"


def group_failures(rows: list[tuple[int, str, str]]) -> list[FailureGroup]:
    """Failures (at_ms, channel, error text) grouped by Agora status and code, the biggest
    group first, each with its newest failure."""
    counts: Counter[tuple[int | None, int | None]] = Counter()
    newest: dict[tuple[int | None, int | None], tuple[int, str, str]] = {}
    for at_ms, channel, text in rows:
        error = agora_error(text)
        key = (error.status, error.code) if error is not None else (None, None)
        counts[key] += 1
        if key not in newest or at_ms > newest[key][0]:
            newest[key] = (at_ms, channel, error.reason if error is not None else "")
    groups = []
    for key, count in counts.most_common():
        at_ms, channel, reason = newest[key]
        moment = at(at_ms)
        assert moment is not None
        groups.append(
            FailureGroup(
                status=key[0],
                code=key[1],
                reason=reason,
                count=count,
                last_at=moment,
                last_channel=channel,
            )
        )
    return groups


async def _sessions(redis: aioredis.Redis[bytes]) -> list[Session]:
    channels = [c.decode() for c in await redis.zrange(keys.SESSIONS, 0, -1)]
    if not channels:
        return []
    async with redis.pipeline(transaction=False) as pipe:
        for channel in channels:
            pipe.hgetall(keys.session(channel))
        rows = await pipe.execute()
    return [
        Session.from_fields(channel, raw)
        for channel, raw in zip(channels, rows, strict=True)
        if raw and b"state" in raw
    ]


async def _recent(history: HistoryStore, limit: int) -> list[RecordingView]:
    """The newest finished recordings of the catalog (one read per channel involved)."""
    rows = await history.catalog_page(since_ms=None, until_ms=None, before=None, limit=limit)
    if not rows:
        return []
    owners = list(dict.fromkeys(channel for _, channel in rows))
    async with history.redis.pipeline(transaction=False) as pipe:
        for channel in owners:
            pipe.lrange(keys.history(channel), 0, -1)
        lists = await pipe.execute()
    entries: dict[str, HistoryEntry] = {}
    for raw_list in lists:
        for raw in raw_list:
            entry = HistoryEntry.from_json(raw)
            entries.setdefault(entry.id, entry)
    return [history_view(entries[rid]) for rid, _ in rows if rid in entries]


async def _ingest(redis: aioredis.Redis[bytes], status: StatusOut, now_ms: int) -> Ingest:
    since = now_ms - INGEST_WINDOW_S * 1000
    entries = await redis.xrange(status.events.stream, min=f"{since}-0", count=INGEST_CAP + 1)
    capped = len(entries) > INGEST_CAP
    return Ingest(
        per_s=min(len(entries), INGEST_CAP) / INGEST_WINDOW_S,
        capped=capped,
        length=status.events.length,
        pending=status.events.pending,
        dead_letters=status.events.dead_letters,
    )


async def _backlog(redis: aioredis.Redis[bytes], now_ms: int) -> Backlog:
    async with redis.pipeline(transaction=False) as pipe:
        pipe.zcard(keys.NOTIFICATIONS_PENDING)
        pipe.zcard(keys.NOTIFICATIONS_FAILED)
        pipe.zrange(keys.NOTIFICATIONS_PENDING, 0, 0)
        pending, failed, first = await pipe.execute()
    oldest: float | None = None
    if first:
        created = await redis.hget(keys.notification(first[0].decode()), "created_ms")
        if created is not None:
            oldest = max(0.0, (now_ms - int(created)) / 1000)
    return Backlog(pending=int(pending), failed=int(failed), oldest_age_s=oldest)


async def read_overview(
    redis: aioredis.Redis[bytes], settings: Settings, history: HistoryStore
) -> Overview:
    """The overview from Redis; raises redis' errors when it is unreachable."""
    status = await read_status(redis, settings)
    now_ms = int(status.now.timestamp() * 1000)
    sessions = await _sessions(redis)
    running = []
    for session in sessions:
        view = session_view(session, now_ms)
        age = (now_ms - session.started_ms) / 1000 if session.started_ms else None
        running.append(Running(recording=view, age_s=age, agora_status=agora_status(session)))
    alive_after = status.now.timestamp() - WORKER_ALIVE_S
    return Overview(
        now=status.now,
        status=status,
        tracked=int(await redis.zcard(keys.CHANNELS)),
        running=running,
        recent=await _recent(history, RECENT_SHOWN),
        failures=group_failures(
            [(f.at_ms, f.channel, f.error) for f in await history.recent_failures(FAILURES_READ)]
        ),
        ingest=await _ingest(redis, status, now_ms),
        workers_alive=sum(1 for w in status.workers if w.last_seen_at.timestamp() >= alive_after),
        backlog=await _backlog(redis, now_ms),
    )
