"""Global limits under a flood: 60 channels fill at once with a limit of 50 (I1, I2).

Exactly 50 record and 10 wait; as recording channels empty one by one, the waiters start in
the order they started waiting. The sandbox enforces Agora's side: `max_concurrent=50` turns
any excess start into a counted limit violation, `qps_limit=10` answers 429 beyond 10
requests in a sliding second; its call log lets the test recount every window itself.
"""

from __future__ import annotations

import pytest

from tests.support.e2e.checks import busiest_window, eventually, overlapping_recordings
from tests.support.e2e.inprocess import StackFactory
from worker.state.slots import Slots

LIMIT = 50
QPS = 10
CHANNELS = [f"flood-{n:02d}" for n in range(60)]
HOST = 7


@pytest.mark.slow
async def test_sixty_channels_filling_at_once_record_fifty_and_admit_the_rest_in_fifo_order(
    stack: StackFactory,
) -> None:
    env = {
        "AUTOREC_MAX_RECORDINGS": str(LIMIT),
        "AUTOREC_MAX_API_QPS": str(QPS),
        # A pass every second: its queries and user lists share the saturated request rate.
        "AUTOREC_RECONCILE_INTERVAL_S": "1",
        "AUTOREC_EMPTY_GRACE_S": "0.3",
        # Here the sandbox, playing Agora, shares the workers' event loop: at 60 channels it
        # stamps a request's arrival up to tens of ms late, which a real Agora (its own
        # machine) never does. The margin covers that jitter too.
        "AUTOREC_API_QPS_MARGIN_MS": "200",
    }
    sandbox = {"max_concurrent": LIMIT, "qps_limit": QPS}
    async with stack(env=env, sandbox=sandbox) as s:
        slots = Slots(s.redis, limit=LIMIT)
        for channel in CHANNELS:
            await s.admin.join(channel, HOST)

        async def full() -> bool:
            running = await s.admin.running()
            return len(running) == LIMIT and len(await slots.waiting()) == len(CHANNELS) - LIMIT

        # 50 (acquire + start) pairs = 100 requests at 10/s take about 10 s.
        await eventually(full, what="50 recording and 10 waiting", timeout_s=30)
        waiting = await slots.waiting()
        assert set(waiting) == set(CHANNELS) - set(await s.admin.running())

        started_waiters: list[str] = []
        for expected in waiting:
            running = await s.admin.running()
            victim = min(
                (c for c in running if c not in waiting), key=lambda c: running[c][0].started_at_ms
            )
            await s.admin.leave(victim, HOST)

            async def next_one_started(victim: str = victim, expected: str = expected) -> bool:
                now_running = await s.admin.running()
                return victim not in now_running and expected in now_running

            await eventually(next_one_started, what=f"{expected} starting after {victim}")
            now_running = await s.admin.running()
            started_waiters = [c for c in waiting if c in now_running]
            assert started_waiters == waiting[: len(started_waiters)]
            assert len(now_running) == LIMIT
        assert started_waiters == waiting

        stats = await s.admin.stats()
        assert stats["limit_violations"] == 0
        assert stats["peak_active"] <= LIMIT
        assert stats["rejected_429"] == 0
        assert busiest_window(await s.admin.calls()) <= QPS
        assert overlapping_recordings(await s.admin.recordings()) == []
