"""`GET /api/v1/status`: slots, the waiting queue, Agora's request rate, the stream, workers.

Read from Redis with the worker's own state readers where they exist (`Slots.snapshot()`,
one consistent read of leases and queue with Redis server time) and by key name elsewhere
(`worker.keys`): the rate limiter's permit log, the events stream, its consumer group
(`keys.CONSUMER_GROUP`: pending entries, and each worker's last read as "last seen"), and the
dead-letter stream. Reading changes nothing but the slot script's sweep of expired leases.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Final

import redis.asyncio as aioredis
from redis.exceptions import ResponseError

from webhooks.api.models import AgoraRateOut, EventsOut, SlotsOut, StatusOut, WorkerOut
from webhooks.api.operation import ApiCall, Operation
from worker import keys
from worker.settings import Settings
from worker.state.slots import Slots

#: Waiting channels listed by name; `waiting_total` counts them all.
MAX_WAITING_SHOWN: Final = 500
#: "Requests in the last second" of the Agora request rate, in µs.
_RATE_WINDOW_US: Final = 1_000_000


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


def _utc(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


async def _group_pending(redis: aioredis.Redis[bytes], stream: str) -> int:
    try:
        groups: list[dict[str, Any]] = await redis.xinfo_groups(stream)  # type: ignore[no-untyped-call]
    except ResponseError:  # no stream yet: no worker ever started, nothing was received
        return 0
    for group in groups:
        if _text(group["name"]) == keys.CONSUMER_GROUP:
            return int(group.get("pending") or 0)
    return 0


async def _workers(redis: aioredis.Redis[bytes], stream: str, now_ms: int) -> list[WorkerOut]:
    try:
        consumers: list[dict[str, Any]] = await redis.xinfo_consumers(  # type: ignore[no-untyped-call]
            stream, keys.CONSUMER_GROUP
        )
    except ResponseError:  # no stream or no group yet
        return []
    consumers.sort(key=lambda consumer: int(consumer.get("idle") or 0))
    return [
        WorkerOut(
            name=_text(consumer["name"]),
            last_seen_at=_utc(now_ms - int(consumer.get("idle") or 0)),
            pending=int(consumer.get("pending") or 0),
        )
        for consumer in consumers
    ]


async def read_status(redis: aioredis.Redis[bytes], settings: Settings) -> StatusOut:
    """The status from Redis; raises redis' errors when it is unreachable."""
    snapshot = await Slots(redis, limit=settings.autorec_max_recordings).snapshot()
    # The snapshot's time is whole ms: the window ends with the current millisecond.
    window_end_us = (snapshot.now_ms + 1) * 1000
    stream = settings.autorec_events_stream
    async with redis.pipeline(transaction=False) as pipe:
        pipe.zcount(keys.RATE_LIMIT, window_end_us - _RATE_WINDOW_US, f"({window_end_us}")
        pipe.xlen(stream)
        pipe.xlen(keys.dead_letter(stream))
        recent, length, dead = await pipe.execute()
    return StatusOut(
        now=_utc(snapshot.now_ms),
        slots=SlotsOut(used=snapshot.in_use, limit=snapshot.limit),
        waiting=list(snapshot.waiting[:MAX_WAITING_SHOWN]),
        waiting_total=len(snapshot.waiting),
        agora_requests=AgoraRateOut(
            last_second=int(recent), limit_per_s=settings.autorec_max_api_qps
        ),
        events=EventsOut(
            stream=stream,
            length=int(length),
            pending=await _group_pending(redis, stream),
            dead_letters=int(dead),
        ),
        workers=await _workers(redis, stream, snapshot.now_ms),
    )


async def get_status(call: ApiCall) -> StatusOut:
    """Recording slots used and the limit, the channels waiting for a slot (next first), Agora
    requests in the last second against the limit, the events stream's length, pending
    entries and dead letters, and when each worker last read the stream."""
    return await read_status(call.redis, call.settings)


OPERATIONS: Final = (
    Operation(
        "GET",
        "/status",
        get_status,
        summary="Controller status",
        responses={200: StatusOut},
        tags=("status",),
    ),
)
