"""Helpers for the events-consumer tests: stream entries, consumers, state snapshots."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
import redis.asyncio as aioredis

from worker import keys
from worker.ingest.consumer import StreamConsumer
from worker.ingest.normalize import UidRange
from worker.state.channel_state import read_channel_state, read_members
from worker.state.occupancy import OccupancyRules

STREAM = "autorec:events"
GROUP = keys.CONSUMER_GROUP
RECORDERS = UidRange(4_200_000_000, 4_294_967_294)
T0_MS = 1_700_000_000_000


def app_event(kind: str, channel: str, uid: int | None = None, seq: int = 0, **extra: Any) -> bytes:
    event: dict[str, Any] = {
        "id": f"{kind}-{channel}-{uid}-{seq}",
        "type": kind,
        "channel": channel,
    }
    if uid is not None:
        event["uid"] = uid
    event.update({"seq": seq, "ts_ms": T0_MS + seq * 1000, **extra})
    return orjson.dumps(event)


def ncs_event(
    event_type: int, channel: str, uid: int | None = None, seq: int = 0, **payload: Any
) -> bytes:
    """An NCS RTC body; `seq` becomes clientSeq and `ts` (seconds) follows it."""
    body: dict[str, Any] = {"channelName": channel, "ts": T0_MS // 1000 + seq}
    if uid is not None:
        body.update(uid=uid, platform=1, clientSeq=seq)
    body.update(payload)
    return orjson.dumps(
        {
            "noticeId": f"{event_type}-{channel}-{uid}-{seq}",
            "productId": 1,
            "eventType": event_type,
            "notifyMs": T0_MS,
            "payload": body,
        }
    )


def recording_event(event_type: int, channel: str, sequence: int, **details: Any) -> bytes:
    return orjson.dumps(
        {
            "noticeId": f"rec-{channel}-{event_type}-{sequence}",
            "productId": 3,
            "eventType": event_type,
            "notifyMs": T0_MS,
            "payload": {
                "cname": channel,
                "uid": "4200000001",
                "sid": "sid-1",
                "sequence": sequence,
                "sendts": T0_MS,
                "serviceType": 0,
                "details": {"msgName": "m", **details},
            },
        }
    )


async def add(redis: aioredis.Redis[bytes], field: str, body: bytes, stream: str = STREAM) -> str:
    """XADD one entry, as the webhook edge or an app would."""
    return (await redis.xadd(stream, {field: body})).decode()


def consumer(
    redis: aioredis.Redis[bytes],
    name: str = "w1",
    *,
    rules: OccupancyRules = OccupancyRules(),  # noqa: B008 - frozen dataclass
    **kwargs: Any,
) -> StreamConsumer:
    """A consumer on STREAM that never blocks (tests call `step()`)."""
    options: dict[str, Any] = {
        "stream": STREAM,
        "consumer_name": name,
        "rules": lambda channel: rules,
        "on_changed": None,
        "recorder_uids": RECORDERS,
        "block_ms": None,
        "claim_every_s": 0.0,
    }
    options.update(kwargs)
    return StreamConsumer(redis, **options)


async def drain(c: StreamConsumer, max_steps: int = 100) -> None:
    """Step until a step finds nothing to do."""
    for _ in range(max_steps):
        result = await c.step()
        if result.read == 0:
            return
    pytest.fail("the consumer never ran out of entries")


async def pending(redis: aioredis.Redis[bytes], stream: str = STREAM) -> int:
    info = await redis.xpending(stream, GROUP)
    return int(info["pending"])


async def snapshot(redis: aioredis.Redis[bytes], *channels: str) -> dict[str, object]:
    """Channel states and members, without the wall-clock fields."""
    result: dict[str, object] = {}
    for channel in channels:
        state = await read_channel_state(redis, channel)
        members = await read_members(redis, channel)
        core = (
            None
            if state is None
            else (state.occupancy, state.desired, state.gen, state.hosts, state.audience)
        )
        result[channel] = (core, members)
    return result
