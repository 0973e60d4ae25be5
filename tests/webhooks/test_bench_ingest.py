"""The ingest bench still runs end to end (a tiny run; the figures are not checked)."""

from __future__ import annotations

import pytest

from bench.common import wrk_available
from bench.ingest import measure


@pytest.mark.parametrize(
    "generator",
    [
        "python",
        pytest.param(
            "wrk", marks=pytest.mark.skipif(not wrk_available(), reason="wrk is not installed")
        ),
    ],
)
def test_a_tiny_ingest_bench_measures_both_endpoints(generator: str) -> None:
    report = measure(
        duration_s=1, rounds=1, connections=4, generator=generator, pin=False, consumer_events=200
    )
    assert report.app.requests > 0
    assert report.bare.requests > 0
    assert (report.app.non_2xx, report.bare.non_2xx) == (0, 0)
    # Requests still in flight when the clock stops are applied but not counted.
    assert 0 < report.stream_entries <= report.app.requests + report.connections
    assert "ratio app / bare" in report.table()
