"""Channel occupancy in Redis (design §5): one atomic Lua step per channel event.

The script (`occupancy.lua`) orders each (channel, uid)'s events, keeps left users as
tombstones for a window, never counts recorder uids, recomputes occupancy and the desired
recording state under the channel's rules, bumps `gen` and marks a reconcile wake-up when
the desired state flips, and acknowledges the stream entry, all in one step. Per uid the
state is that of its highest-order event, so duplicates and reordering change nothing.
The memory bound per channel is written down in docs/design.md ("Channel state in Redis");
worker/state/channel_state.py reads the state back.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

import redis.asyncio as aioredis
from redis.asyncio.client import Pipeline
from redis.exceptions import RedisError

from worker import keys
from worker.events import ChannelEvent, ChannelEventKind, Role
from worker.state.scripts import LuaScript

#: Agora's advice: keep a left user's record about a minute to absorb late events.
DEFAULT_TOMBSTONE_MS: Final = 60_000
#: How long a recorder uid seen in a channel stays known (a session's resource lives ≤ 72 h).
DEFAULT_RECORDER_MEMORY_MS: Final = 72 * 3600 * 1000

_SCRIPT: Final = LuaScript("worker.state", "occupancy.lua")

_ROLE_LETTERS: Final = {Role.COMMUNICATION: "c", Role.HOST: "h", Role.AUDIENCE: "a"}
_KIND_LETTERS: Final = {
    ChannelEventKind.JOIN: "j",
    ChannelEventKind.LEAVE: "l",
    ChannelEventKind.ROLE_HOST: "h",
    ChannelEventKind.ROLE_AUDIENCE: "a",
}


@dataclass(frozen=True, slots=True)
class OccupancyRules:
    """A channel's recording rules as far as occupancy goes (policies map onto these)."""

    record: bool = True
    """Whether the channel is recorded at all."""
    min_users: int = 1
    """Qualifying users needed before recording is desired."""
    count_audience: bool = False
    """Whether live-profile audience members qualify."""

    def __post_init__(self) -> None:
        if self.min_users < 1:
            raise ValueError(f"min_users must be at least 1, got {self.min_users}")


class Outcome(StrEnum):
    """What one event did to the channel's membership."""

    APPLIED = "applied"
    DUPLICATE = "duplicate"
    """Same order as the uid's last event (or a channel close already applied)."""
    STALE = "stale"
    """Lower order than the uid's last event: older news, no effect."""
    RECORDER = "recorder"
    """The recorder's own event: never counted, the uid is remembered as a recorder."""


@dataclass(frozen=True, slots=True)
class ApplyResult:
    """The channel's state right after one event."""

    channel: str
    changed: bool
    """Whether the desired recording state flipped (a reconcile wake-up is due)."""
    desired: bool
    gen: int
    occupancy: int
    outcome: Outcome


@dataclass(frozen=True, slots=True)
class StreamAck:
    """The stream entry to acknowledge in the same atomic step as the event's effect."""

    stream: str
    group: str
    entry_id: str


@dataclass(frozen=True, slots=True)
class ScriptCall:
    """One prepared run of the occupancy script."""

    channel: str
    keys: tuple[str, ...]
    args: tuple[str, ...]


def _flag(value: bool) -> str:
    return "1" if value else "0"


def _call(
    channel: str,
    op: str,
    uid: int,
    kind: str,
    role: str,
    order: int,
    ts_ms: int,
    is_recorder: bool,
    rules: OccupancyRules,
    ack: StreamAck | None,
    tombstone_ms: int,
    recorder_memory_ms: int,
) -> ScriptCall:
    return ScriptCall(
        channel=channel,
        keys=(
            keys.channel(channel),
            keys.channel_members(channel),
            keys.channel_tombstones(channel),
            keys.channel_recorders(channel),
            keys.CHANNELS,
            keys.RECONCILE_DUE,
            ack.stream if ack else keys.CHANNELS,
            keys.override(channel),
        ),
        args=(
            op,
            channel,
            str(uid),
            kind,
            role,
            str(order),
            str(ts_ms),
            _flag(is_recorder),
            _flag(rules.record),
            str(rules.min_users),
            _flag(rules.count_audience),
            str(tombstone_ms),
            str(recorder_memory_ms),
            ack.group if ack else "",
            ack.entry_id if ack else "",
        ),
    )


