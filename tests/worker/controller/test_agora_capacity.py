"""The recording limit: Agora's capacity answers (406) and our own FIFO slots."""

from __future__ import annotations

import pytest

from sandbox.config import SandboxConfig
from tests.support.controller import TIME_SCALE, Stack
from tests.support.waiting import eventually
from worker.state.sessions import SessionState


@pytest.fixture
def sandbox_config() -> SandboxConfig:
    return SandboxConfig(time_scale=TIME_SCALE, seed=7, max_concurrent=1)


async def test_agora_at_capacity_puts_the_channel_first_in_line_until_a_recording_stops(
    stack: Stack,
) -> None:
    await stack.join("room-1", 11)
    await stack.until_state("room-1", SessionState.RUNNING)
    await stack.join("room-2", 12)
    assert "acquire" in await stack.reconcile("room-2")
    assert await stack.session("room-2") is None
    assert await stack.deps.slots.waiting() == ["room-2"]
    assert stack.world.stats_view()["rejected_406"] >= 1
    await stack.start_worker()
    await stack.leave("room-1", 11)

    async def second_records() -> bool:
        return [t.cname for t in stack.running()] == ["room-2"]

    await eventually(second_records, what="room-2 to record once room-1 stopped")
    assert stack.world.stats_view()["peak_active"] == 1
