"""A worker killed with SIGKILL inside an Agora call, then restarted (I1, I3, I5).

Processes as deployed: the sandbox, `autorec webhooks` and `autorec worker`. The sandbox
holds the answer of the call (a latency fault) so the worker is inside it when it dies. arq
would re-run the killed job only after its in-progress key expires (the longest job timeout
+ 10 s); the bounds below are far shorter, so the periodic reconcile has to do the healing.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from tests.support.e2e.checks import assert_converged, eventually, holds
from tests.support.e2e.procstack import process_stack

pytestmark = pytest.mark.slow

GRACE_S = 0.3
RECONCILE_S = 1.0
#: Job pickup, requests and a loaded 2-core machine on top of grace + interval.
HEAL_SLACK_S = 4.0
HEAL_S = GRACE_S + RECONCILE_S + HEAL_SLACK_S
#: How long the sandbox holds the answer of the call the worker dies in.
HOLD_MS = 3000
HOST = 51
ENV = {
    "AUTOREC_MAX_RECORDINGS": "1",
    "AUTOREC_EMPTY_GRACE_S": str(GRACE_S),
    "AUTOREC_RECONCILE_INTERVAL_S": str(RECONCILE_S),
}


async def test_a_worker_killed_inside_a_start_that_took_effect_recovers_to_one_recording(
    redis: aioredis.Redis[bytes], redis_url: str, tmp_path: Path
) -> None:
    async with process_stack(redis_url, tmp_path, env=ENV) as s:
        worker = s.worker("e2e-w1")
        await worker.start()
        # The start takes effect at Agora; its answer (with the sid) is held back.
        await s.admin.add_fault(endpoint="start", latency_ms=HOLD_MS, count=1)
        await s.admin.join("crash-start", HOST)

        async def started_at_agora() -> bool:
            return any(t.cname == "crash-start" for t in await s.admin.recordings())

        await eventually(started_at_agora, what="the start to reach the sandbox")
        await worker.kill()
        await worker.start()

        await assert_converged(s.admin, occupied=["crash-start"], timeout_s=HEAL_S)

        async def one_recording() -> bool:
            tasks = await s.admin.recordings()
            return len(tasks) == 1 and tasks[0].running

        await holds(one_recording, for_s=RECONCILE_S * 2, what="the recording that started")
        # autorec owns it: emptying the channel stops it within grace + interval.
        await s.admin.leave("crash-start", HOST)
        await assert_converged(s.admin, occupied=[], empty=["crash-start"], timeout_s=HEAL_S)


async def test_a_worker_killed_before_its_stop_reached_agora_stops_the_recording_after_restart(
    redis: aioredis.Redis[bytes], redis_url: str, tmp_path: Path
) -> None:
    async with process_stack(redis_url, tmp_path, env=ENV) as s:
        worker = s.worker("e2e-w1")
        await worker.start()
        await s.admin.join("crash-stop", HOST)
        await assert_converged(s.admin, occupied=["crash-stop"])
        # The stop is held, then refused (503) without taking effect.
        rule = await s.admin.add_fault(endpoint="stop", status=503, latency_ms=HOLD_MS, count=1)
        await s.admin.leave("crash-stop", HOST)

        await eventually(lambda: s.admin.fault_fired(rule), what="the stop to reach the sandbox")
        await worker.kill()
        assert (await s.admin.running()).get("crash-stop")  # still billing, channel empty
        await worker.start()
        restarted_at = time.monotonic()

        await assert_converged(s.admin, occupied=[], empty=["crash-stop"], timeout_s=HEAL_S)
        assert time.monotonic() - restarted_at <= HEAL_S


async def test_a_worker_killed_after_its_stop_took_effect_frees_the_slot(
    redis: aioredis.Redis[bytes], redis_url: str, tmp_path: Path
) -> None:
    async with process_stack(redis_url, tmp_path, env=ENV) as s:
        worker = s.worker("e2e-w1")
        await worker.start()
        await s.admin.join("crash-a", HOST)
        await assert_converged(s.admin, occupied=["crash-a"])
        # The stop takes effect at Agora; its answer is held back.
        await s.admin.add_fault(endpoint="stop", latency_ms=HOLD_MS, count=1)
        await s.admin.leave("crash-a", HOST)

        async def stopped_at_agora() -> bool:
            return not (await s.admin.running()).get("crash-a")

        await eventually(stopped_at_agora, what="the stop to take effect")
        await worker.kill()
        await worker.start()
        # With a limit of one, the next channel records only if the slot was given back.
        await s.admin.join("crash-b", HOST)

        await assert_converged(
            s.admin, occupied=["crash-b"], empty=["crash-a"], timeout_s=HEAL_S + HOLD_MS / 1000
        )
