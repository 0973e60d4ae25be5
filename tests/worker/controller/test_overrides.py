"""Manual overrides (design §4, I8): record now, stop now, back to automatic — carried out by
the controller under the recording limit, with the sandbox playing Agora."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.controller import Stack
from tests.support.waiting import eventually
from worker.state.manual import Conflict, Invalid, ManualControl
from worker.state.overrides import Record
from worker.state.sessions import SessionState

STREAM_TYPES = {"audio": 0, "video": 1, "both": 2}


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"autorec_max_recordings": 1}


@pytest.fixture
def manual(stack: Stack) -> ManualControl:
    return ManualControl(stack.arq, stack.deps.policies, stack.deps.history)


async def _recording(stack: Stack, channel: str) -> bool:
    session = await stack.session(channel)
    return session is not None and session.state is SessionState.RUNNING


@pytest.mark.parametrize(
    ("mode", "streams"),
    [("individual", "audio"), ("individual", "video"), ("individual", "both"), ("mix", "both")],
)
async def test_record_now_records_an_empty_channel_with_the_asked_mode_and_streams(
    stack: Stack, manual: ManualControl, mode: str, streams: str
) -> None:
    await stack.start_worker()
    await manual.record("room-1", fields={"mode": mode, "streams": streams})

    await eventually(lambda: _recording(stack, "room-1"), what="the manual recording")
    (task,) = stack.running("room-1")
    assert task.mode.value == mode
    assert task.spec.stream_types == STREAM_TYPES[streams]
    session = await stack.session("room-1")
    assert session is not None
    assert (session.mode.value, session.streams) == (mode, streams)


async def test_stop_now_ends_a_recording_of_an_occupied_channel_with_reason_manual(
    stack: Stack, manual: ManualControl
) -> None:
    await stack.join("room-1", 11)
    await stack.start_worker()
    await eventually(lambda: _recording(stack, "room-1"))

    await manual.stop("room-1")

    async def stopped() -> bool:
        return not stack.running("room-1") and await stack.session("room-1") is None

    await eventually(stopped, what="the manual stop")
    (entry,) = await stack.deps.history.history("room-1")
    assert entry.stop_reason == "manual"
    # The channel is still occupied: it stays stopped.
    assert await stack.reconcile("room-1") == "idle"
    assert stack.running("room-1") == []


async def test_a_stopped_channel_records_again_at_the_next_join_after_it_emptied(
    stack: Stack, manual: ManualControl
) -> None:
    await stack.join("room-1", 11)
    await stack.start_worker()
    await eventually(lambda: _recording(stack, "room-1"))
    await manual.stop("room-1")
    await eventually(lambda: stack.running("room-1") == [], what="the manual stop")

    await stack.leave("room-1", 11)
    await eventually(
        lambda: _override_gone(manual, "room-1"), what="the override to end with the meeting"
    )
    await stack.join("room-1", 12)
    await eventually(lambda: _recording(stack, "room-1"), what="the next meeting's recording")


async def _override_gone(manual: ManualControl, channel: str) -> bool:
    return await manual.overrides.get(channel) is None


async def test_always_restarts_a_recording_whose_task_died(
    stack: Stack, manual: ManualControl
) -> None:
    await stack.start_worker()
    await manual.record("room-1")
    await eventually(lambda: _recording(stack, "room-1"))
    (first,) = stack.running("room-1")
    session = await stack.session("room-1")
    assert session is not None

    # The task exits at Agora, which reports it with recording event 11.
    stack.world.kill(first.sid)
    await stack.recording_event(
        "room-1", 11, sid=first.sid, uid=session.uid, sequence=1, exit_status=1
    )

    async def replaced() -> bool:
        tasks = stack.running("room-1")
        return len(tasks) == 1 and tasks[0].sid != first.sid

    await eventually(replaced, timeout_s=30, what="a replacement recording")
    assert len(stack.running()) == 1


async def test_a_manual_start_beyond_the_limit_waits_first_in_line_and_starts_when_a_slot_frees(
    stack: Stack, manual: ManualControl
) -> None:
    await stack.join("busy", 11)
    await stack.start_worker()
    await eventually(lambda: _recording(stack, "busy"))

    await manual.record("manual-1")

    async def waiting() -> bool:
        view = await manual.reader.channel("manual-1")
        return view is not None and view.state == "waiting" and view.waiting_position == 1

    await eventually(waiting, what="the manual start to wait for a slot")
    assert [t.cname for t in stack.running()] == ["busy"]
    await stack.leave("busy", 11)
    await eventually(lambda: _recording(stack, "manual-1"), what="the start once a slot freed")
    assert [t.cname for t in stack.running()] == ["manual-1"]


async def test_back_to_automatic_stops_a_manual_recording_of_an_empty_channel(
    stack: Stack, manual: ManualControl
) -> None:
    await stack.start_worker()
    await manual.record("room-1")
    await eventually(lambda: _recording(stack, "room-1"))

    assert await manual.automatic("room-1")

    await eventually(lambda: stack.running("room-1") == [], what="the automatic stop")


async def test_an_expired_override_lets_the_channel_go_back_to_automatic(
    stack: Stack, manual: ManualControl
) -> None:
    await stack.start_worker()
    now = await manual.reader.now_ms()
    await manual.record("room-1", expires_at_ms=now + 1500)
    await eventually(lambda: _recording(stack, "room-1"))

    await eventually(lambda: stack.running("room-1") == [], what="the stop after expiry")
    assert await manual.overrides.get("room-1") is None


async def test_record_now_with_another_mode_than_the_running_recording_is_a_conflict(
    stack: Stack, manual: ManualControl
) -> None:
    await stack.join("room-1", 11)
    await stack.start_worker()
    await eventually(lambda: _recording(stack, "room-1"))

    with pytest.raises(Conflict) as caught:
        await manual.record("room-1", fields={"mode": "individual"})
    assert caught.value.field == "mode"
    assert await manual.overrides.get("room-1") is None


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"mode": "karaoke"}, "mode"),
        ({"mode": "individual", "transcoding": {"width": 640}}, "transcoding"),
        ({"mode": "web"}, "web_url"),
        ({"min_users": 3}, "min_users"),
    ],
)
async def test_fields_that_do_not_fit_the_policy_are_refused_naming_the_field(
    stack: Stack, manual: ManualControl, fields: dict[str, Any], field: str
) -> None:
    with pytest.raises(Invalid) as caught:
        await manual.record("room-1", fields=fields)
    assert caught.value.field == field
    assert await manual.overrides.get("room-1") is None


async def test_a_never_override_carries_no_recording_fields(manual: ManualControl) -> None:
    with pytest.raises(Invalid) as caught:
        await manual.set_override("room-1", Record.NEVER, fields={"mode": "mix"})
    assert caught.value.field == "mode"
