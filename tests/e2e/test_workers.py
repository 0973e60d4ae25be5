"""Several workers share one limit, one request rate and one recording per channel (I1, I5).

Two workers consume the same stream and run the same jobs; every notification is delivered
twice, so both may pick up work for one channel at the same moment.
"""

from __future__ import annotations

from collections import Counter

from tests.support.e2e.checks import assert_converged, busiest_window, eventually
from tests.support.e2e.inprocess import StackFactory

QPS = 10
LIMIT = 8
CHANNELS = [f"pair-{n:02d}" for n in range(12)]
HOST = 81


async def test_two_workers_keep_the_shared_limits_and_start_each_channel_once(
    stack: StackFactory,
) -> None:
    env = {"AUTOREC_MAX_RECORDINGS": str(LIMIT), "AUTOREC_MAX_API_QPS": str(QPS)}
    sandbox = {"max_concurrent": LIMIT, "qps_limit": QPS}
    async with stack(env=env, sandbox=sandbox, workers=2) as s:
        await s.admin.add_fault(ncs_duplicate_rate=1.0)
        for channel in CHANNELS:
            await s.admin.join(channel, HOST)

        async def full() -> bool:
            return len(await s.admin.running()) == LIMIT

        await eventually(full, what=f"{LIMIT} recordings", timeout_s=15)
        running = await s.admin.running()
        emptied = sorted(running, key=lambda c: running[c][0].started_at_ms)[
            : len(CHANNELS) - LIMIT
        ]
        for channel in emptied:
            await s.admin.leave(channel, HOST)

        occupied = [c for c in CHANNELS if c not in emptied]
        await assert_converged(s.admin, occupied=occupied, empty=emptied, timeout_s=15)
        assert Counter(t.cname for t in await s.admin.recordings()) == dict.fromkeys(CHANNELS, 1)
        stats = await s.admin.stats()
        assert stats["peak_active"] <= LIMIT
        assert stats["rejected_429"] == 0
        assert busiest_window(await s.admin.calls()) <= QPS
