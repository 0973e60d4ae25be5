"""The two webhook endpoints: size limit → verify → minimal parse → one atomic enqueue → 200.

They are plain ASGI endpoints (Starlette routes them) so the hot path reads the raw body and
the few headers it needs straight from the ASGI scope and builds no request object. Failures
raise WebhookError subclasses, which the app's exception handlers turn into JSON answers.
"""

from __future__ import annotations

import logging
import time
from abc import ABC, abstractmethod
from datetime import UTC, datetime
from typing import Final

from starlette.types import Receive, Scope, Send

from webhooks.enqueue import EventQueue
from webhooks.errors import (
    BadSignature,
    BodyTooLarge,
    Outcome,
    QueueUnavailable,
    SecretNotConfigured,
    Source,
    WebhookError,
)
from webhooks.metrics import WebhookMetrics
from webhooks.parse import check_app_event, ncs_notice_id
from webhooks.signatures import (
    HEADER_ID,
    HEADER_SIGNATURE,
    HEADER_TIMESTAMP,
    SignatureError,
    Webhook,
    verify_agora_signature,
)
from worker import keys

logger = logging.getLogger(__name__)

#: Largest accepted request body (design §4).
MAX_BODY_BYTES: Final = 64 * 1024

_OK_BODY: Final = b'{"ok":true}'
_OK_HEADERS: Final = (
    (b"content-type", b"application/json"),
    (b"content-length", str(len(_OK_BODY)).encode("ascii")),
)
_CONTENT_LENGTH: Final = b"content-length"
_AGORA_SIGNATURE: Final = b"agora-signature-v2"
_STANDARD_HEADERS: Final = {
    HEADER_ID.encode("ascii"): HEADER_ID,
    HEADER_TIMESTAMP.encode("ascii"): HEADER_TIMESTAMP,
    HEADER_SIGNATURE.encode("ascii"): HEADER_SIGNATURE,
}


class ClientDisconnected(Exception):
    """The sender went away before its body arrived; nothing is answered or enqueued."""


def _declared_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == _CONTENT_LENGTH:
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def read_body(scope: Scope, receive: Receive, *, limit_bytes: int) -> bytes:
    """The whole request body; BodyTooLarge as soon as the declared or received size is over.

    A `Content-Length` over the limit is refused before reading anything; a chunked body is
    counted as it streams in and refused at the first chunk that crosses the limit.
    """
    declared = _declared_length(scope)
    if declared is not None and declared > limit_bytes:
        raise BodyTooLarge(limit_bytes=limit_bytes)
    message = await receive()
    if message["type"] != "http.request":
        raise ClientDisconnected
    body: bytes = message.get("body", b"")
    if len(body) > limit_bytes:
        raise BodyTooLarge(limit_bytes=limit_bytes)
    if not message.get("more_body", False):
        return body
    chunks = [body]
    size = len(body)
    while True:
        message = await receive()
        if message["type"] != "http.request":
            raise ClientDisconnected
        chunk: bytes = message.get("body", b"")
        size += len(chunk)
        if size > limit_bytes:
            raise BodyTooLarge(limit_bytes=limit_bytes)
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


async def send_ok(send: Send) -> None:
    """Answer `200 {"ok":true}`."""
    await send({"type": "http.response.start", "status": 200, "headers": _OK_HEADERS})
    await send({"type": "http.response.body", "body": _OK_BODY})


def _queue(scope: Scope) -> EventQueue:
    queue: EventQueue = scope["state"]["queue"]
    return queue


