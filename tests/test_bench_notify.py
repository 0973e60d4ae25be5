"""The notifications bench judges its figures by the goals its docstring states."""

from __future__ import annotations

from bench.notify import Run, table

BASE = Run(latencies_ms=[10.0] * 99 + [20.0], delays_s=[], dead_attempts=0)


def test_a_run_whose_starts_and_deliveries_are_within_bounds_meets_the_goals() -> None:
    notifying = Run(latencies_ms=[11.0] * 99 + [22.0], delays_s=[0.01, 0.2], dead_attempts=3)
    text, met = table(BASE, notifying, channels=100, rate=2)
    assert met
    assert text.endswith("goals met")


def test_slower_starts_with_notifications_miss_the_goal() -> None:
    notifying = Run(latencies_ms=[40.0] * 100, delays_s=[0.01], dead_attempts=3)
    assert not table(BASE, notifying, channels=100, rate=2)[1]


def test_a_live_endpoint_hearing_a_change_after_a_second_misses_the_goal() -> None:
    notifying = Run(latencies_ms=[11.0] * 100, delays_s=[0.01, 1.2], dead_attempts=3)
    assert not table(BASE, notifying, channels=100, rate=2)[1]


def test_no_delivery_at_all_misses_the_goal() -> None:
    notifying = Run(latencies_ms=[11.0] * 100, delays_s=[], dead_attempts=3)
    assert not table(BASE, notifying, channels=100, rate=2)[1]
