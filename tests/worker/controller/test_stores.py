"""Session and history stores, and the channel lock, on a real Redis."""

from __future__ import annotations

import asyncio
import dataclasses

import orjson
import pytest
import redis.asyncio as aioredis
from arq.worker import Retry

from tests.support.controller import Stack
from worker import keys
from worker.agora import StopOutcome
from worker.controller.effects import CURRENT_JOB_ID
from worker.functions.reconcile_channel import reconcile_channel
from worker.policies import Mode
from worker.state.channel_lock import ChannelBusy, channel_lock
from worker.state.files import RecordingFile
from worker.state.history import Failure, HistoryEntry, HistoryStore, Outcome
from worker.state.sessions import RecordingFacts, Session, SessionState, SessionStore

DAY_MS = 86_400_000
#: A mixed file as recording event 31 and a `json` stop answer describe it.
MIXED = RecordingFile(
    filename="sid_room-1.m3u8",
    track_type="audio_and_video",
    uid="0",
    mixed_all_user=True,
    is_playable=True,
    slice_start_time=1_619_170_461_821,
)


def entry(channel: str, sid: str, ended_ms: int) -> HistoryEntry:
    return HistoryEntry(
        channel=channel,
        outcome=Outcome.STOPPED,
        uid=4_200_000_001,
        mode=Mode.MIX,
        policy="default policy",
        created_ms=ended_ms - 1000,
        ended_ms=ended_ms,
        sid=sid,
    )


async def test_history_lists_a_channels_recordings_newest_first(redis: aioredis.Redis) -> None:
    store = HistoryStore(redis, history_days=1)
    await store.append(entry("room-1", "a", 1_000))
    await store.append(entry("room-1", "b", 2_000))
    assert [e.sid for e in await store.history("room-1")] == ["b", "a"]
    assert await store.channels(now_ms=2_000) == ["room-1"]


async def test_history_older_than_the_retention_is_not_listed(redis: aioredis.Redis) -> None:
    store = HistoryStore(redis, history_days=1)
    await store.append(entry("room-1", "old", 1_000))
    assert await store.history("room-1", now_ms=1_000 + DAY_MS + 1) == []
    assert await store.channels(now_ms=1_000 + DAY_MS + 1) == []
    assert 0 < await redis.pttl(keys.history("room-1")) <= DAY_MS


async def test_appending_drops_index_entries_past_the_retention(redis: aioredis.Redis) -> None:
    store = HistoryStore(redis, history_days=1)
    await store.append(entry("room-old", "a", 1_000))
    await store.append(entry("room-new", "b", 1_000 + DAY_MS + 1))
    assert await redis.zrange(keys.HISTORY_INDEX, 0, -1) == [b"room-new"]


async def test_a_history_entry_is_amended_by_its_sid(redis: aioredis.Redis) -> None:
    store = HistoryStore(redis, history_days=1)
    await store.append(entry("room-1", "a", 1_000))
    await store.append(entry("room-1", "b", 2_000))
    uploaded = RecordingFacts(files=(RecordingFile("x.m3u8"),), uploading_status="uploaded")
    assert await store.amend("room-1", "a", uploaded)
    older = (await store.history("room-1"))[1]
    assert (older.files, older.uploading_status) == ((RecordingFile("x.m3u8"),), "uploaded")
    assert not await store.amend("room-1", "zzz", RecordingFacts(exit_status=0))


async def test_files_reported_after_the_end_merge_into_the_entrys_by_filename(
    redis: aioredis.Redis,
) -> None:
    store = HistoryStore(redis, history_days=1)
    stopped = dataclasses.replace(
        entry("room-1", "a", 1_000), files=(RecordingFile(MIXED.filename), RecordingFile("a.mp4"))
    )
    await store.append(stopped)
    later = RecordingFacts(files=(MIXED, RecordingFile("b.mp4")), uploading_status="uploaded")
    assert await store.amend("room-1", "a", later)
    (amended,) = await store.history("room-1")
    assert amended.files == (MIXED, RecordingFile("a.mp4"), RecordingFile("b.mp4"))


async def test_a_file_reported_with_fewer_details_keeps_those_known(
    redis: aioredis.Redis,
) -> None:
    store = HistoryStore(redis, history_days=1)
    await store.append(dataclasses.replace(entry("room-1", "a", 1_000), files=(MIXED,)))
    assert await store.amend("room-1", "a", RecordingFacts(files=(RecordingFile(MIXED.filename),)))
    (amended,) = await store.history("room-1")
    assert amended.files == (MIXED,)


