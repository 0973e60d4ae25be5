"""Changing a running recording against the sandbox and a real Redis: updateLayout for a mix
recording, update for subscriptions and web pause, conflicts that send nothing, Agora's
refusals, the shared rate limiter, and the edge's `request_update` through a real arq worker.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any, cast

import httpx
import orjson
import pytest
from arq.worker import Worker

from sandbox.faults import FaultRule
from sandbox.models import Endpoint
from sandbox.start_spec import UidFilter
from tests.support.controller import Stack
from tests.support.waiting import eventually
from worker import keys
from worker.controller.metrics import ControllerMetrics, agora_http_client
from worker.controller.update import update_recording
from worker.functions.update_recording import update_recording as update_recording_job
from worker.main import controller_functions
from worker.state.changes import (
    UPDATE_FUNCTION,
    LayoutChange,
    LayoutRegion,
    RecordingChange,
    SubscribeChange,
    WebChange,
    outcome,
    request_update,
)
from worker.state.sessions import SessionState

LAYOUT = RecordingChange(
    layout=LayoutChange(
        mixed_video_layout=3,
        background_color="#102030",
        layout_config=[LayoutRegion(uid="11", x_axis=0, y_axis=0, width=0.5, height=0.5)],
    )
)


@pytest.fixture
def policy_text() -> str:
    return """
[[rule]]
match = "class-*"
mode = "individual"
[[rule]]
match = "page-*"
mode = "web"
web_url = "https://example.com/view/{channel}"
"""


@pytest.fixture
def sent() -> list[httpx.Request]:
    """Every request the Agora client sent, as it went on the wire."""
    return []


@pytest.fixture
async def http(
    controller_metrics: ControllerMetrics, sent: list[httpx.Request]
) -> AsyncIterator[httpx.AsyncClient]:
    async def record(request: httpx.Request) -> None:
        sent.append(request)

    async with agora_http_client(controller_metrics) as client:
        client.event_hooks = {"request": [record], "response": []}
        yield client


def bodies(sent: list[httpx.Request], operation: str) -> list[dict[str, Any]]:
    """The JSON bodies of the requests whose path ends with `/<operation>`."""
    return [orjson.loads(r.content) for r in sent if r.url.path.endswith(f"/{operation}")]


def answers(stack: Stack, endpoint: Endpoint) -> list[int]:
    """The statuses the sandbox answered to `endpoint`, in order."""
    return [call.status for call in stack.world.calls if call.endpoint is endpoint]


def changes_sent(stack: Stack) -> list[int]:
    return answers(stack, Endpoint.UPDATE) + answers(stack, Endpoint.UPDATE_LAYOUT)


@contextlib.asynccontextmanager
async def arq_worker(stack: Stack) -> AsyncIterator[Worker]:
    """An arq worker running the worker's registered jobs (worker.main) in the background."""
    functions, _ = controller_functions(timeout_s=20, interval_s=30)
    worker = Worker(
        functions=functions,
        redis_pool=stack.arq,
        ctx=cast("dict[Any, Any]", stack.ctx),
        poll_delay=0.01,
        handle_signals=False,
    )
    task = asyncio.create_task(worker.main())
    try:
        yield worker
    finally:
        # arq's burst exit: finish the current poll and the running jobs, then return.
        worker.burst = True
        worker.max_burst_jobs = 0
        await asyncio.wait_for(task, timeout=10)


async def test_a_layout_change_of_a_mix_recording_is_sent_to_agora_as_update_layout(
    stack: Stack, sent: list[httpx.Request]
) -> None:
    await stack.join("room-1", 11)
    running = await stack.until_state("room-1", SessionState.RUNNING)

    result = await update_recording(stack.deps, "room-1", LAYOUT)

    assert result == outcome("ok")
    assert answers(stack, Endpoint.UPDATE_LAYOUT) == [200]
    (body,) = bodies(sent, "updateLayout")
    assert body == {
        "cname": "room-1",
        "uid": str(running.uid),
        "clientRequest": {
            "mixedVideoLayout": 3,
            "backgroundColor": "#102030",
            "layoutConfig": [
                {"uid": "11", "x_axis": 0.0, "y_axis": 0.0, "width": 0.5, "height": 0.5}
            ],
        },
    }
    assert await stack.session("room-1") == running


async def test_a_subscription_change_of_an_individual_recording_is_sent_as_update(
    stack: Stack,
) -> None:
    await stack.join("class-1", 11)
    await stack.join("class-1", 12)
    await stack.until_state("class-1", SessionState.RUNNING)
    change = RecordingChange(
        subscribe=SubscribeChange(audio_uids=["11"], unsubscribe_video_uids=["12"])
    )

    result = await update_recording(stack.deps, "class-1", change)

    assert result == outcome("ok")
    assert answers(stack, Endpoint.UPDATE) == [200]
    (task,) = stack.running("class-1")
    assert task.audio == UidFilter(include=frozenset({"11"}))
    assert task.video == UidFilter(exclude=frozenset({"12"}))


async def test_a_web_recording_is_paused(stack: Stack) -> None:
    await stack.join("page-1", 11)
    await stack.until_state("page-1", SessionState.RUNNING)

    result = await update_recording(
        stack.deps, "page-1", RecordingChange(web=WebChange(on_hold=True))
    )

    assert result == outcome("ok")
    (task,) = stack.running("page-1")
    assert task.onhold is True


async def test_a_layout_change_of_an_individual_recording_is_a_conflict_and_sends_nothing(
    stack: Stack,
) -> None:
    await stack.join("class-1", 11)
    await stack.until_state("class-1", SessionState.RUNNING)

    result = await update_recording(stack.deps, "class-1", LAYOUT)

    assert (result["result"], result["field"], result["agora"]) == ("conflict", "layout", None)
    assert "individual" in (result["error"] or "")
    assert changes_sent(stack) == []


