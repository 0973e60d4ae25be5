"""Process logging never prints a configured secret."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest

from worker.logsetup import REDACTED, RedactSecrets, uvicorn_log_config

SECRET = "s3cr3t-customer-key"


@pytest.fixture
def captured() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    """A private logger writing through a redacting handler into a StringIO."""
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.addFilter(RedactSecrets([SECRET, "abc"]))
    logger = logging.getLogger("tests.logsetup")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    try:
        yield logger, out
    finally:
        logger.removeHandler(handler)


def test_a_secret_in_a_message_argument_is_redacted(
    captured: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, out = captured
    logger.info("calling with key=%s", SECRET)
    assert out.getvalue() == f"calling with key={REDACTED}\n"


def test_a_secret_in_a_traceback_is_redacted(
    captured: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, out = captured
    try:
        raise ValueError(f"bad credentials {SECRET}")
    except ValueError:
        logger.exception("request failed")
    assert SECRET not in out.getvalue()
    assert f"ValueError: bad credentials {REDACTED}" in out.getvalue()


def test_values_too_short_to_be_secrets_are_left_alone(
    captured: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, out = captured
    logger.info("abc is not redacted")
    assert out.getvalue() == "abc is not redacted\n"


def test_the_uvicorn_config_redacts_in_every_handler_and_logs_the_app() -> None:
    config = uvicorn_log_config("info", [SECRET])
    assert all(handler["filters"] == ["redact"] for handler in config["handlers"].values())
    assert config["root"] == {"handlers": ["app"], "level": "INFO"}
