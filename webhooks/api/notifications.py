"""`/api/v1/notifications`: the outgoing notifications by status, and sending one again.

Read from the outbox (`worker.state.outbox`), which the lifespan builds for the configured
`AUTOREC_NOTIFY_URLS` and handlers reach through `outbox(call)`. Endpoints are shown by their
id, never by URL: a URL may carry a token.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any, Final

import orjson
from starlette.responses import Response

from webhooks.api import params
from webhooks.api.errors import ApiError
from webhooks.api.models import (
    DeliveryOut,
    ErrorOut,
    NotificationOut,
    NotificationPage,
    NotificationStatus,
)
from webhooks.api.operation import ApiCall, Operation, json_reply
from webhooks.api.params import QueryParam
from worker.state.outbox import DeliveryStatus, Notification, Outbox

STATUS: Final = QueryParam(
    "status",
    "Which notifications: pending (oldest first), delivered or failed (most recently "
    "settled first).",
    {
        "type": "string",
        "enum": [status.value for status in NotificationStatus],
        "default": NotificationStatus.PENDING.value,
    },
)
_MESSAGE_ID: Final = re.compile(params.NOTIFICATION_ID_PATTERN)


def outbox(call: ApiCall) -> Outbox:
    """The process's outbox (lifespan state)."""
    found: Outbox = call.request.state.outbox
    return found


def _status(call: ApiCall) -> NotificationStatus:
    raw = call.request.query_params.get(STATUS.name) or NotificationStatus.PENDING.value
    try:
        return NotificationStatus(raw)
    except ValueError:
        choices = ", ".join(status.value for status in NotificationStatus)
        raise ApiError(400, f"status: must be one of {choices}", STATUS.name) from None


def _at(ms: int | None) -> datetime | None:
    return None if ms is None else datetime.fromtimestamp(ms / 1000, tz=UTC)


def notification_out(message: Notification) -> NotificationOut:
    """A notification as the API shows it."""
    payload: dict[str, Any] = orjson.loads(message.body)
    return NotificationOut(
        id=message.id,
        type=message.type,
        recording=message.recording,
        created_at=datetime.fromtimestamp(message.created_ms / 1000, tz=UTC),
        status=NotificationStatus(message.status.value),
        deliveries=[
            DeliveryOut(
                endpoint=delivery.endpoint,
                status=delivery.status,
                attempts=delivery.attempts,
                next_attempt_at=_at(delivery.due_ms),
                last_result=delivery.last,
                last_attempt_at=_at(delivery.tried_ms),
            )
            for _, delivery in sorted(message.deliveries.items())
        ],
        payload=payload,
    )


async def list_notifications(call: ApiCall) -> NotificationPage:
    """Notifications to the configured endpoints by `status`: pending (not yet delivered
    everywhere, oldest first), delivered, or failed (retried past the maximum age, or
    answered 410 by an endpoint; most recently settled first). Each shows its delivery to
    every endpoint and the body sent. With no endpoint configured nothing is listed (the
    notifications go only to the stream)."""
    status = DeliveryStatus(_status(call).value)
    messages = await outbox(call).listing(status, limit=params.limit(call.request))
    return NotificationPage(notifications=[notification_out(message) for message in messages])


async def retry_notification(call: ApiCall) -> Response:
    """Send a notification again, with the same id (`webhook-id`): it is pending again for
    every configured endpoint that failed it, answered 410 or never had it (an endpoint
    that has it pending or delivered is left as it is)."""
    message_id = call.path("notification")
    box = outbox(call)
    if not _MESSAGE_ID.fullmatch(message_id):
        raise ApiError(404, "no such notification", "notification")  # not echoed: any text
    seconds, micros = await call.redis.time()
    if not await box.retry(message_id, now_ms=int(seconds) * 1000 + int(micros) // 1000):
        raise ApiError(404, f"no notification {message_id!r}", "notification")
    message = await box.get(message_id)
    if message is None:  # expired in between
        raise ApiError(404, f"no notification {message_id!r}", "notification")
    return json_reply(notification_out(message), status=202)


OPERATIONS: Final = (
    Operation(
        "GET",
        "/notifications",
        list_notifications,
        summary="Outgoing notifications by status",
        query=(STATUS, params.LIMIT),
        tags=("notifications",),
        responses={200: NotificationPage},
    ),
    Operation(
        "POST",
        "/notifications/{notification}/retry",
        retry_notification,
        summary="Send a notification again",
        tags=("notifications",),
        responses={202: NotificationOut, 404: ErrorOut},
    ),
)
