"""The app-facing API end to end: record now, stop now, overrides, changes and the catalog,
through the real webhook service, a real arq worker and the sandbox as Agora (design §4, I8)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.e2e.checks import eventually, holds
from tests.support.e2e.inprocess import InProcessStack, StackFactory
from worker import keys

STREAM_TYPES = {"audio": 0, "video": 1, "both": 2}


def running_tasks(s: InProcessStack, channel: str | None = None) -> list[Any]:
    world = s.sandbox.world
    world.tick()
    return [
        task
        for task in world.tasks.values()
        if task.phase.value == "running" and (channel is None or task.cname == channel)
    ]


@pytest.mark.parametrize(
    ("mode", "streams"),
    [("individual", "audio"), ("individual", "video"), ("individual", "both"), ("mix", "both")],
)
async def test_record_now_on_an_empty_channel_records_exactly_the_asked_streams(
    stack: StackFactory, mode: str, streams: str
) -> None:
    async with stack() as s, s.api() as api:
        answer = await api.post(
            "/channels/room-1/recording?wait_s=20", json={"mode": mode, "streams": streams}
        )

        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["state"] == "recording"
        assert body["override"]["record"] == "always"
        recording = body["recording"]
        (task,) = running_tasks(s, "room-1")
        assert recording["sid"] == task.sid
        assert (recording["mode"], recording["streams"]) == (mode, streams)
        assert task.mode.value == mode
        assert task.spec.stream_types == STREAM_TYPES[streams]


async def test_stop_now_returns_the_finished_recording_and_holds_until_the_channel_empties(
    stack: StackFactory,
) -> None:
    async with stack() as s, s.api() as api:
        await s.admin.join("room-1", 101)
        await eventually(lambda: len(running_tasks(s, "room-1")) == 1, what="the recording")
        (task,) = running_tasks(s, "room-1")

        answer = await api.delete("/channels/room-1/recording?wait_s=20")

        assert answer.status_code == 200, answer.text
        finished = answer.json()
        assert (finished["sid"], finished["state"], finished["outcome"]) == (
            task.sid,
            "finished",
            "stopped",
        )
        assert finished["stop_reason"] == "manual"
        assert finished["files"], "the stop answer lists the files"
        assert finished["upload_status"] in ("uploaded", "backuped", "unknown")
        # Still occupied: the channel stays stopped, even as others join.
        await s.admin.join("room-1", 102)

        async def nothing_runs() -> bool:
            return running_tasks(s, "room-1") == []

        await holds(nothing_runs, for_s=2.0, what="the stopped channel staying stopped")
        channel = (await api.get("/channels/room-1")).json()
        assert channel["override"]["record"] == "never"
        # Once empty, the next meeting records automatically.
        await s.admin.leave("room-1", 101)
        await s.admin.leave("room-1", 102)
        await eventually(
            lambda: _no_override(api, "room-1"), what="the override to end with the meeting"
        )
        await s.admin.join("room-1", 103)
        await eventually(
            lambda: len(running_tasks(s, "room-1")) == 1, what="the next meeting's recording"
        )


async def _no_override(api: Any, channel: str) -> bool:
    answer = await api.get(f"/channels/{channel}")
    return bool(answer.status_code == 200 and answer.json()["override"] is None)


async def test_always_restarts_a_task_that_dies_and_never_runs_two(
    stack: StackFactory,
) -> None:
    async with stack() as s, s.api() as api:
        answer = await api.post("/channels/room-1/recording?wait_s=20")
        assert answer.status_code == 200, answer.text
        first = answer.json()["recording"]["sid"]

        await s.admin.kill(first)

        def replaced() -> bool:
            tasks = running_tasks(s, "room-1")
            return len(tasks) == 1 and tasks[0].sid != first

        await eventually(replaced, timeout_s=20, what="a replacement recording")
        starts = [r for r in await s.admin.recordings() if r.cname == "room-1"]
        assert len(starts) == 2
        assert not any(
            a.ended_at_ms is None and b.ended_at_ms is None
            for a in starts
            for b in starts
            if a is not b
        )


async def test_a_manual_start_beyond_the_limit_waits_in_line_and_starts_when_a_slot_frees(
    stack: StackFactory,
) -> None:
    async with stack(env={"AUTOREC_MAX_RECORDINGS": "1"}) as s, s.api() as api:
        await s.admin.join("busy", 101)
        await eventually(lambda: len(running_tasks(s, "busy")) == 1, what="busy's recording")

        answer = await api.post("/channels/manual-1/recording")

        assert answer.status_code == 202, answer.text

        async def in_line() -> bool:
            body = (await api.get("/channels/manual-1")).json()
            return bool(body["state"] == "waiting" and body["waiting_position"] == 1)

        await eventually(in_line, what="the manual start waiting first in line")
        assert [t.cname for t in running_tasks(s)] == ["busy"]
        status = (await api.get("/status")).json()
        assert status["waiting"] == ["manual-1"]
        await s.admin.leave("busy", 101)
        await eventually(
            lambda: [t.cname for t in running_tasks(s)] == ["manual-1"],
            timeout_s=20,
            what="the manual start once the slot freed",
        )


async def test_the_catalog_lists_finished_recordings_with_their_files(
    stack: StackFactory,
) -> None:
    async with stack() as s, s.api() as api:
        for uid, channel in enumerate(("cat-1", "cat-2"), start=101):
            await s.admin.join(channel, uid)  # someone publishes, so there are files
            started = await api.post(f"/channels/{channel}/recording?wait_s=20")
            assert started.status_code == 200, started.text
            stopped = await api.delete(f"/channels/{channel}/recording?wait_s=20")
            assert stopped.status_code == 200, stopped.text

        page = (await api.get("/recordings")).json()

        assert [r["channel"] for r in page["recordings"]] == ["cat-2", "cat-1"]
        assert all(r["files"] and r["outcome"] == "stopped" for r in page["recordings"])
        one = page["recordings"][0]
        assert (await api.get(f"/recordings/{one['id']}")).json() == one
        only = (await api.get("/recordings?channel=cat-1")).json()["recordings"]
        assert [r["channel"] for r in only] == ["cat-1"]
        first_page = (await api.get("/recordings?limit=1")).json()
        assert first_page["next_cursor"] == one["id"]
        second = await api.get(f"/recordings?limit=1&cursor={first_page['next_cursor']}")
        assert [r["channel"] for r in second.json()["recordings"]] == ["cat-1"]


async def test_a_layout_change_reaches_agora_as_update_layout(stack: StackFactory) -> None:
    async with stack() as s, s.api() as api:
        started = await api.post("/channels/room-1/recording?wait_s=20", json={"mode": "mix"})
        assert started.status_code == 200, started.text

        answer = await api.patch(
            "/channels/room-1/recording", json={"layout": {"mixed_video_layout": 1}}
        )

        assert answer.status_code == 200, answer.text
        calls = [c for c in await s.admin.calls() if c.endpoint == "updateLayout"]
        assert [c.status for c in calls] == [200]


async def test_a_layout_change_of_an_individual_recording_is_a_conflict(
    stack: StackFactory,
) -> None:
    async with stack() as s, s.api() as api:
        started = await api.post(
            "/channels/room-1/recording?wait_s=20", json={"mode": "individual"}
        )
        assert started.status_code == 200, started.text

        answer = await api.patch(
            "/channels/room-1/recording", json={"layout": {"mixed_video_layout": 1}}
        )

        assert answer.status_code == 409
        assert answer.json()["field"] == "layout"
        assert not [c for c in await s.admin.calls() if c.endpoint == "updateLayout"]


async def test_record_now_with_another_mode_than_the_running_one_is_a_conflict(
    stack: StackFactory,
) -> None:
    async with stack() as s, s.api() as api:
        await s.admin.join("room-1", 101)
        await eventually(lambda: len(running_tasks(s, "room-1")) == 1, what="the recording")

        answer = await api.post("/channels/room-1/recording", json={"mode": "individual"})

        assert answer.status_code == 409
        assert answer.json()["field"] == "mode"
        assert await s.redis.exists(keys.override("room-1")) == 0


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "field"),
    [
        ("POST", "/channels/bad%22name/recording", {}, 400, "channel"),
        ("POST", "/channels/room-1/recording", {"mode": "karaoke"}, 400, "mode"),
        ("POST", "/channels/room-1/recording", {"streams": "smell"}, 400, "streams"),
        ("POST", "/channels/room-1/recording", {"colour": "red"}, 400, "colour"),
        ("POST", "/channels/room-1/recording", {"mode": "web"}, 400, "web_url"),
        (
            "POST",
            "/channels/room-1/recording",
            {"mode": "individual", "transcoding": {"width": 640}},
            400,
            "transcoding",
        ),
        ("POST", "/channels/room-1/recording?wait_s=31", {}, 400, "wait_s"),
        ("POST", "/channels/room-1/recording", {"expires_at": "tomorrow"}, 400, "expires_at"),
        ("PUT", "/channels/room-1/override", {"record": "sometimes"}, 400, "record"),
        ("PUT", "/channels/room-1/override", {"record": "never", "mode": "mix"}, 400, "mode"),
        ("POST", "/channels/room-1/recording", {"web_url": "x" * 70_000}, 413, None),
    ],
)
async def test_bad_input_gets_a_4xx_naming_the_field_and_changes_nothing(
    stack: StackFactory,
    method: str,
    path: str,
    body: dict[str, Any],
    status: int,
    field: str | None,
) -> None:
    async with stack() as s, s.api() as api:
        answer = await api.request(method, path, json=body)

        assert answer.status_code == status, answer.text
        assert answer.json().get("field") == field
        assert await s.redis.exists(keys.override("room-1")) == 0
        assert await s.redis.zcard(keys.OVERRIDES) == 0


async def test_the_read_token_may_look_but_not_record(stack: StackFactory) -> None:
    async with stack(env={"AUTOREC_API_READ_TOKEN": "read-only-token"}) as s:
        async with s.api("read-only-token") as reader:
            assert (await reader.get("/channels")).status_code == 200
            assert (await reader.post("/channels/room-1/recording")).status_code == 403
        async with s.api("") as anonymous:
            assert (await anonymous.get("/channels")).status_code == 401
        assert await s.redis.exists(keys.override("room-1")) == 0
