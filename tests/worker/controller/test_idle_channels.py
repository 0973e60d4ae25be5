"""reconcile_all forgets channels idle for longer than the horizon, and nothing else."""

from __future__ import annotations

import pytest

from tests.support.controller import Stack
from worker import keys
from worker.controller.sweep import IDLE_CHANNEL_HORIZON_MS, forget_idle, sweep
from worker.events import ChannelEventKind, Role
from worker.state.sessions import SessionState


async def _age(stack: Stack, channel: str, by_ms: int = IDLE_CHANNEL_HORIZON_MS + 60_000) -> None:
    """Pretend the channel's last change happened `by_ms` ago."""
    then = await stack.effects.now_ms() - by_ms
    await stack.arq.hset(keys.channel(channel), "updated_ms", then)
    await stack.arq.zadd(keys.CHANNELS, {channel: then})


async def _tracked(stack: Stack, channel: str) -> bool:
    return bool(await stack.arq.exists(keys.channel(channel))) and (
        await stack.arq.zscore(keys.CHANNELS, channel) is not None
    )


async def _emptied(stack: Stack, channel: str) -> None:
    """A user came and went; the wake-ups were enqueued (as the consumer does)."""
    await stack.apply(channel, 11, ChannelEventKind.JOIN, Role.COMMUNICATION)
    await stack.apply(channel, 11, ChannelEventKind.LEAVE, Role.COMMUNICATION)
    await stack.arq.zrem(keys.RECONCILE_DUE, channel)


async def test_an_old_idle_channel_is_forgotten_with_its_keys(stack: Stack) -> None:
    await _emptied(stack, "old")
    await stack.arq.zadd(keys.channel_tombstones("old"), {"11": 1})
    await _age(stack, "old")
    report = await sweep(stack.effects)
    assert report.forgotten == ["old"]
    assert not await stack.arq.exists(
        keys.channel("old"), keys.channel_members("old"), keys.channel_tombstones("old")
    )
    assert await stack.arq.zscore(keys.CHANNELS, "old") is None


async def test_a_recently_changed_idle_channel_is_kept(stack: Stack) -> None:
    await _emptied(stack, "recent")
    await _age(stack, "recent", by_ms=IDLE_CHANNEL_HORIZON_MS - 60_000)
    assert await forget_idle(stack.effects, await stack.effects.now_ms()) == []
    assert await _tracked(stack, "recent")


async def test_an_old_channel_with_its_index_entry_recent_is_kept(stack: Stack) -> None:
    await _emptied(stack, "touched")
    await _age(stack, "touched")
    now = await stack.effects.now_ms()
    await stack.arq.hset(keys.channel("touched"), "updated_ms", now)  # changed meanwhile
    assert await forget_idle(stack.effects, now) == []
    assert await _tracked(stack, "touched")


async def test_occupied_recording_waiting_or_locked_old_channels_are_kept(stack: Stack) -> None:
    await stack.join("recording", 11)
    await stack.until_state("recording", SessionState.RUNNING)
    await stack.join("audience-only", 21, role="audience")  # present, not counted
    await _emptied(stack, "waiting")
    await stack.arq.zadd(keys.WAITING, {"waiting": 1})
    await _emptied(stack, "locked")
    await stack.arq.set(keys.lock("locked"), "token", px=10_000)
    await _emptied(stack, "with-session")
    await stack.arq.hset(keys.session("with-session"), "state", "stopping")
    await _emptied(stack, "wake-pending")
    await stack.arq.zadd(keys.RECONCILE_DUE, {"wake-pending": 3})
    channels = ["recording", "audience-only", "waiting", "locked", "with-session", "wake-pending"]
    for channel in channels:
        await _age(stack, channel)
    assert await stack.arq.hget(keys.channel("audience-only"), "occupancy") == b"0"
    assert await forget_idle(stack.effects, await stack.effects.now_ms()) == []
    for channel in channels:
        assert await _tracked(stack, channel), channel


async def test_kept_old_channels_do_not_hide_idle_ones_behind_them(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("worker.controller.sweep.IDLE_SWEEP_LIMIT", 2)
    for channel, uid in (("a-busy", 1), ("b-busy", 2)):
        await stack.apply(channel, uid, ChannelEventKind.JOIN, Role.AUDIENCE)
        await _age(stack, channel, by_ms=IDLE_CHANNEL_HORIZON_MS + 120_000)
    await _emptied(stack, "c-idle")
    await _age(stack, "c-idle")
    forgotten: list[str] = []
    for _ in range(3):
        forgotten += await forget_idle(stack.effects, await stack.effects.now_ms())
    assert forgotten == ["c-idle"]
    assert await _tracked(stack, "a-busy")
    assert await _tracked(stack, "b-busy")
