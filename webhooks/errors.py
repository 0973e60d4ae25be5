"""Errors of the webhook edge, with the HTTP status and metric outcome each one maps to.

    WebhookError                    status, outcome, message (the JSON `error` text)
    ├── BodyTooLarge                413 too_large
    ├── BadSignature                401 bad_signature
    ├── MalformedBody               400 malformed
    └── Unavailable                 503 unavailable
        ├── SecretNotConfigured     the source's secret is unset
        └── QueueUnavailable        Redis did not take the event

Messages are safe to return to the sender: they never contain a secret or a body.
"""

from __future__ import annotations

from enum import StrEnum


class Source(StrEnum):
    """Which endpoint a webhook came in on (the stream field `src`, the metric label)."""

    AGORA = "agora"
    EVENTS = "events"


class Outcome(StrEnum):
    """What became of one webhook request (metric label `outcome`).

    `unavailable` counts every 5xx: Redis did not take the event, the secret is unset, or an
    unexpected error; the sender retries all of them.
    """

    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"
    BAD_SIGNATURE = "bad_signature"
    TOO_LARGE = "too_large"
    MALFORMED = "malformed"
    UNAVAILABLE = "unavailable"


class WebhookError(Exception):
    """A webhook request that is answered with an error; `message` is the JSON `error`."""

    status_code: int = 500
    outcome: Outcome = Outcome.UNAVAILABLE

    def __init__(self, message: str, *, source: Source | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.source = source


class BodyTooLarge(WebhookError):
    """The body (declared or streamed) is over the limit."""

    status_code = 413
    outcome = Outcome.TOO_LARGE

    def __init__(self, *, limit_bytes: int, source: Source | None = None) -> None:
        super().__init__(f"request body is larger than {limit_bytes} bytes", source=source)
        self.limit_bytes = limit_bytes


class BadSignature(WebhookError):
    """The signature is missing or does not verify."""

    status_code = 401
    outcome = Outcome.BAD_SIGNATURE


class MalformedBody(WebhookError):
    """A verified body that is not the JSON the endpoint needs."""

    status_code = 400
    outcome = Outcome.MALFORMED


class Unavailable(WebhookError):
    """The event cannot be accepted now; the sender should retry."""

    status_code = 503
    outcome = Outcome.UNAVAILABLE


class SecretNotConfigured(Unavailable):
    """The signing secret of this source is not configured."""

    def __init__(self, *, variable: str, source: Source | None = None) -> None:
        super().__init__(f"{variable} is not configured", source=source)
        self.variable = variable


class QueueUnavailable(Unavailable):
    """Redis did not durably take the event (down, timed out, loading, or refused it)."""

    def __init__(self, *, reason: str, source: Source | None = None) -> None:
        super().__init__("event queue is unavailable", source=source)
        self.reason = reason
