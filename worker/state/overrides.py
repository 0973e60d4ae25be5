"""Manual overrides of a channel's desired recording state, in Redis (design §4, I8).

An override is what the app-facing API's "record now", "stop now" and "back to automatic"
write; the controller reads it beside the channel's occupancy and stays level-triggered, so
the recording limit, the FIFO queue of waiting channels and the request rate hold for manual
recordings as for automatic ones. Kept in the hash `keys.override(channel)`, indexed in
`keys.OVERRIDES` so periodic passes and listings find channels nobody is in.

- `always`: the channel records whatever its occupancy, until the override is removed or
  expires; a dead task is replaced. Per-recording policy fields (`mode`, `streams`, …) may
  come with it (validated with `worker.policies.overlay`).
- `never`: the channel does not record (a running recording stops at once, without grace),
  until it expires or — with `until_empty` — until the channel has been empty and its
  recording has ended: the next meeting records automatically. The occupancy script marks
  the override `emptied` when an event empties the channel, so a meeting that begins before
  the controller looked still counts as the next one.

`desire()` is the pure rule that combines an override with the automatic decision.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Final

import orjson
import redis.asyncio as aioredis
from redis.asyncio.client import Pipeline

from worker import keys
from worker.state.scripts import LuaScript

_CLEAR_IF_SAME: Final = LuaScript("worker.state", "overrides_clear_if_same.lua")

#: The stop reason of a recording ended by a `never` override.
MANUAL_STOP_REASON: Final = "manual"


class Record(StrEnum):
    """What an override wants."""

    ALWAYS = "always"
    NEVER = "never"


@dataclass(frozen=True, slots=True)
class Override:
    """One channel's override (times in ms of Redis server time)."""

    record: Record
    set_at_ms: int
    until_empty: bool = False
    expires_at_ms: int | None = None
    policy_fields: Mapping[str, Any] = field(default_factory=dict)
    """Per-recording policy fields of an `always` override, in their JSON form."""
    emptied: bool = False
    """The channel has been empty since the override was set (written by the occupancy
    script when an event empties it, so a quick refill does not hide it)."""

    def expired(self, now_ms: int) -> bool:
        """Whether the override has run out."""
        return self.expires_at_ms is not None and now_ms >= self.expires_at_ms

    def to_fields(self) -> dict[str, str]:
        """The hash fields."""
        fields = {
            "record": self.record.value,
            "set_at_ms": str(self.set_at_ms),
            "until_empty": "1" if self.until_empty else "0",
        }
        if self.expires_at_ms is not None:
            fields["expires_at_ms"] = str(self.expires_at_ms)
        if self.policy_fields:
            fields["policy"] = orjson.dumps(dict(self.policy_fields)).decode()
        if self.emptied:
            fields["emptied"] = "1"
        return fields

    @classmethod
    def from_fields(cls, raw: Mapping[bytes, bytes]) -> Override | None:
        """Decode an override hash (None when empty)."""
        if b"record" not in raw:
            return None
        expires = raw.get(b"expires_at_ms")
        policy = raw.get(b"policy")
        return cls(
            record=Record(raw[b"record"].decode()),
            set_at_ms=int(raw.get(b"set_at_ms", b"0")),
            until_empty=raw.get(b"until_empty") == b"1",
            expires_at_ms=int(expires) if expires is not None else None,
            policy_fields=orjson.loads(policy) if policy else {},
            emptied=raw.get(b"emptied") == b"1",
        )


@dataclass(frozen=True, slots=True)
class Desire:
    """The channel's desired state once its override is applied."""

    desired: bool
    manual_stop: bool = False
    """A `never` override holds: a running recording stops now, without grace."""
    until_ms: int | None = None
    """When the override runs out (the controller looks again then)."""
    spent: bool = False
    """The override no longer applies and may be removed."""
    override: Override | None = None
    """The override in force (None: automatic)."""


def desire(
    auto_desired: bool,
    occupancy: int,
    override: Override | None,
    *,
    now_ms: int,
    recording: bool,
) -> Desire:
    """Combine the automatic decision with the channel's override (pure).

    `recording`: the channel has a current session (a task may run or is being started).
    """
    if override is None:
        return Desire(auto_desired)
    if override.expired(now_ms):
        return Desire(auto_desired, spent=True)
    if override.record is Record.ALWAYS:
        return Desire(True, until_ms=override.expires_at_ms, override=override)
    if override.until_empty and (occupancy == 0 or override.emptied) and not recording:
        return Desire(auto_desired, spent=True)
    return Desire(False, manual_stop=True, until_ms=override.expires_at_ms, override=override)


def stage_put(pipe: Pipeline[bytes], channel: str, override: Override) -> None:
    """Add "replace the channel's override" to a transaction."""
    key = keys.override(channel)
    pipe.delete(key)
    pipe.hset(key, mapping=override.to_fields())  # type: ignore[arg-type]
    pipe.zadd(keys.OVERRIDES, {channel: override.set_at_ms})


def stage_clear(pipe: Pipeline[bytes], channel: str) -> None:
    """Add "remove the channel's override" to a transaction (its first reply: whether
    there was one)."""
    pipe.delete(keys.override(channel))
    pipe.zrem(keys.OVERRIDES, channel)


class OverrideStore:
    """Reads and writes channels' overrides."""

    def __init__(self, redis: aioredis.Redis[bytes]) -> None:
        self.redis = redis

    async def get(self, channel: str) -> Override | None:
        """The channel's override, or None (expired ones too: see `Override.expired`)."""
        return Override.from_fields(await self.redis.hgetall(keys.override(channel)))

    async def put(self, channel: str, override: Override) -> None:
        """Replace the channel's override."""
        async with self.redis.pipeline(transaction=True) as pipe:
            stage_put(pipe, channel, override)
            await pipe.execute()

    async def clear(self, channel: str) -> bool:
        """Back to automatic; False if there was no override."""
        async with self.redis.pipeline(transaction=True) as pipe:
            stage_clear(pipe, channel)
            deleted, _ = await pipe.execute()
        return bool(deleted)

    async def clear_if_same(self, channel: str, set_at_ms: int) -> bool:
        """Remove a spent override unless a newer one replaced it meanwhile."""
        return bool(
            await _CLEAR_IF_SAME.run(
                self.redis,
                keys=[keys.override(channel), keys.OVERRIDES],
                args=[str(set_at_ms), channel],
            )
        )

    async def channels(self) -> list[str]:
        """Channels with an override, oldest first."""
        return [c.decode() for c in await self.redis.zrange(keys.OVERRIDES, 0, -1)]