class WebhookEndpoint(ABC):
    """ASGI endpoint shared by both sources: timing, metrics and error attribution."""

    source: Source

    def __init__(self, *, metrics: WebhookMetrics, max_body_bytes: int = MAX_BODY_BYTES) -> None:
        self._metrics = metrics
        self._max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        try:
            added = await self.accept(scope, receive)
        except WebhookError as exc:
            exc.source = self.source
            self._metrics.observe(self.source, exc.outcome, time.perf_counter() - started)
            if isinstance(exc, QueueUnavailable):
                logger.warning("%s webhook not accepted: %s", self.source, exc.reason)
            raise
        except ClientDisconnected:
            return
        except Exception:
            # A bug answers 500 (the app's handler); the sender retries as after a 503.
            self._metrics.observe(self.source, Outcome.UNAVAILABLE, time.perf_counter() - started)
            raise
        await send_ok(send)
        outcome = Outcome.ACCEPTED if added else Outcome.DUPLICATE
        self._metrics.observe(self.source, outcome, time.perf_counter() - started)

    @abstractmethod
    async def accept(self, scope: Scope, receive: Receive) -> bool:
        """Verify and enqueue one request; True if new, False if a duplicate."""


class AgoraWebhook(WebhookEndpoint):
    """`POST /webhooks/agora`: Agora NCS, signed with `Agora-Signature-V2`."""

    source = Source.AGORA

    def __init__(
        self,
        *,
        secret: bytes | None,
        metrics: WebhookMetrics,
        max_body_bytes: int = MAX_BODY_BYTES,
    ) -> None:
        super().__init__(metrics=metrics, max_body_bytes=max_body_bytes)
        self._secret = secret

    async def accept(self, scope: Scope, receive: Receive) -> bool:
        """Verify the NCS signature, find `noticeId`, enqueue the raw body as `ncs`."""
        body = await read_body(scope, receive, limit_bytes=self._max_body_bytes)
        if self._secret is None:
            raise SecretNotConfigured(variable="AGORA_NCS_SECRET")
        signature: str | None = None
        for name, value in scope["headers"]:
            if name == _AGORA_SIGNATURE:
                signature = value.decode("latin-1")
                break
        try:
            verify_agora_signature(body, signature, self._secret)
        except SignatureError as exc:
            raise BadSignature(exc.reason) from None
        notice_id = ncs_notice_id(body)
        return await _queue(scope).enqueue(
            Source.AGORA,
            notice_id,
            {
                keys.FIELD_NCS: body,
                keys.FIELD_SOURCE: Source.AGORA.value,
                keys.FIELD_RECEIVED_MS: time.time_ns() // 1_000_000,
            },
        )


class EventsWebhook(WebhookEndpoint):
    """`POST /webhooks/events`: app events, signed per Standard Webhooks."""

    source = Source.EVENTS

    def __init__(
        self,
        *,
        webhook: Webhook | None,
        metrics: WebhookMetrics,
        max_body_bytes: int = MAX_BODY_BYTES,
    ) -> None:
        super().__init__(metrics=metrics, max_body_bytes=max_body_bytes)
        self._webhook = webhook

    async def accept(self, scope: Scope, receive: Receive) -> bool:
        """Verify the signature, check `id`/`type`, enqueue the raw body as `event`.

        The dedupe id is `webhook-id`, which every retry of one event repeats.
        """
        body = await read_body(scope, receive, limit_bytes=self._max_body_bytes)
        if self._webhook is None:
            raise SecretNotConfigured(variable="AUTOREC_EVENTS_SECRET")
        headers: dict[str, str] = {}
        for name, value in scope["headers"]:
            wanted = _STANDARD_HEADERS.get(name)
            if wanted is not None:
                headers[wanted] = value.decode("latin-1")
        now_ns = time.time_ns()
        try:
            msg_id = self._webhook.verify(headers, body, datetime.fromtimestamp(now_ns / 1e9, UTC))
        except SignatureError as exc:
            raise BadSignature(exc.reason) from None
        check_app_event(body)
        return await _queue(scope).enqueue(
            Source.EVENTS,
            msg_id,
            {
                keys.FIELD_EVENT: body,
                keys.FIELD_SOURCE: Source.EVENTS.value,
                keys.FIELD_RECEIVED_MS: now_ns // 1_000_000,
            },
        )
