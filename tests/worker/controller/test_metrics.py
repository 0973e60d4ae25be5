"""The controller's metrics move in real runs: Agora requests, recordings, drift, jobs."""

from __future__ import annotations

import pytest
from arq.worker import Retry
from prometheus_client import CollectorRegistry

from sandbox.models import Profile
from sandbox.models import Role as SandboxRole
from tests.support.controller import Stack
from tests.support.waiting import eventually
from worker import keys
from worker.controller.metrics import ControllerMetrics, agora_operation
from worker.functions.reconcile_all import reconcile_all
from worker.state.sessions import SessionState


def _value(registry: CollectorRegistry, name: str, **labels: str) -> float:
    return registry.get_sample_value(name, labels) or 0.0


async def test_a_recording_started_and_stopped_is_counted_with_its_agora_requests(
    stack: Stack, controller_metrics: ControllerMetrics
) -> None:
    reg = controller_metrics.registry
    await stack.join("room-1", 11)
    await stack.start_worker()

    async def recording() -> bool:
        return len(stack.running("room-1")) == 1

    await eventually(recording)
    await stack.leave("room-1", 11)

    async def stopped() -> bool:
        return not stack.running("room-1") and await stack.session("room-1") is None

    await eventually(stopped, what="the recording to stop")
    assert _value(reg, "autorec_recordings_started_total") == 1
    assert _value(reg, "autorec_recordings_stopped_total", outcome="stopped") == 1
    assert _value(reg, "autorec_recordings_failed_total") == 0
    for operation in ("acquire", "start", "stop"):
        assert _value(reg, "autorec_agora_requests_total", operation=operation, outcome="2xx") == 1
        assert _value(reg, "autorec_agora_request_duration_seconds_count", operation=operation) == 1
    assert _value(reg, "autorec_agora_requests_total", operation="query", outcome="2xx") >= 1
    success = _value(reg, "autorec_jobs_total", function="reconcile_channel", outcome="success")
    assert success >= 2
    assert _value(reg, "autorec_job_duration_seconds_count", function="reconcile_channel") >= 2
    names = {sample.labels.get("operation") for m in reg.collect() for sample in m.samples}
    assert not any(name and "room" in name for name in names)


async def test_agora_error_answers_are_counted_by_status_class(
    stack: Stack, controller_metrics: ControllerMetrics
) -> None:
    await stack.join("room-1", 11)
    first = await stack.until_state("room-1", SessionState.RUNNING)
    stack.world.kill(first.sid or "")
    await stack.deps.sessions.set_check_due("room-1", await stack.effects.now_ms())
    await stack.start_worker()
    await stack.reconcile("room-1")

    async def restarted() -> bool:
        current = await stack.session("room-1")
        return current is not None and current.sid not in (None, first.sid)

    await eventually(restarted, what="a new recording after the dead one")
    reg = controller_metrics.registry
    assert _value(reg, "autorec_agora_requests_total", operation="query", outcome="4xx") >= 1
    assert _value(reg, "autorec_recordings_stopped_total", outcome="died") == 1
    assert _value(reg, "autorec_reconcile_drift_total", kind="missing_recording") == 1
    assert _value(reg, "autorec_recordings_started_total") == 2


async def test_reconcile_all_counts_healed_members_and_lost_leases(
    stack: Stack, controller_metrics: ControllerMetrics
) -> None:
    reg = controller_metrics.registry
    await stack.join("room-1", 11)
    await stack.until_state("room-1", SessionState.RUNNING)
    await stack.arq.delete(keys.SLOTS)
    stack.world.join("room-1", 12, role=SandboxRole.HOST, profile=Profile.LIVE, platform=7)
    await reconcile_all(stack.ctx)
    assert _value(reg, "autorec_reconcile_drift_total", kind="lost_lease") == 1
    assert _value(reg, "autorec_reconcile_drift_total", kind="healed_membership") == 1
    assert _value(reg, "autorec_agora_requests_total", operation="user_list", outcome="2xx") == 1
    assert _value(reg, "autorec_jobs_total", function="reconcile_all", outcome="success") == 1


async def test_a_busy_channel_counts_a_retry(
    stack: Stack, controller_metrics: ControllerMetrics
) -> None:
    await stack.arq.set(keys.lock("room-1"), "someone else", px=5_000)
    with pytest.raises(Retry):
        await stack.reconcile("room-1")
    reg = controller_metrics.registry
    assert _value(reg, "autorec_jobs_total", function="reconcile_channel", outcome="retry") == 1


def test_operations_are_named_without_ids() -> None:
    assert agora_operation("/v1/apps/app/cloud_recording/acquire") == "acquire"
    assert (
        agora_operation("/v1/apps/app/cloud_recording/resourceid/r/sid/s/mode/mix/updateLayout")
        == "updateLayout"
    )
    assert agora_operation("/v1/apps/app/cloud_recording/resourceid/r/mode/mix/start") == "start"
    assert agora_operation("/dev/v1/channel/user/app/stop") == "user_list"
    assert agora_operation("/v1/ncs/ip") == "ncs_ip"
    assert agora_operation("/elsewhere") == "other"