async def test_a_change_of_a_channel_without_a_recording_is_a_conflict(stack: Stack) -> None:
    result = await update_recording(stack.deps, "room-9", LAYOUT)

    assert result == outcome("conflict", error="no recording runs in room-9")
    assert stack.world.calls == []


async def test_an_agora_refusal_comes_back_with_its_status_code_and_reason(
    stack: Stack,
) -> None:
    await stack.join("room-1", 11)
    running = await stack.until_state("room-1", SessionState.RUNNING)
    stack.world.faults.add(FaultRule(endpoint="updateLayout", status=404, code=404, count=1))

    result = await update_recording(stack.deps, "room-1", LAYOUT)

    assert result["result"] == "agora_error"
    assert result["agora"] == {"status": 404, "code": 404, "reason": "failed to find worker"}
    assert "HTTP 404" in (result["error"] or "")
    # A 404 may be a failover: the periodic query, not the change, judges the task.
    assert await stack.session("room-1") == running


async def test_a_transient_agora_failure_is_retried_and_the_change_applies(
    stack: Stack,
) -> None:
    await stack.join("class-1", 11)
    await stack.until_state("class-1", SessionState.RUNNING)
    stack.world.faults.add(FaultRule(endpoint="update", status=503, count=1))
    change = RecordingChange(subscribe=SubscribeChange(video_uids=["11"]))

    result = await update_recording(stack.deps, "class-1", change)

    assert result == outcome("ok")
    assert answers(stack, Endpoint.UPDATE) == [503, 200]


async def test_a_layout_agora_would_refuse_is_invalid_and_sends_nothing(stack: Stack) -> None:
    await stack.join("room-1", 11)
    await stack.until_state("room-1", SessionState.RUNNING)
    custom_without_regions = RecordingChange(layout=LayoutChange(mixed_video_layout=3))

    result = await update_recording(stack.deps, "room-1", custom_without_regions)

    assert (result["result"], result["field"]) == ("invalid", "layout.layout_config")
    assert changes_sent(stack) == []


async def test_a_change_waits_for_a_channel_whose_lock_a_reconcile_holds(stack: Stack) -> None:
    await stack.join("room-1", 11)
    await stack.until_state("room-1", SessionState.RUNNING)
    await stack.arq.set(keys.lock("room-1"), "a-reconcile", px=300)

    result = await update_recording(stack.deps, "room-1", LAYOUT)

    assert result == outcome("ok")
    assert await stack.arq.get(keys.lock("room-1")) is None


async def test_with_the_rate_limit_full_the_change_waits_for_its_own_permit(
    stack: Stack,
) -> None:
    await stack.join("room-1", 11)
    await stack.until_state("room-1", SessionState.RUNNING)
    limiter = stack.deps.limiter
    while await limiter.try_acquire() == 0:
        pass  # take every permit of the current window
    assert not await limiter.has_spare_capacity()
    permits_before = await stack.arq.zcard(keys.RATE_LIMIT)

    result = await update_recording(stack.deps, "room-1", LAYOUT)

    assert result == outcome("ok")
    assert answers(stack, Endpoint.UPDATE_LAYOUT) == [200]
    times_us = [
        int(score) for _, score in await stack.arq.zrange(keys.RATE_LIMIT, 0, -1, withscores=True)
    ]
    assert len(times_us) == permits_before + 1  # one permit, for its one request
    # Its permit came after a full second past the window it found full: it waited.
    window = limiter.permits_per_window
    assert times_us[-1] - times_us[-1 - window] > 1_000_000


async def test_the_job_answers_an_invalid_change_naming_the_field_and_is_counted(
    stack: Stack, controller_metrics: ControllerMetrics
) -> None:
    result = await update_recording_job(
        stack.ctx, "room-1", {"layout": {"background_color": "red"}}
    )

    assert (result["result"], result["field"]) == ("invalid", "layout.background_color")
    counted = controller_metrics.registry.get_sample_value(
        "autorec_jobs_total", {"function": UPDATE_FUNCTION, "outcome": "success"}
    )
    assert counted == 1


async def test_the_edge_request_is_answered_by_a_running_worker(
    stack: Stack, sent: list[httpx.Request]
) -> None:
    await stack.join("room-1", 11)
    await stack.until_state("room-1", SessionState.RUNNING)

    async with arq_worker(stack):
        result = await request_update(stack.arq, "room-1", LAYOUT, timeout_s=10)

    assert result == outcome("ok")
    (body,) = bodies(sent, "updateLayout")
    assert body["clientRequest"]["mixedVideoLayout"] == 3


async def test_the_edge_request_answers_a_conflict_from_the_worker(stack: Stack) -> None:
    async with arq_worker(stack):
        result = await request_update(stack.arq, "room-9", LAYOUT, timeout_s=10)

    assert result == outcome("conflict", error="no recording runs in room-9")


async def test_an_edge_request_nobody_answers_times_out_and_is_never_applied_later(
    stack: Stack,
) -> None:
    await stack.join("room-1", 11)
    await stack.until_state("room-1", SessionState.RUNNING)

    result = await request_update(stack.arq, "room-1", LAYOUT, timeout_s=0.2)

    assert result["result"] == "timeout"
    assert "may still be applied" in (result["error"] or "")

    async def expired() -> bool:
        results = await stack.arq.all_job_results()
        return any(
            (r.job_id or "").startswith("update:") and "expired" in str(r.result) for r in results
        )

    async with arq_worker(stack):
        await eventually(expired, what="the worker to drop the expired job")
    assert changes_sent(stack) == []