async def test_an_entry_stored_with_plain_file_names_still_reads_and_takes_details(
    redis: aioredis.Redis,
) -> None:
    store = HistoryStore(redis, history_days=1)
    old = orjson.loads(entry("room-1", "a", 1_000).to_json())
    old["files"] = [MIXED.filename, "a_0.mp4"]
    del old["segment"], old["logical_id"]
    await redis.lpush(keys.history("room-1"), orjson.dumps(old))
    (stored,) = await store.history("room-1")
    assert stored.files == (RecordingFile(MIXED.filename), RecordingFile("a_0.mp4"))
    assert (stored.segment, stored.logical) == (1, "a")
    assert await store.amend("room-1", "a", RecordingFacts(files=(MIXED,)))
    (amended,) = await store.history("room-1")
    assert amended.files == (MIXED, RecordingFile("a_0.mp4"))


def test_a_history_entry_stores_its_files_as_objects_of_known_details() -> None:
    stored = orjson.loads(
        dataclasses.replace(
            entry("room-1", "a", 1_000), files=(MIXED, RecordingFile("a.mp4"))
        ).to_json()
    )
    assert stored["files"] == [
        {
            "filename": "sid_room-1.m3u8",
            "track_type": "audio_and_video",
            "uid": "0",
            "mixed_all_user": True,
            "is_playable": True,
            "slice_start_time": 1_619_170_461_821,
        },
        {"filename": "a.mp4"},
    ]


async def test_recent_failures_come_newest_first(redis: aioredis.Redis) -> None:
    store = HistoryStore(redis, history_days=1)
    await store.record_failure(Failure("a", 1, "died", "404"))
    await store.record_failure(Failure("b", 2, "start_failed", "400"))
    assert [f.channel for f in await store.recent_failures()] == ["b", "a"]


def test_a_history_entry_stores_its_outcome_and_mode_as_plain_strings() -> None:
    stored = orjson.loads(entry("room-1", "a", 1_000).to_json())
    assert (stored["outcome"], stored["mode"]) == ("stopped", "mix")


def test_a_stored_history_entry_reads_back_with_its_outcome_and_mode_typed() -> None:
    raw = (
        b'{"channel":"room-1","outcome":"died","uid":4200000001,"mode":"web","policy":"p",'
        b'"created_ms":1,"ended_ms":2,"files":["a.m3u8"],"uid_index":1,"unknown":true}'
    )
    read = HistoryEntry.from_json(raw)
    assert (read.outcome, read.mode) == (Outcome.DIED, Mode.WEB)
    assert HistoryEntry.from_json(read.to_json()) == read


def test_every_terminal_stop_answer_is_a_history_outcome_of_the_same_name() -> None:
    assert [Outcome(answer.value) for answer in StopOutcome] == [
        Outcome.STOPPED,
        Outcome.NO_RECORDED_DATA,
        Outcome.ALREADY_STOPPING,
        Outcome.NOT_FOUND,
    ]


async def test_a_session_stores_its_mode_as_a_plain_string(redis: aioredis.Redis) -> None:
    store = SessionStore(redis)
    await store.save(Session("room-1", SessionState.ACQUIRING, 4_200_000_001, 0, Mode.WEB, "p", 1))
    assert await redis.hget(keys.session("room-1"), "mode") == b"web"
    stored = await store.get("room-1")
    assert stored is not None
    assert stored.mode is Mode.WEB


async def test_facts_of_events_are_stored_as_the_session_encodes_them(
    redis: aioredis.Redis,
) -> None:
    store = SessionStore(redis)
    first = Session("room-1", SessionState.RUNNING, 4_200_000_001, 0, Mode.MIX, "p", 1, sid="s")
    await store.save(first)
    files = (MIXED, RecordingFile("a.ts"))
    facts = RecordingFacts(files=files, uploading_status="uploaded", exit_status=0)
    assert await store.note("room-1", facts)
    stored = await store.get("room-1")
    assert stored is not None
    assert (stored.files, stored.uploading_status, stored.exit_status) == (files, "uploaded", 0)


