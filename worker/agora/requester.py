"""One Agora call over HTTP: rate-limit hook, auth, base-URL failover, retries, logging."""

from __future__ import annotations

import base64
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any

import httpx
import orjson
from pydantic import SecretStr, ValidationError

from worker.agora.calls import Call
from worker.agora.classify import Endpoint, ErrorClass, classify
from worker.agora.errors import (
    ERROR_FOR_CLASS,
    AgoraHTTPError,
    AgoraRateLimited,
    AgoraTransportError,
)
from worker.agora.models.responses import ErrorBody
from worker.agora.redact import redact
from worker.agora.retry import RetryPolicy, parse_retry_after_s

logger = logging.getLogger("worker.agora")

RateLimiter = Callable[[], Awaitable[None]]
"""Awaited before every HTTP attempt; the controller plugs its shared Redis limiter in here."""

# Failures that happen before a connection exists: the request never left this process.
_NOT_DELIVERED = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


async def no_rate_limit() -> None:
    """The default rate-limit hook: never waits."""


class Delivery(Enum):
    """Which failures a call may repeat."""

    IDEMPOTENT = "idempotent"
    """Any retryable failure: repeating the request cannot do harm."""
    AT_MOST_ONCE = "at_most_once"
    """Only failures Agora cannot have acted on: no connection, or 429 at the gateway."""


@dataclass(frozen=True, slots=True)
class Answer:
    """An HTTP answer the endpoint method interprets (200, or a class it absorbs)."""

    status: int
    payload: Mapping[str, Any]
    error: ErrorBody
    error_class: ErrorClass | None
    request_id: str | None
    base_url: str
    attempts: int


