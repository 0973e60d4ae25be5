"""The scale bench still runs end to end (a tiny run; the figures are not judged)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.scale import measure, table


@pytest.mark.slow
async def test_a_tiny_scale_bench_measures_every_phase_with_two_workers(tmp_path: Path) -> None:
    run = await measure(
        workers=2, channels=20, churn_rate=20, churn_s=3, burst=10, qps=10, idle_s=1,
        steady_s=2, settle_s=0, log_path=tmp_path / "stack.log",
    )  # fmt: skip

    assert len(run.idle_cpu_pct) == 2
    assert run.bytes_per_channel > 0
    assert run.bytes_per_recording > 0
    assert len(run.latency_ms) == 6
    assert run.churn_events > 0
    assert run.cpu_s["workers"] > 0
    assert run.burst_s > 0
    assert run.recordings == 10
    assert run.limit_violations == 0
    assert "burst / bound" in table([run])