class OccupancyScript:
    """Runs the occupancy step by EVALSHA, many per round trip, reloading it if Redis lost it
    (worker/state/scripts.py)."""

    def __init__(
        self,
        *,
        tombstone_ms: int = DEFAULT_TOMBSTONE_MS,
        recorder_memory_ms: int = DEFAULT_RECORDER_MEMORY_MS,
    ) -> None:
        if tombstone_ms < 0 or recorder_memory_ms < 1:
            raise ValueError("tombstone_ms must be >= 0 and recorder_memory_ms >= 1")
        self.tombstone_ms = tombstone_ms
        self.recorder_memory_ms = recorder_memory_ms

    def event_call(
        self, event: ChannelEvent, rules: OccupancyRules, *, ack: StreamAck | None = None
    ) -> ScriptCall:
        """The script run that applies one channel event (and acknowledges its entry)."""
        closed = event.kind is ChannelEventKind.CHANNEL_CLOSED
        return _call(
            event.channel,
            "c" if closed else "u",
            event.uid,
            "" if closed else _KIND_LETTERS[event.kind],
            _ROLE_LETTERS[event.role] if event.role is not None else "c",
            event.order,
            event.ts_ms,
            event.is_recorder,
            rules,
            ack,
            self.tombstone_ms,
            self.recorder_memory_ms,
        )

    def recorder_call(
        self, channel: str, uid: int, rules: OccupancyRules, *, ack: StreamAck | None = None
    ) -> ScriptCall:
        """The script run that marks `uid` as a recorder (e.g. a failover's `newUid`)."""
        return _call(
            channel,
            "r",
            uid,
            "",
            "c",
            0,
            0,
            True,
            rules,
            ack,
            self.tombstone_ms,
            self.recorder_memory_ms,
        )

    async def load(self, redis: aioredis.Redis[bytes]) -> None:
        """Load the script into Redis' script cache."""
        await _SCRIPT.load(redis)

    async def run(
        self,
        redis: aioredis.Redis[bytes],
        calls: Sequence[ScriptCall],
        *,
        acks: Sequence[StreamAck] = (),
    ) -> list[ApplyResult | RedisError]:
        """Run `calls` in order in one pipeline, plus plain XACKs of `acks`.

        Returns one ApplyResult per call, or the RedisError that call failed with. Raises
        RedisError only when the round trip itself failed (then nothing is known).
        """

        def queue_acks(pipe: Pipeline[Any]) -> None:
            for ack in acks:
                pipe.xack(ack.stream, ack.group, ack.entry_id)

        replies = await _SCRIPT.run_pipelined(
            redis, [(call.keys, call.args) for call in calls], queue_after=queue_acks
        )
        return [
            reply if isinstance(reply, RedisError) else parse_result(call.channel, reply)
            for call, reply in zip(calls, replies, strict=True)
        ]

    async def apply(
        self,
        redis: aioredis.Redis[bytes],
        event: ChannelEvent,
        rules: OccupancyRules,
        *,
        ack: StreamAck | None = None,
    ) -> ApplyResult:
        """Apply one channel event now; raises the RedisError if the script failed."""
        (result,) = await self.run(redis, [self.event_call(event, rules, ack=ack)])
        if isinstance(result, RedisError):
            raise result
        return result


def parse_result(channel: str, reply: object) -> ApplyResult:
    """The script's reply `{changed, desired, gen, occupancy, outcome}` as an ApplyResult."""
    if not isinstance(reply, list) or len(reply) != 5:
        raise RedisError(f"unexpected occupancy script reply for channel {channel!r}")
    changed, desired, gen, occupancy, outcome = reply
    text = outcome.decode("ascii") if isinstance(outcome, bytes) else str(outcome)
    return ApplyResult(
        channel=channel,
        changed=bool(changed),
        desired=bool(desired),
        gen=int(gen),
        occupancy=int(occupancy),
        outcome=Outcome(text),
    )
