"""Policies drive the controller: web mode, individual mode, channels not recorded."""

from __future__ import annotations

import pytest

from tests.support.controller import Stack
from tests.support.waiting import eventually
from worker.state.sessions import SessionState


@pytest.fixture
def policy_text() -> str:
    return """
[[rule]]
match = "page-*"
mode = "web"
web_url = "https://example.com/view/{channel}"
[[rule]]
match = "class-*"
mode = "individual"
[[rule]]
match = "private-*"
record = false
"""


async def test_a_web_recording_is_started_and_stopped_after_the_grace_period(
    stack: Stack,
) -> None:
    await stack.join("page-1", 11)
    running = await stack.until_state("page-1", SessionState.RUNNING)
    assert running.mode == "web"
    (task,) = stack.running("page-1")
    assert task.mode.value == "web"
    await stack.leave("page-1", 11)
    await stack.start_worker()

    async def stopped() -> bool:
        return not stack.running("page-1") and await stack.session("page-1") is None

    await eventually(stopped, what="the web recording to stop")
    (entry,) = await stack.deps.history.history("page-1")
    assert (entry.outcome, entry.mode) == ("stopped", "web")
    assert entry.files


async def test_an_individual_recording_lists_each_users_files(stack: Stack) -> None:
    await stack.join("class-1", 11)
    await stack.until_state("class-1", SessionState.RUNNING)
    await stack.leave("class-1", 11)
    await stack.start_worker()

    async def stopped() -> bool:
        return await stack.session("class-1") is None

    await eventually(stopped)
    (entry,) = await stack.deps.history.history("class-1")
    assert entry.mode == "individual"
    assert any("__uid_s_11__" in file.filename for file in entry.files)


async def test_a_channel_whose_policy_does_not_record_is_left_alone(stack: Stack) -> None:
    await stack.join("private-1", 11)
    assert await stack.reconcile("private-1") == "idle"
    assert stack.running() == []
