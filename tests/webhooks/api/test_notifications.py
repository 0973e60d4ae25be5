"""`/api/v1/notifications`: the outbox by status (pending, delivered, failed), each delivery
by endpoint id (never its URL), the body sent, and sending a notification again."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
import orjson
import pytest
import redis.asyncio as aioredis

from tests.support.webhooks import API_READ_TOKEN, api_settings, bearer, serve
from worker import keys
from worker.notify.payload import notification_body
from worker.policies.enums import Mode
from worker.settings import Settings
from worker.state.history import HistoryEntry, Outcome
from worker.state.outbox import DeliveryStatus, Endpoint, NotificationType, Outbox, Settle
from worker.state.views import history_view

#: Receivers whose URLs hold a token each: the API must never show them.
URL_A = "https://hooks.example.com/autorec?token=url-secret-a-0123456789"
URL_B = "https://backup.example.net/in/url-secret-b-9876543210"
A, B = Endpoint(URL_A), Endpoint(URL_B)


@pytest.fixture
def settings(redis_url: str) -> Settings:
    """The API's settings with two notification endpoints."""
    return api_settings(redis_url, autorec_notify_urls=[URL_A, URL_B])


@pytest.fixture
def outbox(redis: aioredis.Redis) -> Outbox:
    """The outbox as the workers write it, for the same endpoints."""
    return Outbox(redis, [A, B])


async def now_ms(redis: aioredis.Redis) -> int:
    seconds, micros = await redis.time()
    return int(seconds) * 1000 + int(micros) // 1000


def stopped_body(channel: str, at_ms: int) -> bytes:
    """A real `recording.stopped` body of a recording of `channel`."""
    entry = HistoryEntry(
        channel=channel,
        outcome=Outcome.STOPPED,
        uid=4283961527,
        mode=Mode.MIX,
        policy="default",
        created_ms=at_ms - 60_000,
        ended_ms=at_ms,
        resource_id="resource-1",
        sid=f"sid-{channel}",
        started_ms=at_ms - 59_000,
        stop_reason="empty",
        streams="both",
    )
    return notification_body(NotificationType.STOPPED, history_view(entry), at_ms)


async def write(redis: aioredis.Redis, outbox: Outbox, channel: str = "class-42") -> str:
    """Write one `recording.stopped` notification with the real outbox; its id."""
    written_ms = await now_ms(redis)
    message = await outbox.append(
        NotificationType.STOPPED,
        stopped_body(channel, written_ms),
        recording=f"{channel}:{written_ms - 60_000}",
        now_ms=written_ms,
    )
    assert message is not None
    return message


_last_settled_ms = 0


async def settle(
    redis: aioredis.Redis, outbox: Outbox, endpoint: Endpoint, message: str, outcome: Settle
) -> int:
    """Settle one endpoint's delivery as a deliverer would; when it was settled (ms, later
    than any earlier settle of the test run, so the listing order is defined)."""
    global _last_settled_ms
    settled_ms = max(await now_ms(redis), _last_settled_ms + 1)
    _last_settled_ms = settled_ms
    last = {Settle.DELIVERED: "HTTP 204", Settle.GONE: "HTTP 410"}.get(outcome, "HTTP 503")
    await outbox.settle(endpoint.id, message, outcome, now_ms=settled_ms, last=last)
    return settled_ms


async def listing(
    client: httpx.AsyncClient, query: str = "", token: str | None = None
) -> list[dict[str, Any]]:
    headers = bearer(token) if token is not None else bearer()
    answer = await client.get(f"/api/v1/notifications{query}", headers=headers)
    assert answer.status_code == 200, answer.text
    found: list[dict[str, Any]] = answer.json()["notifications"]
    return found


def ids(notifications: list[dict[str, Any]]) -> list[str]:
    return [n["id"] for n in notifications]


def rfc3339(ms: int) -> str:
    """How the API writes the time `ms`: RFC 3339 in UTC, with a `Z`."""
    return at(ms).isoformat().replace("+00:00", "Z")


