"""Lifecycle notifications end to end (I7): what a receiver gets for a recording, verified
with the official Standard Webhooks verifier, through worker kills and a Redis restart."""

from __future__ import annotations

import base64
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from standardwebhooks.webhooks import Webhook

from tests.support.e2e.checks import assert_converged, eventually, holds
from tests.support.e2e.inprocess import StackFactory
from tests.support.e2e.procstack import process_stack
from tests.support.receiver import Receiver, receiver
from worker.dev.redis_server import RedisServer
from worker.notify.deliver import LOCK_TTL_S

SECRET = "whsec_" + base64.b64encode(b"autorec-e2e-notify-secret-32byte").decode()


def notify_env(*urls: str, **more: str) -> dict[str, str]:
    return {
        "AUTOREC_NOTIFY_URLS": ",".join(urls),
        "AUTOREC_NOTIFY_SECRET": SECRET,
        "AUTOREC_NOTIFY_RETRY_S": "0.3,0.6",
        **more,
    }


def bodies(hooks: Receiver) -> list[dict[str, Any]]:
    """Delivered bodies, each verified; one per webhook-id (at least once: dedupe by id)."""
    webhook = Webhook(SECRET)
    seen: dict[str, dict[str, Any]] = {}
    for received in hooks.delivered():
        body = webhook.verify(received.body, received.headers)
        seen.setdefault(received.headers["webhook-id"], body)
    return list(seen.values())


def types_of(hooks: Receiver, channel: str) -> list[str]:
    return [b["type"] for b in bodies(hooks) if b["data"]["channel"] == channel]


async def test_a_join_and_a_leave_deliver_started_stopped_and_uploaded_with_files_in_order(
    stack: StackFactory,
) -> None:
    async with receiver() as hooks, stack(env=notify_env(hooks.url)) as s:
        await s.admin.join("room-1", 101)
        await assert_converged(s.admin, occupied=["room-1"])
        await s.admin.leave("room-1", 101)

        wanted = ["recording.started", "recording.stopped", "recording.uploaded"]
        await eventually(
            lambda: types_of(hooks, "room-1") == wanted, what="the three notifications"
        )
        (task,) = await s.admin.recordings()

    started, stopped, uploaded = bodies(hooks)
    assert started["data"]["sid"] == stopped["data"]["sid"] == task.sid
    assert stopped["data"]["stop_reason"] == "empty"
    assert stopped["data"]["outcome"] == "stopped"
    assert uploaded["data"]["upload_status"] == "uploaded"
    assert uploaded["data"]["files"], "the uploaded notification lists the files"
    assert all(b["timestamp"].endswith("Z") for b in (started, stopped, uploaded))


async def test_a_receiver_answering_500_gets_the_same_id_until_it_recovers_and_410_ends_it(
    stack: StackFactory,
) -> None:
    async with receiver() as failing, receiver() as gone:
        failing.answer(500, 500, 200)
        gone.answer(410)
        async with stack(env=notify_env(failing.url, gone.url)) as s:
            await s.admin.join("room-1", 101)
            await assert_converged(s.admin, occupied=["room-1"])

            await eventually(lambda: len(failing.delivered()) == 1, what="the delivery")
            await eventually(lambda: len(gone.received) == 1, what="the refused attempt")
            ids = [r.headers["webhook-id"] for r in failing.received]
            await holds_no_more(gone, seconds=2.0)

    assert [r.status for r in failing.received] == [500, 500, 200]
    assert len(set(ids)) == 1
    assert gone.received[0].headers["webhook-id"] == ids[0]
    assert [b["type"] for b in bodies(failing)] == ["recording.started"]


async def holds_no_more(hooks: Receiver, *, seconds: float) -> None:
    """Nothing more arrives at `hooks` for `seconds` (beyond three retry delays)."""
    count = len(hooks.received)

    async def unchanged() -> bool:
        return len(hooks.received) == count

    await holds(unchanged, for_s=seconds, what="no retry")


async def test_a_channel_queued_behind_the_limit_is_told_it_waits(stack: StackFactory) -> None:
    env = notify_env("http://127.0.0.1:9/unused", AUTOREC_MAX_RECORDINGS="1")
    async with receiver() as hooks, stack(env={**env, "AUTOREC_NOTIFY_URLS": hooks.url}) as s:
        await s.admin.join("first", 101)
        await assert_converged(s.admin, occupied=["first"])
        await s.admin.join("second", 102)

        await eventually(
            lambda: types_of(hooks, "second") == ["recording.waiting"],
            what="recording.waiting for the queued channel",
        )
        await s.admin.leave("first", 101)
        await eventually(
            lambda: types_of(hooks, "second") == ["recording.waiting", "recording.started"],
            what="the queued channel's start",
        )


async def test_a_refused_start_delivers_failed_with_agoras_status_and_code(
    stack: StackFactory,
) -> None:
    async with receiver() as hooks, stack(env=notify_env(hooks.url)) as s:
        await s.admin.add_fault(endpoint="start", status=400, code=2, reason="invalid appid")
        await s.admin.join("room-1", 101)

        await eventually(
            lambda: "recording.failed" in types_of(hooks, "room-1"), what="recording.failed"
        )

    failed = next(b for b in bodies(hooks) if b["type"] == "recording.failed")
    assert failed["data"]["outcome"] == "failed"
    assert (failed["data"]["error"]["status"], failed["data"]["error"]["code"]) == (400, 2)


async def test_the_notifications_stream_carries_the_same_events(stack: StackFactory) -> None:
    async with stack() as s:  # no endpoint: the stream alone
        await s.admin.join("room-1", 101)
        await assert_converged(s.admin, occupied=["room-1"])

        async def started_in_stream() -> bool:
            entries = await s.redis.xrange("autorec:notifications")
            return [e[b"type"] for _, e in entries] == [b"recording.started"]

        await eventually(started_in_stream, what="recording.started in the stream")


@pytest.mark.slow
async def test_a_worker_kill_and_a_redis_restart_lose_no_notification(
    redis_server_factory: Callable[..., RedisServer], tmp_path: Path
) -> None:
    server = redis_server_factory(appendonly=True)
    env = notify_env("http://placeholder.invalid/", AUTOREC_EMPTY_GRACE_S="0.3",
                     AUTOREC_RECONCILE_INTERVAL_S="1")  # fmt: skip
    async with receiver() as hooks:
        hooks.answer(503)  # the app is down while the recording runs and stops
        async with process_stack(
            server.url, tmp_path, env={**env, "AUTOREC_NOTIFY_URLS": hooks.url}
        ) as s:
            worker = s.worker("e2e-w1")
            await worker.start()
            await s.admin.join("room-1", 101)
            await assert_converged(s.admin, occupied=["room-1"])
            await s.admin.leave("room-1", 101)
            await assert_converged(s.admin, occupied=[], empty=["room-1"])
            await eventually(lambda: len(hooks.received) >= 3, what="refused attempts")
            # The worker dies between the stop and the delivery; Redis restarts from its AOF.
            await worker.kill()
            server.stop()
            server.start()
            hooks.answer(200)
            await worker.start()

            wanted = ["recording.started", "recording.stopped", "recording.uploaded"]
            # The dead worker's hold on the endpoint lapses (LOCK_TTL_S), then all arrive.
            await eventually(
                lambda: types_of(hooks, "room-1") == wanted,
                timeout_s=LOCK_TTL_S + 15,
                what="every notification after the restarts",
            )
