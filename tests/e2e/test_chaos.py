"""The chaos bench, short: 60 s of compound faults (worker and Redis kills, Agora 5xx, slow
answers, HA failovers, killed tasks, dropped, duplicated and reordered notifications, fuzzed
bodies) against real processes, then the invariant figures (design §8).

One run serves every assertion on it (it takes about 90 s), so the module shares it; the
figures' arithmetic is checked first on small made-up time lines.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from bench.chaos import fuzz
from bench.chaos.actors import ChaosOptions
from bench.chaos.audit import StreamAudit
from bench.chaos.figures import (
    Bounds,
    Move,
    Task,
    Timeline,
    grid_figures,
    limit_figures,
    occupied_intervals,
    recording_intervals,
    table,
)
from bench.chaos.run import Report
from tests.support.chaos import run_once

OPTIONS = ChaosOptions(duration_s=60, seed=7)
#: Now and then a stop comes a fraction of a second past grace + interval + 5 s (after a
#: Redis kill, or a lost leave healed from the user list a pass late). Not strict: whether a
#: run hits it depends on timing. Remove once the bound holds in every run.
LEAKS_NOT_MET_YET = pytest.mark.xfail(
    strict=False,
    reason="a stop now and then lands a fraction of a second past the leak bound",
)


BOUNDS = Bounds(limit=1, grace_s=2, interval_s=4)  # leak after 11 s, lost leave 15 s, start 9 s


def _timeline(moves: list[Move], tasks: list[Task], end_ms: int) -> Timeline:
    return Timeline(
        begin_ms=0,
        end_ms=end_ms,
        occupied=occupied_intervals(moves, end_ms),
        recording=recording_intervals(tasks, end_ms),
    )


def test_a_start_while_the_limit_is_reached_counts_as_beyond_the_limit() -> None:
    tasks = [Task("a", "1", 0, 5000), Task("b", "2", 5000, None), Task("c", "3", 6000, 7000)]
    assert limit_figures(tasks, limit=1, end_ms=10_000) == (2, 1)


def test_a_recording_on_an_empty_channel_leaks_once_the_budget_has_passed() -> None:
    moves = [Move(0, "a", 1, joined=True), Move(1000, "a", 1, joined=False)]
    timeline = _timeline(moves, [Task("a", "1", 0, 20_000)], 30_000)
    assert grid_figures(timeline, BOUNDS, {}).leak_s == pytest.approx({"a": 8.0})


def test_a_lost_leave_gets_another_interval_before_it_counts_as_a_leak() -> None:
    moves = [Move(0, "a", 1, joined=True), Move(1000, "a", 1, joined=False)]
    timeline = _timeline(moves, [Task("a", "1", 0, 20_000)], 30_000)
    assert grid_figures(timeline, BOUNDS, {"a": [1000]}).leak_s == pytest.approx({"a": 4.0})


def test_a_failover_window_excuses_a_stop_agora_refused() -> None:
    moves = [Move(0, "a", 1, joined=True), Move(1000, "a", 1, joined=False)]
    timeline = _timeline(moves, [Task("a", "1", 0, 25_000)], 30_000)
    grid = grid_figures(timeline, BOUNDS, {}, {"a": [(5000, 14_000)]})
    assert grid.leak_s == pytest.approx({"a": 2.0})  # 23 s (14 + 9) to 25 s


def test_two_tasks_in_one_channel_count_as_a_double_recording() -> None:
    moves = [Move(0, "a", 1, joined=True)]
    tasks = [Task("a", "1", 0, None), Task("a", "2", 2000, 5000)]
    assert grid_figures(_timeline(moves, tasks, 10_000), BOUNDS, {}).double_s == pytest.approx(
        {"a": 3.0}
    )


def test_an_occupied_channel_beside_a_free_slot_misses_recording_after_the_budget() -> None:
    moves = [Move(0, "a", 1, joined=True)]
    grid = grid_figures(_timeline(moves, [], 30_000), BOUNDS, {})
    assert grid.missed_s == pytest.approx(21.0)  # from 9 s to 30 s


def test_an_accepted_event_is_lost_unless_its_entry_was_acknowledged() -> None:
    stream = StreamAudit(
        notice_entries={"applied": ["1-0"], "pending": ["2-0"], "unread": ["9-0"], "dead": ["3-0"]},
        pending=frozenset({"2-0"}),
        last_delivered="5-0",
        dead_letters=frozenset({"dead"}),
    )
    lost = stream.lost(["applied", "pending", "unread", "dead", "missing"])
    assert lost == ["pending", "unread", "dead", "missing"]


def test_fuzzed_bodies_vary_and_never_announce_a_join() -> None:
    rng = random.Random(3)
    bodies = [fuzz.ncs_body(rng, n) for n in range(300)]
    bodies += [fuzz.app_event_body(rng, n) for n in range(300)]
    assert len(set(bodies)) > 0.9 * len(bodies)  # a few are the same non-object value
    for body in bodies:
        try:
            parsed = json.loads(body)
        except (ValueError, RecursionError):
            continue
        if isinstance(parsed, dict):
            assert str(parsed.get("eventType")) not in {str(t) for t in fuzz.JOIN_TYPES}
            assert parsed.get("type") != "user.joined"


def _where(report: Report) -> str:
    return "\n".join([table(report.figures, report.bounds), *report.details])


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Report:
    """One short chaos run for the whole module; its table is printed on failure."""
    log_dir: Path = tmp_path_factory.mktemp("chaos")
    result = run_once(OPTIONS, log_dir)
    print(table(result.figures, result.bounds), *result.details, sep="\n")
    return result


@pytest.mark.slow
def test_the_run_disturbed_everything_it_claims_to(report: Report) -> None:
    kills = report.disturbances
    assert kills["worker kills"] >= 2
    assert kills["Redis kills"] == OPTIONS.redis_kills
    assert kills["HA failovers (404 windows)"] >= 1
    assert kills["tasks killed at Agora"] >= 1
    assert report.figures.fuzzed >= 50


@pytest.mark.slow
def test_no_start_takes_the_recordings_beyond_the_limit(report: Report) -> None:
    assert report.figures.peak <= OPTIONS.limit
    assert report.figures.starts_beyond_limit == 0, _where(report)


@pytest.mark.slow
def test_agora_never_answers_429(report: Report) -> None:
    assert report.figures.rejected_429 == 0


@pytest.mark.slow
def test_no_accepted_event_is_lost(report: Report) -> None:
    assert report.figures.accepted_events > 100
    assert report.figures.lost_events == 0


@pytest.mark.slow
def test_the_webhook_service_answers_5xx_only_503_while_redis_is_down(report: Report) -> None:
    assert report.figures.webhook_5xx == 0


@pytest.mark.slow
def test_fuzzed_bodies_are_never_answered_500(report: Report) -> None:
    assert report.figures.fuzzed_500 == 0


@pytest.mark.slow
def test_no_secret_reaches_a_log(report: Report) -> None:
    assert report.figures.secrets_in_logs == 0


@pytest.mark.slow
def test_nothing_records_after_the_quiet_tail(report: Report) -> None:
    assert report.figures.running_after_tail == 0, _where(report)


@pytest.mark.slow
def test_no_channel_ever_has_two_recordings(report: Report) -> None:
    assert (report.figures.double_channels, report.figures.double_s) == (0, 0.0), _where(report)


@pytest.mark.slow
@LEAKS_NOT_MET_YET
def test_no_recording_leaks_beyond_its_bound(report: Report) -> None:
    assert report.figures.leak_s == 0, _where(report)


@pytest.mark.slow
def test_no_occupied_channel_waits_beside_a_free_slot(report: Report) -> None:
    assert report.figures.missed_s == 0
