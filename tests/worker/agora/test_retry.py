"""The retry policy's pauses: exponential, capped, jittered, never zero, honouring Retry-After."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from worker.agora.retry import RetryPolicy, parse_retry_after_s


def policy(seed: int = 1, **kwargs: float) -> RetryPolicy:
    return RetryPolicy(rng=random.Random(seed), **kwargs)  # type: ignore[arg-type]


@given(seed=st.integers(), attempt=st.integers(min_value=1, max_value=40))
def test_each_pause_lies_between_half_and_all_of_its_cap(seed: int, attempt: int) -> None:
    retry = policy(seed, base_delay_s=0.5, max_delay_s=6.0)
    cap = min(6.0, 0.5 * 2 ** (attempt - 1))
    assert cap / 2 <= retry.delay_s(attempt) <= cap


@given(seed=st.integers())
def test_pauses_grow_with_each_failed_attempt_until_the_cap(seed: int) -> None:
    retry = policy(seed, base_delay_s=1.0, max_delay_s=1000.0)
    delays = [retry.delay_s(n) for n in range(1, 9)]
    assert delays == sorted(delays)
    assert delays[-1] >= 64.0


def test_pauses_never_exceed_max_delay() -> None:
    retry = policy(base_delay_s=1.0, max_delay_s=3.0)
    assert max(retry.delay_s(n) for n in range(1, 30)) <= 3.0


def test_seeded_jitter_repeats_exactly() -> None:
    assert [policy(7).delay_s(n) for n in (1, 2, 3)] == [policy(7).delay_s(n) for n in (1, 2, 3)]


def test_different_seeds_spread_concurrent_clients_apart() -> None:
    assert len({policy(seed).delay_s(3) for seed in range(20)}) > 10


def test_retry_after_lengthens_a_shorter_pause() -> None:
    assert policy(base_delay_s=0.1, max_delay_s=10.0).delay_s(1, retry_after_s=4.0) == 4.0


def test_retry_after_is_still_bounded_by_max_delay() -> None:
    assert policy(base_delay_s=0.1, max_delay_s=2.0).delay_s(1, retry_after_s=60.0) == 2.0


def test_attempt_numbers_are_one_based() -> None:
    with pytest.raises(ValueError, match="1-based"):
        policy().delay_s(0)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"max_attempts": 0}, "max_attempts"),
        ({"base_delay_s": -1.0}, "negative"),
        ({"base_delay_s": 5.0, "max_delay_s": 1.0}, "max_delay_s"),
        ({"total_timeout_s": 0.0}, "total_timeout_s"),
    ],
)
def test_nonsense_policies_are_refused(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        RetryPolicy(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("3", 3.0),
        (" 1.5 ", 1.5),
        (None, None),
        ("Wed, 21 Oct 2015 07:28:00 GMT", None),
        ("-2", None),
    ],
)
def test_retry_after_header_is_read_in_seconds_only(
    header: str | None, seconds: float | None
) -> None:
    assert parse_retry_after_s(header) == seconds
