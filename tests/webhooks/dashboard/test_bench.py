"""The dashboard bench's measure function runs, small, and its table judges the goal."""

from __future__ import annotations

from bench.dashboard import Figures, measure, table


async def test_the_bench_measures_the_overview_with_its_seeded_state(
    redis_url: str, redis: object
) -> None:
    figures = await measure(redis_url, channels=20, recordings=5, renders=2, warmup=1)

    assert len(figures.page_ms) == len(figures.fragment_ms) == 2
    assert figures.page_bytes > 10_000, "the seeded recordings, queue and failures are shown"
    text, _ = table(figures, channels=20, recordings=5)
    assert "GET /dashboard " in text


def test_a_p95_over_the_goal_misses_it() -> None:
    slow = Figures(page_ms=[50.0] * 18 + [250.0] * 2, fragment_ms=[1.0] * 20, page_bytes=1)

    text, met = table(slow, channels=1, recordings=1)

    assert not met
    assert text.endswith("goal MISSED")