class Requester:
    """Sends one logical Agora call, repeating attempts as its `Delivery` allows."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        base_urls: Sequence[str],
        customer_id: str,
        customer_secret: SecretStr,
        retry: RetryPolicy,
        rate_limiter: RateLimiter,
        timeout_s: float,
    ) -> None:
        if not base_urls:
            raise ValueError("base_urls must hold at least one URL")
        self._http = http
        self._timeout_s = timeout_s
        self._base_urls = [url.rstrip("/") for url in base_urls]
        self._retry = retry
        self._rate_limiter = rate_limiter
        secret = customer_secret.get_secret_value()
        credentials = base64.b64encode(f"{customer_id}:{secret}".encode()).decode("ascii")
        self._authorization = SecretStr(f"Basic {credentials}")
        self._own_secrets = (secret, credentials)
        self._preferred = 0

    @property
    def base_urls(self) -> list[str]:
        """The base URLs, in configured order."""
        return list(self._base_urls)

    @property
    def preferred_base_url(self) -> str:
        """The URL the next call starts with: the last one that answered."""
        return self._base_urls[self._preferred]

    def redact(self, text: str, secrets: Iterable[str] = ()) -> str:
        """`text` without the customer secret, the auth header, or `secrets`."""
        return redact(text, [*self._own_secrets, *secrets])

    def redactor(self, secrets: Sequence[str] = ()) -> Callable[[str], str]:
        """`redact` with `secrets` bound, for code that only sees the text."""
        return lambda text: self.redact(text, secrets)

    async def send(
        self,
        call: Call,
        *,
        delivery: Delivery = Delivery.IDEMPOTENT,
        absorb: frozenset[ErrorClass] = frozenset(),
        timeout_s: float | None = None,
    ) -> Answer:
        """Send until a 200 or an absorbed answer arrives; raise the typed error otherwise.

        Each attempt gets `timeout_s` (default: the requester's), cut to what is left of the
        retry policy's total.
        """
        endpoint, secrets = call.endpoint, call.secrets
        attempt_timeout_s = self._timeout_s if timeout_s is None else timeout_s
        headers = {"Authorization": self._authorization.get_secret_value()}
        if call.body is not None:
            headers["Content-Type"] = "application/json;charset=utf-8"
        policy = self._retry
        started_s = policy.clock()
        url_index = self._preferred
        attempt = 0
        reached = False  # whether any attempt of this call may have reached Agora
        while True:
            attempt += 1
            base_url = self._base_urls[url_index]
            await self._rate_limiter()
            remaining_s = policy.total_timeout_s - (policy.clock() - started_s)
            sent_at = time.perf_counter()
            retry_after_s: float | None = None
            failure: AgoraTransportError | AgoraHTTPError
            try:
                response = await self._http.request(
                    call.method,
                    base_url + call.path,
                    content=call.body,
                    params=call.params,
                    headers=headers,
                    timeout=max(0.001, min(attempt_timeout_s, remaining_s)),
                )
            except httpx.TransportError as exc:
                latency_ms = (time.perf_counter() - sent_at) * 1000
                delivered = not isinstance(exc, _NOT_DELIVERED)
                reached = reached or delivered
                failure = AgoraTransportError(
                    self.redact(
                        f"{endpoint}: no answer from {base_url} "
                        f"({type(exc).__name__}: {exc or 'no detail'})",
                        secrets,
                    ),
                    endpoint=endpoint,
                    base_url=base_url,
                    attempts=attempt,
                    delivered=reached,
                )
                _log_transport(endpoint, base_url, attempt, latency_ms, exc)
                url_index = (url_index + 1) % len(self._base_urls)
                may_retry = delivery is Delivery.IDEMPOTENT or not delivered
            else:
                latency_ms = (time.perf_counter() - sent_at) * 1000
                answer = _read(response, endpoint, base_url, attempt)
                self._preferred = url_index
                _log_answer(endpoint, base_url, attempt, latency_ms, answer)
                if answer.error_class is None or answer.error_class in absorb:
                    return answer
                failure = self._error(endpoint, answer, secrets)
                if isinstance(failure, AgoraRateLimited):
                    retry_after_s = parse_retry_after_s(response.headers.get("retry-after"))
                    failure.retry_after_s = retry_after_s
                may_retry = answer.error_class.is_retryable and (
                    delivery is Delivery.IDEMPOTENT or answer.error_class is ErrorClass.RATE_LIMITED
                )
            if not may_retry or attempt >= policy.max_attempts:
                raise failure
            delay_s = policy.delay_s(attempt, retry_after_s)
            if policy.clock() - started_s + delay_s >= policy.total_timeout_s:
                raise failure
            await policy.sleep(delay_s)

    def _error(self, endpoint: Endpoint, answer: Answer, secrets: Sequence[str]) -> AgoraHTTPError:
        error_class = answer.error_class
        assert error_class is not None
        reason = answer.error.reason or answer.error.message
        safe_reason = self.redact(reason, secrets) if reason is not None else None
        code = f" code {answer.error.code}" if answer.error.code is not None else ""
        text = f": {safe_reason}" if safe_reason else ""
        rid = f" [request id {answer.request_id}]" if answer.request_id else ""
        return ERROR_FOR_CLASS[error_class](
            f"{endpoint}: HTTP {answer.status}{code}{text} ({error_class}){rid}",
            endpoint=endpoint,
            request_id=answer.request_id,
            status=answer.status,
            code=answer.error.code,
            reason=safe_reason,
            error_class=error_class,
            base_url=answer.base_url,
            attempts=answer.attempts,
            resource_id=answer.error.resource_id,
            sid=answer.error.sid or None,
        )


def _read(response: httpx.Response, endpoint: Endpoint, base_url: str, attempt: int) -> Answer:
    """Parse status, JSON object (or nothing) and the error fields Agora may send."""
    payload: dict[str, Any] = {}
    text_message: str | None = None
    if response.content:
        try:
            parsed = orjson.loads(response.content)
        except orjson.JSONDecodeError:
            text_message = response.text.strip()[:200] or None
        else:
            if isinstance(parsed, dict):
                payload = parsed
    try:
        error = ErrorBody.model_validate(payload)
    except ValidationError:
        error = ErrorBody()
    if error.message is None and text_message is not None:
        error = error.model_copy(update={"message": text_message})
    status = response.status_code
    error_class = None
    if status != 200:
        error_class = classify(endpoint, status, error.code, error.reason or error.message)
    return Answer(
        status=status,
        payload=payload,
        error=error,
        error_class=error_class,
        request_id=response.headers.get("x-request-id"),
        base_url=base_url,
        attempts=attempt,
    )


def _log_answer(
    endpoint: Endpoint, base_url: str, attempt: int, latency_ms: float, answer: Answer
) -> None:
    level = logging.INFO if answer.error_class is None else logging.WARNING
    logger.log(
        level,
        "agora %s via %s: HTTP %d code=%s class=%s attempt=%d latency_ms=%.0f request_id=%s",
        endpoint,
        base_url,
        answer.status,
        answer.error.code,
        answer.error_class or "ok",
        attempt,
        latency_ms,
        answer.request_id,
        extra={
            "agora_endpoint": str(endpoint),
            "agora_base_url": base_url,
            "agora_status": answer.status,
            "agora_code": answer.error.code,
            "agora_attempt": attempt,
            "agora_latency_ms": round(latency_ms),
            "agora_request_id": answer.request_id,
        },
    )


def _log_transport(
    endpoint: Endpoint, base_url: str, attempt: int, latency_ms: float, exc: Exception
) -> None:
    logger.warning(
        "agora %s via %s: transport error %s attempt=%d latency_ms=%.0f",
        endpoint,
        base_url,
        type(exc).__name__,
        attempt,
        latency_ms,
        extra={
            "agora_endpoint": str(endpoint),
            "agora_base_url": base_url,
            "agora_attempt": attempt,
            "agora_latency_ms": round(latency_ms),
        },
    )
