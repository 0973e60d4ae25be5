"""Redis failover under Sentinel: the primary is killed mid-run and the service carries on.

Real processes: a primary `redis-server`, its replica and three Sentinels (quorum 2), all on
loopback. The webhook service and a worker are configured with the `redis+sentinel://` URL
alone. The primary is SIGKILLed while channels change; the sandbox keeps resending every
notification not answered 200 (as NCS does), so events sent while no primary is known are
answered 503 and taken later. Afterwards every event the service answered 200 is in the new
primary, recordings started and stopped as the channels say, the worker never restarted, and
the sandbox saw no start beyond the limit and no 429.
"""

from __future__ import annotations

import time

import redis.asyncio as aioredis

from tests.support.e2e.checks import assert_converged
from tests.support.e2e.inprocess import in_process_stack
from tests.support.sentinel import sentinel_set
from worker import keys

LIMIT = 3
QPS = 10
GRACE_S = 0.3
#: Failover (1 s to call the primary down, then the election) plus resends and restarts.
FAILOVER_CONVERGE_S = 30.0
CONVERGE_S = 15.0
#: NCS-like resends, long enough to outlast a failover (about 22 s in all).
NCS_RETRY_DELAYS_S = (0.0, 0.5, 1.0, 1.0, 2.0, 2.0, 3.0, 3.0, 4.0, 5.0)
ENV = {
    "AUTOREC_MAX_RECORDINGS": str(LIMIT),
    "AUTOREC_MAX_API_QPS": str(QPS),
    "AUTOREC_EMPTY_GRACE_S": str(GRACE_S),
    "AUTOREC_RECONCILE_INTERVAL_S": "1",
}
SANDBOX = {"max_concurrent": LIMIT, "qps_limit": QPS, "ncs_retry_delays_s": NCS_RETRY_DELAYS_S}


async def test_killing_the_primary_loses_no_accepted_event_and_recording_goes_on() -> None:
    async with (
        sentinel_set() as cluster,
        in_process_stack(cluster.url, env=ENV, sandbox=SANDBOX) as s,
    ):
        (worker,) = s.workers
        await s.admin.join("fo-a", 1)
        await s.admin.join("fo-b", 2)
        await assert_converged(s.admin, occupied=["fo-a", "fo-b"])

        cluster.primary.kill()
        killed_at_s = time.monotonic()
        await s.admin.leave("fo-a", 1)
        await s.admin.join("fo-c", 3)
        await s.admin.join("fo-d", 4)
        await cluster.wait_failover()
        try:
            await assert_converged(
                s.admin,
                occupied=["fo-b", "fo-c", "fo-d"],
                empty=["fo-a"],
                timeout_s=FAILOVER_CONVERGE_S,
            )
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{cluster.logs()}") from None

        # After the failover: a fourth channel waits for a slot and gets the one freed.
        await s.admin.join("fo-e", 5)
        await s.admin.leave("fo-b", 2)
        await assert_converged(
            s.admin,
            occupied=["fo-c", "fo-d", "fo-e"],
            empty=["fo-a", "fo-b"],
            timeout_s=CONVERGE_S,
        )

        assert not worker.died, "the worker rode through the failover without a restart"
        events = await s.admin.ncs()
        during = [e for e in events if any(t >= killed_at_s for t, _ in e["answers"])]
        assert during, "events were sent after the primary was killed"
        accepted = [e["noticeId"] for e in events if e["delivered"] > 0]
        assert len(accepted) == len(events), "every event was accepted in the end"
        new_primary = cluster.replica.client()
        try:
            missing = [
                notice
                for notice in accepted
                if not await new_primary.exists(keys.dedupe("agora", notice))
            ]
            pending = await _pending(new_primary, s.settings.autorec_events_stream)
        finally:
            await new_primary.aclose()
        assert missing == [], "every event answered 200 is in the new primary"
        assert pending == 0, "the worker applied every event in the stream"
        stats = await s.admin.stats()
        assert stats["peak_active"] <= LIMIT
        assert stats["limit_violations"] == 0
        assert stats["rejected_429"] == 0


async def _pending(redis: aioredis.Redis[bytes], stream: str) -> int:
    """Entries of the stream not yet acknowledged by the workers' consumer group."""
    summary = await redis.xpending(stream, keys.CONSUMER_GROUP)
    return int(summary["pending"])
