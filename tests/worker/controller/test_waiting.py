"""Our own recording limit: channels beyond it wait FIFO and start as recordings stop."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.controller import Stack
from tests.support.waiting import eventually


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"autorec_max_recordings": 2}


async def _recording(stack: Stack) -> list[str]:
    return sorted(t.cname for t in stack.running())


async def test_channels_beyond_the_limit_wait_and_start_in_arrival_order(stack: Stack) -> None:
    for index, channel in enumerate(["a", "b", "c", "d"]):
        await stack.join(channel, 10 + index)
    await stack.start_worker()

    async def two_recording() -> bool:
        return await _recording(stack) == ["a", "b"]

    await eventually(two_recording)
    assert await stack.deps.slots.waiting() == ["c", "d"]
    await stack.leave("a", 10)

    async def c_admitted() -> bool:
        return await _recording(stack) == ["b", "c"]

    await eventually(c_admitted, what="the first waiter to start")
    assert await stack.deps.slots.waiting() == ["d"]
    assert stack.world.stats_view()["peak_active"] == 2


async def test_a_waiting_channel_that_empties_leaves_the_queue(stack: Stack) -> None:
    for index, channel in enumerate(["a", "b", "c"]):
        await stack.join(channel, 10 + index)
        await stack.reconcile(channel)
    assert await stack.deps.slots.waiting() == ["c"]
    await stack.leave("c", 12)
    assert await stack.reconcile("c") == "idle"
    assert await stack.deps.slots.waiting() == []
