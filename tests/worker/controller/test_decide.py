"""The decision rules, as plain calls and as properties over generated situations."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from worker.controller.decide import RESOURCE_TTL_MS, Do, Facts, decide, proven_gone
from worker.state.sessions import MAY_RUN, Session, SessionState

NOW = 1_700_000_100_000
GRACE = 30_000


def session(state: SessionState = SessionState.RUNNING, **fields: object) -> Session:
    values: dict[str, object] = {
        "channel": "room-1",
        "state": state,
        "uid": 4_200_000_001,
        "uid_index": 0,
        "mode": "mix",
        "policy": "default policy",
        "created_ms": NOW - 60_000,
    }
    if state in (SessionState.STARTED, SessionState.RUNNING, SessionState.STOPPING):
        values |= {"resource_id": "r1", "resource_ms": NOW - 59_000, "sid": "s1"}
        values |= {"started_ms": NOW - 58_000}
    if state is SessionState.STARTING:
        values |= {"resource_id": "r1", "resource_ms": NOW - 1_000}
    values.update(fields)
    return Session(**values)  # type: ignore[arg-type]


def facts(
    current: Session | None = None,
    *,
    desired: bool = True,
    empty_since_ms: int | None = None,
    now_ms: int = NOW,
    backoff_until_ms: int | None = None,
    max_idle_ms: int | None = 300_000,
) -> Facts:
    return Facts(
        now_ms=now_ms,
        desired=desired,
        empty_since_ms=empty_since_ms,
        session=current,
        grace_ms=GRACE,
        max_duration_ms=86_400_000,
        max_idle_ms=max_idle_ms,
        backoff_until_ms=backoff_until_ms,
    )


def test_a_wanted_channel_without_a_session_takes_a_slot() -> None:
    assert decide(facts()).do is Do.TAKE_SLOT


def test_an_unwanted_channel_without_a_session_is_idle() -> None:
    assert decide(facts(desired=False)).do is Do.IDLE


def test_a_recent_hard_failure_delays_the_next_start() -> None:
    action = decide(facts(backoff_until_ms=NOW + 5_000))
    assert (action.do, action.due_ms) == (Do.WAIT, NOW + 5_000)


def test_an_opened_session_acquires() -> None:
    assert decide(facts(session(SessionState.ACQUIRING))).do is Do.ACQUIRE


def test_a_first_start_is_not_a_retry_on_the_resource() -> None:
    action = decide(facts(session(SessionState.STARTING)))
    assert (action.do, action.retry_same_resource) == (Do.START, False)


def test_a_start_after_an_attempt_is_a_retry_on_the_same_resource() -> None:
    action = decide(facts(session(SessionState.STARTING, start_attempts=1)))
    assert (action.do, action.retry_same_resource) == (Do.START, True)


def test_an_expired_resource_never_started_is_replaced() -> None:
    stale = session(SessionState.STARTING, resource_ms=NOW - RESOURCE_TTL_MS)
    assert decide(facts(stale)).do is Do.RENEW_RESOURCE


def test_an_expired_resource_with_an_uncertain_start_waits_for_its_sid() -> None:
    stale = session(SessionState.STARTING, resource_ms=NOW - RESOURCE_TTL_MS, start_attempts=2)
    assert decide(facts(stale)).do is Do.SID_UNKNOWN


def test_a_session_not_yet_started_is_dropped_when_no_longer_wanted() -> None:
    action = decide(facts(session(SessionState.ACQUIRING), desired=False))
    assert (action.do, action.outcome) == (Do.FINISH, "cancelled")


def test_a_fresh_start_is_confirmed_by_a_query_when_due() -> None:
    started = session(SessionState.STARTED, check_due_ms=NOW - 1)
    assert decide(facts(started)).do is Do.QUERY


def test_a_fresh_start_waits_for_its_confirmation_time() -> None:
    started = session(SessionState.STARTED, check_due_ms=NOW + 4_000)
    action = decide(facts(started))
    assert (action.do, action.due_ms) == (Do.WAIT, NOW + 4_000)


def test_a_confirmed_recording_of_a_wanted_channel_needs_nothing() -> None:
    action = decide(facts(session()))
    assert (action.do, action.due_ms) == (Do.WAIT, None)


def test_an_emptied_channel_waits_for_the_grace_period() -> None:
    action = decide(facts(session(), desired=False, empty_since_ms=NOW - 10_000))
    assert (action.do, action.due_ms) == (Do.WAIT, NOW - 10_000 + GRACE)


def test_an_emptied_channel_is_stopped_once_the_grace_period_has_passed() -> None:
    action = decide(facts(session(), desired=False, empty_since_ms=NOW - GRACE))
    assert (action.do, action.reason) == (Do.STOP, "empty")


def test_an_unwanted_channel_without_an_empty_time_starts_its_own_grace_clock() -> None:
    assert decide(facts(session(), desired=False)).do is Do.MARK_UNDESIRED


def test_a_wanted_channel_clears_its_grace_clock() -> None:
    marked = session(undesired_since_ms=NOW - 1_000)
    assert decide(facts(marked)).do is Do.CLEAR_UNDESIRED


def test_a_recording_at_its_maximum_duration_is_stopped() -> None:
    old = session(started_ms=NOW - 86_400_000)
    assert decide(facts(old)).reason == "max_duration"


def test_a_stop_in_progress_is_finished_even_if_the_channel_is_wanted_again() -> None:
    assert decide(facts(session(SessionState.STOPPING))).do is Do.STOP


def test_an_exit_event_of_the_session_finishes_it() -> None:
    action = decide(facts(session(exit_status=1)))
    assert (action.do, action.outcome) == (Do.FINISH, "exited")


def test_a_leave_event_of_the_session_finishes_it() -> None:
    action = decide(facts(session(leave_code=4)))
    assert (action.do, action.outcome) == (Do.FINISH, "exited")


def test_the_leave_code_agora_says_to_ignore_proves_nothing() -> None:
    assert decide(facts(session(leave_code=8, check_due_ms=NOW))).do is Do.QUERY


def test_a_stop_waiting_out_a_failover_window_goes_at_once_when_event_11_proves_the_task_gone() -> (
    None
):
    waiting = session(SessionState.STOPPING, retry_due_ms=NOW + 10_000, not_found=2)
    assert decide(facts(waiting)).do is Do.WAIT
    proven = session(SessionState.STOPPING, retry_due_ms=NOW + 10_000, exit_status=0)
    assert decide(facts(proven)).do is Do.STOP


def test_a_query_after_a_transient_failure_waits_for_its_retry_time() -> None:
    failed = session(check_due_ms=NOW - 1_000, retry_due_ms=NOW + 2_000)
    action = decide(facts(failed))
    assert (action.do, action.due_ms) == (Do.WAIT, NOW + 2_000)


def test_a_session_without_its_tasks_resource_never_adopts_a_sid() -> None:
    conflicted = session(SessionState.SID_UNKNOWN, resource_id=None, event_sid="s9")
    assert decide(facts(conflicted)).do is not Do.ADOPT


def test_a_sid_announced_by_event_40_is_adopted() -> None:
    waiting = session(SessionState.SID_UNKNOWN, resource_id="r1", event_sid="s9")
    assert decide(facts(waiting)).do is Do.ADOPT


def test_a_wanted_session_of_unknown_sid_waits_for_event_40_then_probes() -> None:
    waiting = session(SessionState.SID_UNKNOWN, resource_id="r1", started_ms=NOW - 1_000)
    action = decide(facts(waiting))
    assert (action.do, action.due_ms) == (Do.WAIT, NOW - 1_000 + 120_000)
    assert decide(facts(waiting, now_ms=NOW + 119_000)).do is Do.PROBE


def test_a_probe_no_longer_wanted_returns_to_waiting_for_the_probed_task() -> None:
    probing = session(SessionState.ACQUIRING, probe_of="r1")
    assert decide(facts(probing, desired=False)).do is Do.SID_UNKNOWN


def test_a_session_of_unknown_sid_is_given_up_after_agoras_idle_exit() -> None:
    waiting = session(SessionState.SID_UNKNOWN, resource_id="r1")
    since = NOW - 300_000 - 60_000
    action = decide(facts(waiting, desired=False, empty_since_ms=since))
    assert (action.do, action.outcome) == (Do.FINISH, "sid_unknown")


def test_a_session_of_unknown_sid_waits_for_the_idle_exit_backstop() -> None:
    waiting = session(SessionState.SID_UNKNOWN, resource_id="r1")
    action = decide(facts(waiting, desired=False, empty_since_ms=NOW))
    assert (action.do, action.due_ms) == (Do.WAIT, NOW + 300_000 + 60_000)


_states = st.sampled_from(list(SessionState))
_maybe_time = st.one_of(st.none(), st.integers(NOW - 400_000, NOW + 400_000))


@st.composite
def _facts(draw: st.DrawFn) -> Facts:
    current = None
    if draw(st.booleans()):
        state = draw(_states)
        current = session(
            state,
            check_due_ms=draw(_maybe_time),
            retry_due_ms=draw(_maybe_time),
            undesired_since_ms=draw(_maybe_time),
            start_attempts=draw(st.integers(0, 3)),
            exit_status=draw(st.sampled_from([None, 0, 1])),
            leave_code=draw(st.sampled_from([None, 0, 4, 8])),
            event_sid=draw(st.sampled_from([None, "s9"])),
        )
    return facts(
        current,
        desired=draw(st.booleans()),
        empty_since_ms=draw(_maybe_time),
        backoff_until_ms=draw(_maybe_time),
        max_idle_ms=draw(st.sampled_from([None, 300_000])),
    )


@given(_facts())
def test_a_wait_is_never_due_in_the_past(situation: Facts) -> None:
    action = decide(situation)
    if action.do is Do.WAIT and action.due_ms is not None:
        assert action.due_ms > situation.now_ms


@given(_facts())
def test_a_wanted_channel_is_never_stopped_before_its_maximum_duration(situation: Facts) -> None:
    action = decide(situation)
    current = situation.session
    if action.do is Do.STOP and situation.desired and current is not None:
        assert current.state is SessionState.STOPPING or action.reason == "max_duration"


@given(_facts())
def test_a_recording_is_never_stopped_inside_the_grace_period(situation: Facts) -> None:
    action = decide(situation)
    current = situation.session
    if action.do is Do.STOP and action.reason == "empty":
        assert current is not None
        since = situation.empty_since_ms or current.undesired_since_ms
        assert since is not None
        assert situation.now_ms >= since + GRACE


@given(_facts())
def test_a_slot_is_taken_only_for_a_wanted_channel_without_a_session(situation: Facts) -> None:
    if decide(situation).do is Do.TAKE_SLOT:
        assert situation.desired
        assert situation.session is None


@given(_facts())
def test_a_session_whose_task_may_run_ends_only_when_proven_gone(situation: Facts) -> None:
    current = situation.session
    if decide(situation).do is Do.FINISH and current is not None and current.sid is not None:
        assert current.state not in MAY_RUN or proven_gone(current)