async def test_files_of_events_merge_into_the_sessions_by_filename(redis: aioredis.Redis) -> None:
    store = SessionStore(redis)
    first = Session("room-1", SessionState.RUNNING, 4_200_000_001, 0, Mode.MIX, "p", 1, sid="s")
    await store.save(dataclasses.replace(first, files=(RecordingFile(MIXED.filename),)))
    assert await store.note("room-1", RecordingFacts(files=(RecordingFile("b.ts"), MIXED)))
    stored = await store.get("room-1")
    assert stored is not None
    assert stored.files == (MIXED, RecordingFile("b.ts"))


async def test_a_session_stored_with_plain_file_names_reads_them_as_files(
    redis: aioredis.Redis,
) -> None:
    store = SessionStore(redis)
    await store.save(Session("room-1", SessionState.RUNNING, 4_200_000_001, 0, Mode.MIX, "p", 1))
    await redis.hset(keys.session("room-1"), "files", b'["a.m3u8"]')
    stored = await store.get("room-1")
    assert stored is not None
    assert stored.files == (RecordingFile("a.m3u8"),)


async def test_a_session_write_leaves_fields_set_by_events_alone(redis: aioredis.Redis) -> None:
    store = SessionStore(redis)
    first = Session("room-1", SessionState.RUNNING, 4_200_000_001, 0, Mode.MIX, "p", 1, sid="s")
    await store.save(first)
    await store.note("room-1", RecordingFacts(leave_code=4))
    await store.save(dataclasses.replace(first, check_due_ms=5), first)
    stored = await store.get("room-1")
    assert stored is not None
    assert (stored.leave_code, stored.check_due_ms) == (4, 5)
    assert [s.channel for s in await store.list_sessions()] == ["room-1"]


async def test_listing_drops_index_entries_of_gone_sessions_only(
    redis: aioredis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = SessionStore(redis)
    await redis.zadd(keys.SESSIONS, {"gone": 1, "new": 2})
    session = Session("new", SessionState.ACQUIRING, 4_200_000_001, 0, Mode.MIX, "p", 2)
    real_get = SessionStore.get

    async def get_racing_a_save(self: SessionStore, channel: str) -> Session | None:
        found = await real_get(self, channel)
        if channel == "new":  # saved by another worker just after this read
            await store.save(session)
        return found

    monkeypatch.setattr(SessionStore, "get", get_racing_a_save)
    assert await store.list_sessions() == []
    assert await redis.zrange(keys.SESSIONS, 0, -1) == [b"new"]


async def test_event_fields_are_not_set_on_a_session_that_is_gone(redis: aioredis.Redis) -> None:
    assert not await SessionStore(redis).note("room-1", RecordingFacts(exit_status=0))
    assert await redis.exists(keys.session("room-1")) == 0


async def test_a_held_channel_lock_makes_a_second_holder_busy(redis: aioredis.Redis) -> None:
    async with channel_lock(redis, "room-1", ttl_ms=3000):
        with pytest.raises(ChannelBusy):
            async with channel_lock(redis, "room-1", ttl_ms=3000, wait_s=0.05):
                pass
    async with channel_lock(redis, "room-1", ttl_ms=3000):
        pass


async def test_a_holder_that_lost_its_lock_is_cancelled(redis: aioredis.Redis) -> None:
    async def hold() -> None:
        async with channel_lock(redis, "room-1", ttl_ms=150):
            await redis.delete(keys.lock("room-1"))
            await asyncio.sleep(5)

    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(asyncio.create_task(hold()), timeout=2)


async def test_a_reconcile_of_a_busy_channel_is_retried_later(stack: Stack) -> None:
    async with channel_lock(stack.arq, "room-1", ttl_ms=3000):
        with pytest.raises(Retry):
            await reconcile_channel(stack.ctx, "room-1")


async def test_a_wake_up_never_takes_the_id_of_the_job_running_now(stack: Stack) -> None:
    now = await stack.effects.now_ms()
    due = -(-(now + 1_000) // 50) * 50
    token = CURRENT_JOB_ID.set(f"reconcile:room-1:0:t{due}")
    try:
        await stack.effects.wake("room-1", due, now_ms=now)
    finally:
        CURRENT_JOB_ID.reset(token)
    queued = [m.decode() for m in await stack.arq.zrange("arq:queue", 0, -1)]
    assert queued == [f"reconcile:room-1:0:t{due + 50}"]
