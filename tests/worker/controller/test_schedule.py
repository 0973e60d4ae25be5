"""The periodic pass's schedule and its round robin over channels."""

from __future__ import annotations

from worker.controller.user_list_round import round_robin
from worker.main import reconcile_schedule


def test_a_sub_minute_interval_runs_at_those_seconds_of_each_minute() -> None:
    assert reconcile_schedule(30) == {"second": {0, 30}}
    assert reconcile_schedule(1) == {"second": set(range(60))}


def test_an_interval_of_minutes_runs_at_those_minutes() -> None:
    assert reconcile_schedule(120) == {"minute": set(range(0, 60, 2)), "second": {0}}


def test_the_user_list_round_continues_after_the_last_channel_checked() -> None:
    channels = ["a", "b", "c", "d"]
    assert round_robin(channels, None, 2) == ["a", "b"]
    assert round_robin(channels, "b", 2) == ["c", "d"]
    assert round_robin(channels, "d", 3) == ["a", "b", "c"]


def test_no_budget_checks_nothing() -> None:
    assert round_robin(["a"], None, 0) == []