def at(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


def parsed(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


async def test_a_new_notification_is_pending_for_every_endpoint_with_the_body_sent(
    client: httpx.AsyncClient, redis: aioredis.Redis, outbox: Outbox
) -> None:
    message = await write(redis, outbox)
    stored = await outbox.get(message)
    assert stored is not None

    [shown] = await listing(client)

    assert shown["id"] == message
    assert shown["type"] == "recording.stopped"
    assert shown["recording"] == stored.recording
    assert shown["created_at"] == rfc3339(stored.created_ms)
    assert shown["status"] == "pending"
    assert shown["payload"] == orjson.loads(stored.body)
    assert shown["payload"]["data"]["channel"] == "class-42"
    assert sorted(shown["deliveries"], key=lambda d: d["endpoint"]) == sorted(
        (
            {
                "endpoint": endpoint.id,
                "status": "pending",
                "attempts": 0,
                "next_attempt_at": rfc3339(stored.created_ms),
                "last_result": None,
                "last_attempt_at": None,
            }
            for endpoint in (A, B)
        ),
        key=lambda d: str(d["endpoint"]),
    )


async def test_pending_notifications_are_listed_oldest_first_up_to_the_limit(
    client: httpx.AsyncClient, redis: aioredis.Redis, outbox: Outbox
) -> None:
    written = [await write(redis, outbox, channel) for channel in ("one", "two", "three")]

    assert ids(await listing(client, "?status=pending")) == written
    assert ids(await listing(client, "?limit=2")) == written[:2]


async def test_a_notification_delivered_everywhere_is_listed_as_delivered_only(
    client: httpx.AsyncClient, redis: aioredis.Redis, outbox: Outbox
) -> None:
    message = await write(redis, outbox)
    await settle(redis, outbox, A, message, Settle.DELIVERED)
    settled_at = await settle(redis, outbox, B, message, Settle.DELIVERED)

    [shown] = await listing(client, "?status=delivered")

    assert shown["id"] == message
    assert shown["status"] == "delivered"
    for delivery in shown["deliveries"]:
        assert delivery["status"] == "delivered"
        assert delivery["attempts"] == 1
        assert delivery["next_attempt_at"] is None
        assert delivery["last_result"] == "HTTP 204"
    by_endpoint = {d["endpoint"]: d for d in shown["deliveries"]}
    assert by_endpoint[B.id]["last_attempt_at"] == rfc3339(settled_at)
    assert await listing(client) == []
    assert await listing(client, "?status=failed") == []


async def test_delivered_and_failed_are_listed_most_recently_settled_first(
    client: httpx.AsyncClient, redis: aioredis.Redis, outbox: Outbox
) -> None:
    first, second = await write(redis, outbox, "one"), await write(redis, outbox, "two")
    for message in (first, second):
        for endpoint in (A, B):
            await settle(redis, outbox, endpoint, message, Settle.DELIVERED)

    assert ids(await listing(client, "?status=delivered")) == [second, first]


async def test_a_notification_one_endpoint_failed_is_listed_as_failed_with_each_delivery(
    client: httpx.AsyncClient, redis: aioredis.Redis, outbox: Outbox
) -> None:
    message = await write(redis, outbox)
    await settle(redis, outbox, A, message, Settle.DELIVERED)
    await settle(redis, outbox, B, message, Settle.FAILED)

    [shown] = await listing(client, "?status=failed")

    assert shown["status"] == "failed"
    by_endpoint = {d["endpoint"]: d for d in shown["deliveries"]}
    assert (by_endpoint[A.id]["status"], by_endpoint[A.id]["last_result"]) == (
        "delivered",
        "HTTP 204",
    )
    assert (by_endpoint[B.id]["status"], by_endpoint[B.id]["last_result"]) == (
        "failed",
        "HTTP 503",
    )
    assert await listing(client, "?status=delivered") == []


async def test_an_endpoint_that_answered_410_makes_the_notification_failed_and_its_delivery_gone(
    client: httpx.AsyncClient, redis: aioredis.Redis, outbox: Outbox
) -> None:
    message = await write(redis, outbox)
    await settle(redis, outbox, A, message, Settle.GONE)
    await settle(redis, outbox, B, message, Settle.DELIVERED)

    [shown] = await listing(client, "?status=failed")

    by_endpoint = {d["endpoint"]: d for d in shown["deliveries"]}
    assert shown["status"] == "failed"
    assert (by_endpoint[A.id]["status"], by_endpoint[A.id]["last_result"]) == ("gone", "HTTP 410")


async def test_a_notification_waiting_for_a_retry_shows_when_and_what_came_last(
    client: httpx.AsyncClient, redis: aioredis.Redis, outbox: Outbox
) -> None:
    message = await write(redis, outbox)
    tried = await now_ms(redis)
    await outbox.settle(
        A.id, message, Settle.RETRY, now_ms=tried, last="ConnectError", due_ms=tried + 5000
    )

    [shown] = await listing(client)

    by_endpoint = {d["endpoint"]: d for d in shown["deliveries"]}
    assert by_endpoint[A.id] == {
        "endpoint": A.id,
        "status": "pending",
        "attempts": 1,
        "next_attempt_at": rfc3339(tried + 5000),
        "last_result": "ConnectError",
        "last_attempt_at": rfc3339(tried),
    }
    assert by_endpoint[B.id]["attempts"] == 0


@pytest.mark.parametrize("query", ["?status=gone", "?status=all", "?status=PENDING"])
async def test_an_unknown_status_is_refused_naming_the_parameter(
    client: httpx.AsyncClient, query: str
) -> None:
    answer = await client.get(f"/api/v1/notifications{query}", headers=bearer())

    assert answer.status_code == 400
    assert answer.json() == {
        "error": "status: must be one of pending, delivered, failed",
        "field": "status",
    }


async def test_a_limit_outside_1_to_500_is_refused(client: httpx.AsyncClient) -> None:
    answer = await client.get("/api/v1/notifications?limit=501", headers=bearer())

    assert answer.status_code == 400
    assert answer.json()["field"] == "limit"


async def test_the_read_token_may_list(
    client: httpx.AsyncClient, redis: aioredis.Redis, outbox: Outbox
) -> None:
    message = await write(redis, outbox)

    assert ids(await listing(client, token=API_READ_TOKEN)) == [message]


async def test_retry_makes_a_failed_notification_pending_again_for_every_endpoint_with_its_id(
    client: httpx.AsyncClient, redis: aioredis.Redis, outbox: Outbox
) -> None:
    message = await write(redis, outbox)
    await settle(redis, outbox, A, message, Settle.FAILED)
    await settle(redis, outbox, B, message, Settle.GONE)
    before = await now_ms(redis)

    answer = await client.post(f"/api/v1/notifications/{message}/retry", headers=bearer())

    assert answer.status_code == 202
    shown = answer.json()
    assert (shown["id"], shown["status"]) == (message, "pending")
    assert {d["endpoint"]: d["status"] for d in shown["deliveries"]} == {
        A.id: "pending",
        B.id: "pending",
    }
    assert all(parsed(d["next_attempt_at"]) >= at(before) for d in shown["deliveries"])
    for endpoint in (A, B):
        [queued] = await outbox.head(endpoint.id)
        assert queued.id == message
        assert queued.deliveries[endpoint.id].status is DeliveryStatus.PENDING
    assert ids(await listing(client)) == [message]
    assert await listing(client, "?status=failed") == []


async def test_retry_of_an_unknown_notification_answers_404(client: httpx.AsyncClient) -> None:
    answer = await client.post(
        "/api/v1/notifications/msg_0123456789abcdef01234567/retry", headers=bearer()
    )

    assert answer.status_code == 404
    assert answer.json() == {
        "error": "no notification 'msg_0123456789abcdef01234567'",
        "field": "notification",
    }


async def test_retry_of_an_id_no_notification_can_have_answers_404_without_echoing_it(
    client: httpx.AsyncClient,
) -> None:
    answer = await client.post("/api/v1/notifications/no%20such:id/retry", headers=bearer())

    assert answer.status_code == 404
    assert answer.json() == {"error": "no such notification", "field": "notification"}


async def test_the_read_token_cannot_retry(
    client: httpx.AsyncClient, redis: aioredis.Redis, outbox: Outbox
) -> None:
    message = await write(redis, outbox)
    await settle(redis, outbox, A, message, Settle.FAILED)
    await settle(redis, outbox, B, message, Settle.FAILED)

    answer = await client.post(
        f"/api/v1/notifications/{message}/retry", headers=bearer(API_READ_TOKEN)
    )

    assert answer.status_code == 403
    assert ids(await listing(client, "?status=failed")) == [message]
    assert await redis.zcard(keys.notification_queue(A.id)) == 0


async def test_no_answer_shows_an_endpoint_url(
    client: httpx.AsyncClient, redis: aioredis.Redis, outbox: Outbox
) -> None:
    pending = await write(redis, outbox, "one")
    delivered, failed = await write(redis, outbox, "two"), await write(redis, outbox, "three")
    for endpoint in (A, B):
        await settle(redis, outbox, endpoint, delivered, Settle.DELIVERED)
        await settle(redis, outbox, endpoint, failed, Settle.FAILED)
    answers = [
        await client.get(f"/api/v1/notifications?status={status}", headers=bearer())
        for status in ("pending", "delivered", "failed")
    ]
    answers.append(await client.post(f"/api/v1/notifications/{failed}/retry", headers=bearer()))
    answers.append(await client.get("/api/v1/openapi.json"))

    text = " ".join(answer.text for answer in answers)
    for message in (pending, delivered, failed):
        assert message in text
    for secret in (URL_A, URL_B, "url-secret-a", "url-secret-b", "example.com", "example.net"):
        assert secret not in text


async def test_without_endpoints_notifications_go_only_to_the_stream_and_none_is_listed(
    settings: Settings, redis: aioredis.Redis
) -> None:
    written = await write(redis, Outbox(redis, []))

    async with serve(settings.model_copy(update={"autorec_notify_urls": []})) as client:
        shown = [await listing(client, f"?status={s}") for s in ("pending", "delivered", "failed")]

    assert shown == [[], [], []]
    [(_, fields)] = await redis.xrange(keys.NOTIFICATIONS_STREAM)
    assert fields[b"id"] == written.encode()
