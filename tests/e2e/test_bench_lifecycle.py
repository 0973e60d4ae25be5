"""The lifecycle bench still runs end to end (a tiny run; the figures are not judged)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.lifecycle import measure


@pytest.mark.slow
async def test_a_tiny_lifecycle_bench_measures_latency_and_a_burst(tmp_path: Path) -> None:
    report = await measure(channels=4, rate=8, burst=4, qps=10, log_path=tmp_path / "stack.log")

    assert report.latency_samples == 4
    assert 0 < report.p50_ms <= report.p99_ms <= report.max_ms
    assert report.burst_s > 0
    assert report.limit_violations == 0
    assert "burst / bound" in report.table()
