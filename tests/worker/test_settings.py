"""Settings helpers that commands share."""

from __future__ import annotations

from worker.settings import redact_url


def test_redact_url_hides_the_password_of_a_redis_url() -> None:
    assert (
        redact_url("redis://app:hunter2@db.example:6380/1") == "redis://app:***@db.example:6380/1"
    )


def test_redact_url_leaves_a_url_without_password_alone() -> None:
    assert redact_url("redis://localhost:6379/0") == "redis://localhost:6379/0"
