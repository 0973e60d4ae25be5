"""Read a channel's occupancy state back from Redis (controller, status, tests).

The layout is written by worker/state/occupancy.lua and described in docs/design.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import redis.asyncio as aioredis

from worker import keys
from worker.events import Role

_LETTER_ROLES: Final = {"c": Role.COMMUNICATION, "h": Role.HOST, "a": Role.AUDIENCE}


@dataclass(frozen=True, slots=True)
class ChannelState:
    """A snapshot of one channel's hash."""

    occupancy: int
    desired: bool
    gen: int
    hosts: int
    """Present communication users and hosts."""
    audience: int
    """Present audience members (counted only if the rules say so)."""
    empty_since_ms: int | None
    updated_ms: int | None
    closed_ts_ms: int | None


@dataclass(frozen=True, slots=True)
class Member:
    """One uid's record: its last event's order and time, and whether it is present."""

    uid: int
    present: bool
    role: Role
    order: int
    ts_ms: int


def _opt_int(value: bytes | None) -> int | None:
    return None if value is None else int(value)


async def read_channel_state(redis: aioredis.Redis[bytes], channel: str) -> ChannelState | None:
    """The channel's occupancy and desired state, or None if it was never seen."""
    return parse_channel_state(await redis.hgetall(keys.channel(channel)))


def parse_channel_state(raw: dict[bytes, bytes]) -> ChannelState | None:
    """A channel hash (worker/state/occupancy.lua) as a ChannelState; None if never seen."""
    if not raw:
        return None
    return ChannelState(
        occupancy=int(raw.get(b"occupancy", b"0")),
        desired=raw.get(b"desired", b"0") == b"1",
        gen=int(raw.get(b"gen", b"0")),
        hosts=int(raw.get(b"hosts", b"0")),
        audience=int(raw.get(b"audience", b"0")),
        empty_since_ms=_opt_int(raw.get(b"empty_since_ms")),
        updated_ms=_opt_int(raw.get(b"updated_ms")),
        closed_ts_ms=_opt_int(raw.get(b"closed_ts_ms")),
    )


def parse_member(uid: int, record: bytes) -> Member:
    """Decode a members-hash record `<P|L><c|h|a><order>:<ts_ms>`."""
    text = record.decode("ascii")
    order, _, ts_ms = text[2:].partition(":")
    return Member(
        uid=uid,
        present=text[0] == "P",
        role=_LETTER_ROLES[text[1]],
        order=int(order),
        ts_ms=int(ts_ms),
    )


async def read_members(redis: aioredis.Redis[bytes], channel: str) -> dict[int, Member]:
    """Every uid record of the channel (present users and tombstones)."""
    raw: dict[bytes, bytes] = await redis.hgetall(keys.channel_members(channel))
    return {int(uid): parse_member(int(uid), record) for uid, record in raw.items()}
