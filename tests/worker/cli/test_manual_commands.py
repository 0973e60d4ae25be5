"""`autorec record|stop|auto|recordings` against a real Redis: the override each writes, the
reconcile job it enqueues, the catalog it lists, and its one-line errors."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import orjson
import pytest
import redis
import redis.asyncio as aioredis

from worker import keys
from worker.cli.main import main
from worker.dev.redis_server import free_port
from worker.policies import Mode
from worker.state.files import RecordingFile
from worker.state.history import HistoryEntry, HistoryStore, Outcome
from worker.state.overrides import Override, Record
from worker.state.sessions import Session, SessionState, SessionStore

AUTOREC = str(Path(sys.executable).with_name("autorec"))
SID = "38f8e3cfdc474cd56fc1ceba380d7e1a"
T0_MS = 1_700_000_000_000
"""2023-11-14 22:13:20 UTC."""


@pytest.fixture(autouse=True)
def environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, redis_url: str) -> None:
    """Only REDIS_URL reaches the command: no other autorec variable, no `.env`."""
    for name in list(os.environ):
        if name.startswith(("AGORA_", "AUTOREC_", "STORAGE_", "REDIS_URL")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def store(redis_url: str) -> Iterator[redis.Redis]:
    """A synchronous client on a freshly flushed database (the commands run their own loop)."""
    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    try:
        yield client
    finally:
        client.close()


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    try:
        code = main(list(argv))
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    out, err = capsys.readouterr()
    return code, out, err


def _override(store: redis.Redis, channel: str) -> Override | None:
    return Override.from_fields(store.hgetall(keys.override(channel)))


def _queued_jobs(store: redis.Redis) -> list[str]:
    return [job.decode() for job in store.zrange("arq:queue", 0, -1)]


Step = Callable[[aioredis.Redis], Awaitable[None]]


def _in_redis(redis_url: str, *steps: Step) -> None:
    """Run `steps` in order with an async client (as the worker would write)."""

    async def run() -> None:
        client = aioredis.Redis.from_url(redis_url)
        try:
            for step in steps:
                await step(client)
        finally:
            await client.aclose()

    asyncio.run(run())


def _running_session(channel: str, mode: Mode = Mode.MIX) -> Step:
    async def save(client: aioredis.Redis) -> None:
        seconds, _ = await client.time()
        now = int(seconds) * 1000
        await SessionStore(client).save(
            Session(
                channel=channel, state=SessionState.RUNNING, uid=4200000001, uid_index=0,
                mode=mode, policy="default", created_ms=now - 5_000, sid=SID,
                started_ms=now - 4_000,
            )
        )  # fmt: skip

    return save


def _entry(channel: str, n: int, **changes: object) -> HistoryEntry:
    fields: dict[str, object] = {
        "channel": channel,
        "outcome": Outcome.STOPPED,
        "uid": 4200000000 + n,
        "mode": Mode.MIX,
        "policy": "default",
        "created_ms": T0_MS + n * 60_000,
        "ended_ms": T0_MS + n * 60_000 + 65_000,
        "sid": f"{n:032x}",
        "started_ms": T0_MS + n * 60_000,
        "stop_reason": "empty",
        "files": (RecordingFile("a.m3u8"), RecordingFile("a_0.ts")),
        "uploading_status": "uploaded",
        "streams": "both",
    }
    fields.update(changes)
    return HistoryEntry(**fields)  # type: ignore[arg-type]


def _appended(*entries: HistoryEntry) -> Step:
    async def append(client: aioredis.Redis) -> None:
        history = HistoryStore(client, history_days=36500)
        for entry in entries:
            await history.append(entry)

    return append


# --- record -----------------------------------------------------------------------------


def test_record_sets_an_always_override_with_the_given_fields(
    capsys: pytest.CaptureFixture[str], store: redis.Redis
) -> None:
    code, _, err = _run(capsys, "record", "room-1", "--mode", "individual", "--streams", "audio")
    assert (code, err) == (0, "")
    override = _override(store, "room-1")
    assert override is not None
    assert (override.record, override.until_empty, override.expires_at_ms) == (
        Record.ALWAYS, False, None,
    )  # fmt: skip
    assert override.policy_fields == {"mode": "individual", "streams": "audio"}


def test_record_puts_the_channels_reconcile_job_in_arqs_queue(
    capsys: pytest.CaptureFixture[str], store: redis.Redis
) -> None:
    assert _run(capsys, "record", "room-1")[0] == 0
    [job] = _queued_jobs(store)
    assert job.startswith("reconcile:room-1:")
    assert store.exists(f"arq:job:{job}")


def test_record_prints_the_channel_waiting_to_record_in_one_line(
    capsys: pytest.CaptureFixture[str], store: redis.Redis
) -> None:
    code, out, _ = _run(capsys, "record", "room-1")
    assert code == 0
    assert out == "room-1: idle, recording wanted · 0 users · override always\n"


def test_record_with_an_expiry_ends_the_override_that_long_after_redis_time(
    capsys: pytest.CaptureFixture[str], store: redis.Redis
) -> None:
    seconds, _ = store.time()
    assert _run(capsys, "record", "room-1", "--expires-in-s", "600")[0] == 0
    override = _override(store, "room-1")
    assert override is not None
    assert override.expires_at_ms is not None
    assert 600_000 <= override.expires_at_ms - int(seconds) * 1000 < 602_000


def test_record_with_max_duration_stores_it_with_the_override(
    capsys: pytest.CaptureFixture[str], store: redis.Redis
) -> None:
    assert _run(capsys, "record", "room-1", "--max-duration-s", "3600")[0] == 0
    override = _override(store, "room-1")
    assert override is not None
    assert override.policy_fields == {"max_duration_s": 3600}


def test_record_and_wait_prints_the_sid_once_it_records(
    capsys: pytest.CaptureFixture[str], store: redis.Redis, redis_url: str
) -> None:
    _in_redis(redis_url, _running_session("room-1"))
    code, out, err = _run(capsys, "record", "room-1", "--wait")
    assert (code, err) == (0, "")
    assert out.startswith(f"room-1: recording · sid {SID} · mix")


def test_record_of_another_mode_than_the_running_one_is_a_one_line_conflict(
    capsys: pytest.CaptureFixture[str], store: redis.Redis, redis_url: str
) -> None:
    _in_redis(redis_url, _running_session("room-1", Mode.MIX))
    code, out, err = _run(capsys, "record", "room-1", "--mode", "individual")
    assert (code, out) == (1, "")
    assert err.count("\n") == 1
    assert err.startswith("autorec: error: a mix recording")
    assert _override(store, "room-1") is None


def test_an_unknown_mode_is_one_line_naming_the_mode_and_exit_2(
    capsys: pytest.CaptureFixture[str], store: redis.Redis
) -> None:
    code, out, err = _run(capsys, "record", "room-1", "--mode", "x")
    assert (code, out) == (2, "")
    assert err.count("\n") == 1
    assert "--mode" in err
    assert _override(store, "room-1") is None


def test_web_mode_without_a_web_url_is_one_line_naming_web_url_and_exit_2(
    capsys: pytest.CaptureFixture[str], store: redis.Redis
) -> None:
    code, out, err = _run(capsys, "record", "room-1", "--mode", "web")
    assert (code, out) == (2, "")
    assert err.count("\n") == 1
    assert err.startswith("autorec: web_url: ")
    assert _override(store, "room-1") is None
    assert _queued_jobs(store) == []


def test_web_mode_with_a_web_url_is_accepted(
    capsys: pytest.CaptureFixture[str], store: redis.Redis
) -> None:
    url = "https://app.example/rooms/{channel}"
    assert _run(capsys, "record", "room-1", "--mode", "web", "--web-url", url)[0] == 0
    override = _override(store, "room-1")
    assert override is not None
    assert override.policy_fields == {"mode": "web", "web_url": url}


def test_a_wait_longer_than_30_seconds_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(capsys, "record", "room-1", "--wait", "31")
    assert code == 2
    assert "--wait: must be at most 30 s" in err


def test_a_channel_given_after_wait_is_explained(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(capsys, "record", "--wait", "room-1")
    assert code == 2
    assert "put --wait after CHANNEL" in err


# --- stop and auto ------------------------------------------------------------------------


def _occupied(store: redis.Redis, channel: str) -> None:
    """The channel as the occupancy script leaves it with one host in it."""
    store.hset(
        keys.channel(channel),
        mapping={"occupancy": 1, "desired": 1, "gen": 1, "hosts": 1, "audience": 0},
    )


def test_stop_sets_a_never_override_until_the_channel_is_next_empty(
    capsys: pytest.CaptureFixture[str], store: redis.Redis
) -> None:
    _occupied(store, "room-1")
    code, _, err = _run(capsys, "stop", "room-1")
    assert (code, err) == (0, "")
    override = _override(store, "room-1")
    assert override is not None
    assert (override.record, override.until_empty) == (Record.NEVER, True)
    assert [job.split(":")[1] for job in _queued_jobs(store)] == ["room-1"]


def test_stop_of_a_recording_shows_that_the_stop_is_wanted(
    capsys: pytest.CaptureFixture[str], store: redis.Redis, redis_url: str
) -> None:
    _in_redis(redis_url, _running_session("room-1"))
    code, out, _ = _run(capsys, "stop", "room-1")
    assert code == 0
    assert out == (
        f"room-1: recording, stop wanted · sid {SID} · mix · 0 users · "
        "override never until the channel is next empty\n"
    )


def test_stop_and_wait_with_nothing_recording_says_so_at_once(
    capsys: pytest.CaptureFixture[str], store: redis.Redis
) -> None:
    code, out, _ = _run(capsys, "stop", "room-1", "--wait")
    assert code == 0
    assert out.splitlines()[-1] == "room-1: nothing was recording"


def test_auto_removes_the_override_and_wakes_the_channel(
    capsys: pytest.CaptureFixture[str], store: redis.Redis
) -> None:
    _occupied(store, "room-1")
    assert _run(capsys, "stop", "room-1")[0] == 0
    store.delete("arq:queue")
    code, out, err = _run(capsys, "auto", "room-1")
    assert (code, err) == (0, "")
    assert _override(store, "room-1") is None
    assert not store.zscore(keys.OVERRIDES, "room-1")
    assert len(_queued_jobs(store)) == 1
    assert out == "room-1: idle, recording wanted · 1 user · automatic\n"


def test_auto_without_an_override_says_there_was_none(
    capsys: pytest.CaptureFixture[str], store: redis.Redis
) -> None:
    code, out, _ = _run(capsys, "auto", "room-1")
    assert code == 0
    assert out.splitlines()[0] == "room-1: had no override"


# --- recordings ---------------------------------------------------------------------------


def test_recordings_lists_the_catalog_newest_first_as_a_table(
    capsys: pytest.CaptureFixture[str], store: redis.Redis, redis_url: str
) -> None:
    _in_redis(redis_url, _appended(_entry("room-1", 1), _entry("room-2", 2)))
    code, out, err = _run(capsys, "recordings")
    assert (code, err) == (0, "")
    rows = [line.split() for line in out.splitlines() if line.strip().startswith("0000")]
    assert rows == [
        [f"{2:032x}", "room-2", "mix", "both", "2023-11-14", "22:15:20", "1:05", "stopped",
         "empty", "2", "uploaded"],
        [f"{1:032x}", "room-1", "mix", "both", "2023-11-14", "22:14:20", "1:05", "stopped",
         "empty", "2", "uploaded"],
    ]  # fmt: skip


def test_recordings_of_one_channel_and_a_limit(
    capsys: pytest.CaptureFixture[str], store: redis.Redis, redis_url: str
) -> None:
    entries = [_entry("room-1", n) for n in range(1, 4)] + [_entry("room-2", 4)]
    _in_redis(redis_url, _appended(*entries))
    code, out, _ = _run(capsys, "recordings", "--channel", "room-1", "--limit", "2", "--json")
    assert code == 0
    assert [r["id"] for r in orjson.loads(out)] == [f"{3:032x}", f"{2:032x}"]


def test_recordings_as_json_are_recording_objects_with_rfc3339_times(
    capsys: pytest.CaptureFixture[str], store: redis.Redis, redis_url: str
) -> None:
    failed = _entry(
        "room-1", 1, outcome=Outcome.START_FAILED, sid=None, started_ms=None, files=(),
        uploading_status=None, stop_reason=None, last_error="HTTP 400 code 2: invalid appid",
    )  # fmt: skip
    _in_redis(redis_url, _appended(failed))
    code, out, _ = _run(capsys, "recordings", "--json")
    assert code == 0
    [recording] = orjson.loads(out)
    assert recording["id"] == f"r{T0_MS + 60_000}-4200000001"
    assert recording["stopped_at"] == "2023-11-14T22:15:25Z"
    assert (recording["outcome"], recording["stop_reason"], recording["started_at"]) == (
        "failed", None, None,
    )  # fmt: skip
    assert recording["error"] == {"status": 400, "code": 2, "reason": "invalid appid"}
    assert recording["files"] == []


def test_recordings_as_json_lines_print_one_object_per_line(
    capsys: pytest.CaptureFixture[str], store: redis.Redis, redis_url: str
) -> None:
    _in_redis(redis_url, _appended(_entry("room-1", 1), _entry("room-1", 2)))
    code, out, _ = _run(capsys, "recordings", "--jsonl")
    assert code == 0
    lines = out.splitlines()
    assert [orjson.loads(line)["started_at"] for line in lines] == [
        "2023-11-14T22:15:20Z",
        "2023-11-14T22:14:20Z",
    ]
    assert orjson.loads(lines[0])["files"][0] == {
        "filename": "a.m3u8", "track_type": None, "uid": None, "mixed_all_user": None,
        "is_playable": None, "slice_start_time": None,
    }  # fmt: skip


def test_an_empty_catalog_says_there_are_no_recordings(
    capsys: pytest.CaptureFixture[str], store: redis.Redis
) -> None:
    assert _run(capsys, "recordings") == (0, "No recordings.\n", "")
    assert _run(capsys, "recordings", "--json") == (0, "[]\n", "")


# --- Redis down, help -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "argv", [["record", "room-1"], ["stop", "room-1"], ["auto", "room-1"], ["recordings"]]
)
def test_unreachable_redis_is_one_line_and_exit_1_without_the_password(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, argv: list[str]
) -> None:
    monkeypatch.setenv("REDIS_URL", f"redis://:hunter22@127.0.0.1:{free_port()}/0")
    code, out, err = _run(capsys, *argv)
    assert (code, out) == (1, "")
    assert err.count("\n") == 1
    assert err.startswith("autorec: error: cannot reach Redis at redis://:***@127.0.0.1")
    assert "hunter22" not in err


@pytest.mark.parametrize(
    ("command", "says"),
    [
        ("record", "--max-duration-s"),
        ("stop", "until the channel is next empty"),
        ("auto", "automatic"),
        ("recordings", "--json"),
    ],
)
def test_each_command_has_help(capsys: pytest.CaptureFixture[str], command: str, says: str) -> None:
    code, out, _ = _run(capsys, command, "--help")
    text = " ".join(out.split())  # argparse wraps to the terminal's width
    assert code == 0
    assert says in text
    assert f"Example: autorec {command}" in text


def test_the_installed_command_records_with_no_agora_credentials(
    store: redis.Redis, redis_url: str, tmp_path: Path
) -> None:
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("AGORA_", "AUTOREC_", "STORAGE_"))
    }
    env["REDIS_URL"] = redis_url
    result = subprocess.run(
        [AUTOREC, "record", "room-1", "--streams", "audio"], env=env, capture_output=True,
        text=True, timeout=30, cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("room-1: idle, recording wanted")
    assert _override(store, "room-1") is not None
