"""How a failed acquire or start is read: one pure classification per call (plain calls)."""

from __future__ import annotations

import pytest

from worker.agora import (
    AgoraAuthError,
    AgoraConflict,
    AgoraHTTPError,
    AgoraInvalidRequest,
    AgoraNoCapacity,
    AgoraRateLimited,
    AgoraRetryableError,
    AgoraStartUncertain,
    AgoraTransportError,
    AgoraValidationError,
    Endpoint,
    ErrorClass,
)
from worker.controller.failures import (
    ACQUIRE_ERRORS,
    START_ERRORS,
    Reaction,
    acquire_reaction,
    error_text,
    start_reaction,
)
from worker.controller.start_reactions import REACTIONS
from worker.state.ratelimit import RateLimitTimeout


def http_error(
    kind: type[AgoraHTTPError],
    *,
    endpoint: Endpoint = Endpoint.START,
    status: int = 400,
    code: int | None = None,
) -> AgoraHTTPError:
    return kind(
        f"{endpoint} answered {status}",
        endpoint=endpoint,
        request_id="req-1",
        status=status,
        code=code,
        reason=None,
        error_class=ErrorClass.INVALID,
        base_url="https://api.sd-rtn.com",
        attempts=1,
    )


def uncertain() -> AgoraStartUncertain:
    return AgoraStartUncertain(
        "start timed out",
        resource_id="r" * 20,
        request_id=None,
        status=None,
        code=None,
        reason=None,
        sid=None,
    )


def transport(endpoint: Endpoint = Endpoint.START) -> AgoraTransportError:
    return AgoraTransportError(
        "connect failed",
        endpoint=endpoint,
        base_url="https://api.sd-rtn.com",
        attempts=3,
        delivered=False,
    )


def rate_limit_timeout() -> RateLimitTimeout:
    return RateLimitTimeout(wait_ms=1500, timeout_s=1.0, qps=10)


def start(exc: Exception, *, retry: bool = False, probing: bool = False) -> Reaction:
    assert isinstance(exc, START_ERRORS)
    return start_reaction(exc, retry_same_resource=retry, probing=probing)


def acquire(exc: Exception, *, probing: bool = False) -> Reaction:
    assert isinstance(exc, ACQUIRE_ERRORS)
    return acquire_reaction(exc, probing=probing)


# --- start ----------------------------------------------------------------------------------


def test_an_uncertain_first_start_decides_again_at_once() -> None:
    assert start(uncertain()) is Reaction.START_UNCERTAIN


def test_an_uncertain_retry_on_the_same_resource_waits_before_trying_again() -> None:
    assert start(uncertain(), retry=True) is Reaction.START_UNCERTAIN_AGAIN


def test_an_uncertain_start_is_retried_even_while_probing() -> None:
    assert start(uncertain(), probing=True) is Reaction.START_UNCERTAIN
    assert start(uncertain(), retry=True, probing=True) is Reaction.START_UNCERTAIN_AGAIN


def test_a_start_conflict_adopts_or_switches_the_recorder_uid() -> None:
    assert start(http_error(AgoraConflict, code=53)) is Reaction.CONFLICT


def test_a_start_conflict_on_a_probe_means_the_earlier_task_runs() -> None:
    assert start(http_error(AgoraConflict, code=53), probing=True) is Reaction.PROBE_CONFLICT


@pytest.mark.parametrize("probing", [False, True])
def test_a_start_without_capacity_acquires_again_later_probing_or_not(probing: bool) -> None:
    no_capacity = http_error(AgoraNoCapacity, status=502)
    assert start(no_capacity, probing=probing) is Reaction.REACQUIRE_LATER


@pytest.mark.parametrize("code", [432, 433, 1001])
@pytest.mark.parametrize("probing", [False, True])
def test_an_unusable_resource_is_replaced_at_once(code: int, probing: bool) -> None:
    assert start(http_error(AgoraInvalidRequest, code=code), probing=probing) is Reaction.REACQUIRE


def test_any_other_invalid_start_fails_for_good() -> None:
    assert start(http_error(AgoraInvalidRequest, code=2)) is Reaction.FAILED


def test_any_other_invalid_start_on_a_probe_returns_to_waiting_for_the_sid() -> None:
    invalid = http_error(AgoraInvalidRequest, code=2)
    assert start(invalid, probing=True) is Reaction.PROBE_ANSWERED


@pytest.mark.parametrize(
    "exc",
    [
        http_error(AgoraRetryableError, status=503),
        http_error(AgoraRateLimited, status=429),
        transport(),
        rate_limit_timeout(),
    ],
    ids=["5xx", "429", "transport", "rate-limit-timeout"],
)
@pytest.mark.parametrize("probing", [False, True])
def test_a_transient_start_failure_is_retried_later(exc: Exception, probing: bool) -> None:
    assert start(exc, probing=probing) is Reaction.RETRY_LATER


@pytest.mark.parametrize(
    "exc",
    [
        http_error(AgoraAuthError, status=401),
        AgoraValidationError("uid", "must not be 0", endpoint=Endpoint.START),
        ValueError("a layout Agora would refuse"),
    ],
    ids=["auth", "validation", "bad-request-built"],
)
def test_a_start_that_cannot_succeed_fails_for_good_or_ends_the_probe(exc: Exception) -> None:
    assert start(exc) is Reaction.FAILED
    assert start(exc, probing=True) is Reaction.PROBE_ANSWERED


# --- acquire --------------------------------------------------------------------------------


def test_an_acquire_without_capacity_gives_the_slot_back_and_waits_first_in_line() -> None:
    no_capacity = http_error(AgoraNoCapacity, endpoint=Endpoint.ACQUIRE, status=406)
    assert acquire(no_capacity) is Reaction.WAIT_FOR_CAPACITY


def test_an_acquire_without_capacity_on_a_probe_returns_to_waiting_for_the_sid() -> None:
    no_capacity = http_error(AgoraNoCapacity, endpoint=Endpoint.ACQUIRE, status=406)
    assert acquire(no_capacity, probing=True) is Reaction.PROBE_ANSWERED


@pytest.mark.parametrize(
    "exc",
    [
        http_error(AgoraRetryableError, endpoint=Endpoint.ACQUIRE, status=500),
        transport(Endpoint.ACQUIRE),
        rate_limit_timeout(),
    ],
    ids=["5xx", "transport", "rate-limit-timeout"],
)
@pytest.mark.parametrize("probing", [False, True])
def test_a_transient_acquire_failure_is_retried_later(exc: Exception, probing: bool) -> None:
    assert acquire(exc, probing=probing) is Reaction.RETRY_LATER


def test_a_refused_acquire_fails_for_good_or_ends_the_probe() -> None:
    refused = http_error(AgoraAuthError, endpoint=Endpoint.ACQUIRE, status=401)
    assert acquire(refused) is Reaction.FAILED
    assert acquire(refused, probing=True) is Reaction.PROBE_ANSWERED


# --- the table of reactions -----------------------------------------------------------------


def test_every_reaction_is_carried_out_by_the_start_steps() -> None:
    assert set(REACTIONS) == set(Reaction)


def test_an_error_text_is_one_short_line_naming_the_exception() -> None:
    text = error_text(ValueError("x" * 1000))
    assert text.startswith("ValueError: xxx")
    assert len(text) == 300
