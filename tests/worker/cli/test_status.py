"""`autorec status`: slots, waiting channels, recordings and failures, read from real Redis."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import orjson
import pytest
import redis.asyncio as aioredis
from rich.console import Console

from tests.support.events import add, app_event, consumer, drain
from tests.support.sentinel import sentinel_set
from worker.cli.commands import redis_source
from worker.cli.main import main
from worker.cli.status import MAX_WAITING_SHOWN, StatusReport, read_status, render_status
from worker.dev.redis_server import RedisServer, free_port
from worker.settings import Settings, redact_url
from worker.state.history import Failure, HistoryStore, Outcome, failure_reason
from worker.state.sessions import Session, SessionState, SessionStore
from worker.state.slots import Slots

AUTOREC = str(Path(sys.executable).with_name("autorec"))
SID = "38f8e3cfdc474cd56fc1ceba380d7e1a"


def _settings(redis_url: str, limit: int = 3) -> Settings:
    return Settings(_env_file=None, redis_url=redis_url, autorec_max_recordings=limit)  # type: ignore[call-arg]


def _render(report: StatusReport) -> str:
    out = io.StringIO()
    render_status(report, Console(file=out, width=160, color_system=None))
    return out.getvalue()


async def _now_ms(redis: aioredis.Redis) -> int:
    seconds, micros = await redis.time()
    return int(seconds) * 1000 + int(micros) // 1000


async def _session(
    redis: aioredis.Redis, channel: str, *, started_ago_ms: int | None, sid: str | None = SID
) -> None:
    now = await _now_ms(redis)
    started = None if started_ago_ms is None else now - started_ago_ms
    state = SessionState.RUNNING if started is not None else SessionState.ACQUIRING
    await SessionStore(redis).save(
        Session(
            channel=channel, state=state, uid=4200000001, uid_index=0, mode="mix",
            policy="default", created_ms=now - 70_000, sid=sid if started else None,
            started_ms=started,
        )
    )  # fmt: skip


async def test_status_counts_the_slots_in_use_against_the_limit(
    redis: aioredis.Redis, redis_url: str
) -> None:
    slots = Slots(redis, limit=3)
    await slots.acquire("room-1")
    await slots.acquire("room-2")
    report = await read_status(redis, _settings(redis_url, limit=3))
    assert (report.slots_used, report.slots_limit) == (2, 3)
    assert _render(report).startswith("slots 2/3 used")


async def test_waiting_channels_are_listed_first_in_line_first(
    redis: aioredis.Redis, redis_url: str
) -> None:
    slots = Slots(redis, limit=1)
    for channel in ("room-1", "room-2", "room-3"):
        await slots.acquire(channel)
    report = await read_status(redis, _settings(redis_url, limit=1))
    assert [(row.position, row.channel) for row in report.waiting] == [(1, "room-2"), (2, "room-3")]
    assert "2 waiting" in _render(report)


async def test_a_long_queue_shows_its_head_and_counts_the_rest(
    redis: aioredis.Redis, redis_url: str
) -> None:
    slots = Slots(redis, limit=1)
    for n in range(MAX_WAITING_SHOWN + 6):
        await slots.acquire(f"room-{n}")
    report = await read_status(redis, _settings(redis_url, limit=1))
    assert report.waiting_total == MAX_WAITING_SHOWN + 5
    assert len(report.waiting) == MAX_WAITING_SHOWN
    assert "… and 5 more" in _render(report)


async def test_a_recording_shows_its_recorder_uid_sid_mode_and_duration(
    redis: aioredis.Redis, redis_url: str
) -> None:
    await _session(redis, "room-1", started_ago_ms=65_500)
    report = await read_status(redis, _settings(redis_url))
    [row] = report.recordings
    assert (row.channel, row.state, row.uid, row.sid, row.mode) == (
        "room-1", "running", 4200000001, SID, "mix",
    )  # fmt: skip
    assert row.duration_s is not None
    assert 65 <= row.duration_s < 75
    line = next(line for line in _render(report).splitlines() if "room-1" in line)
    assert line.split() == ["room-1", "running", "—", "4200000001", SID, "mix", "1:05"]


async def test_a_session_not_yet_started_has_no_sid_and_no_duration(
    redis: aioredis.Redis, redis_url: str
) -> None:
    await _session(redis, "room-1", started_ago_ms=None)
    [row] = (await read_status(redis, _settings(redis_url))).recordings
    assert (row.state, row.sid, row.duration_s) == ("acquiring", None, None)


async def test_a_recording_channel_shows_the_users_present(
    redis: aioredis.Redis, redis_url: str
) -> None:
    for uid in (7, 8):
        await add(redis, "event", app_event("user.joined", "room-1", uid=uid, seq=1))
    await drain(consumer(redis))
    await _session(redis, "room-1", started_ago_ms=1000)
    [row] = (await read_status(redis, _settings(redis_url))).recordings
    assert row.users == 2


async def test_recent_failures_are_shown_newest_first(
    redis: aioredis.Redis, redis_url: str
) -> None:
    history = HistoryStore(redis, history_days=1)
    await history.record_failure(Failure("room-1", 1_700_000_000_000, "start", "400 code 2"))
    await history.record_failure(Failure("room-2", 1_700_000_060_000, "stop", "timeout"))
    report = await read_status(redis, _settings(redis_url))
    assert [(f.channel, f.what, f.error) for f in report.failures] == [
        ("room-2", "stop", "timeout"),
        ("room-1", "start", "400 code 2"),
    ]
    rows = [line.split() for line in _render(report).splitlines()]
    newest = rows.index(["2023-11-14", "22:14:20", "room-2", "stop", "timeout"])
    assert rows[newest + 1] == ["2023-11-14", "22:13:20", "room-1", "start", "400", "code", "2"]


async def test_a_failure_that_only_repeats_its_outcome_shows_the_reason_in_words(
    redis: aioredis.Redis, redis_url: str
) -> None:
    history = HistoryStore(redis, history_days=1)
    await history.record_failure(Failure("room-1", 1_700_000_000_000, "exited", "exited"))
    text = _render(await read_status(redis, _settings(redis_url)))
    row = next(line for line in text.splitlines() if "room-1" in line)
    assert " ".join(row.split()[3:]) == "exited the task exited at Agora without our stop"


def test_an_exited_recording_records_what_agora_reported() -> None:
    reason = failure_reason(Outcome.EXITED, last_error=None, exit_status=1, leave_code=2)
    assert reason == (
        "the task exited at Agora without our stop: exit status 1 (abnormal), recorder leave code 2"
    )


def test_a_failures_last_error_is_its_reason() -> None:
    assert failure_reason(Outcome.DIED, last_error="query 404") == "query 404"


async def test_failures_can_be_limited_or_hidden(redis: aioredis.Redis, redis_url: str) -> None:
    history = HistoryStore(redis, history_days=1)
    for n in range(3):
        await history.record_failure(Failure(f"room-{n}", 1_700_000_000_000, "start", "x"))
    assert len((await read_status(redis, _settings(redis_url), failures=2)).failures) == 2
    assert (await read_status(redis, _settings(redis_url), failures=0)).failures == ()


async def test_an_idle_controller_shows_no_recordings_and_no_tables(
    redis: aioredis.Redis, redis_url: str
) -> None:
    text = _render(await read_status(redis, _settings(redis_url, limit=50)))
    assert text.splitlines()[0].startswith("slots 0/50 used · 0 recording sessions")
    assert text.splitlines()[1:] == ["No recordings."]


# --- the command ---------------------------------------------------------------------


def _autorec_status(redis_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("AGORA_", "AUTOREC_", "REDIS_URL", "STORAGE_"))
    }
    env["REDIS_URL"] = redis_url
    return subprocess.run(
        [AUTOREC, "status", *args], env=env, capture_output=True, text=True, timeout=30,
        cwd=Path(__file__).parent,
    )  # fmt: skip


async def test_the_command_prints_the_tables(redis: aioredis.Redis, redis_url: str) -> None:
    await Slots(redis, limit=50).acquire("room-1")
    await _session(redis, "room-1", started_ago_ms=3000)
    result = _autorec_status(redis_url)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[1].startswith("slots 1/50 used")
    assert SID in result.stdout
    assert result.stderr == ""


async def test_the_command_prints_json_on_request(redis: aioredis.Redis, redis_url: str) -> None:
    await Slots(redis, limit=50).acquire("room-1")
    await _session(redis, "room-1", started_ago_ms=3000)
    result = _autorec_status(redis_url, "--json")
    assert result.returncode == 0, result.stderr
    document = orjson.loads(result.stdout)
    assert document["slots"] == {"used": 1, "limit": 50}
    assert [r["sid"] for r in document["recordings"]] == [SID]
    assert document["waiting"] == []
    assert document["failures"] == []


async def test_the_command_reads_the_primary_a_sentinel_url_names() -> None:
    async with sentinel_set() as cluster:
        primary = cluster.primary.client()
        try:
            await Slots(primary, limit=50).acquire("room-1")
        finally:
            await primary.aclose()
        result = _autorec_status(cluster.url)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[1].startswith("slots 1/50 used")


async def test_the_command_says_first_which_redis_it_read_without_the_password(
    redis: aioredis.Redis, redis_url: str
) -> None:
    if not redis_url.startswith("redis://") or "@" in redis_url:
        pytest.skip("needs a plain redis:// URL to add a user to")
    url = redis_url.replace("redis://", "redis://default:unused-secret@", 1)
    await redis.config_set("requirepass", "unused-secret")
    try:
        result = _autorec_status(url)
    finally:
        await redis.config_set("requirepass", "")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == f"Redis {redact_url(url)} (REDIS_URL)"
    assert "unused-secret" not in result.stdout


def test_without_redis_url_the_default_redis_is_named() -> None:
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert redis_source(settings) == (
        "Redis redis://localhost:6379/0 (REDIS_URL is not set: the default)"
    )


def test_unreachable_redis_is_one_line_and_exit_1_without_the_password() -> None:
    result = _autorec_status(f"redis://:hunter22@127.0.0.1:{free_port()}/0")
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith("autorec: error: cannot read Redis at redis://:***@127.0.0.1")
    assert "hunter22" not in result.stderr


def test_a_redis_that_stopped_answering_is_one_line(
    redis_server_factory: Callable[..., RedisServer],
) -> None:
    server = redis_server_factory()
    server.stop()
    result = _autorec_status(server.url)
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1


def test_a_malformed_redis_url_is_a_configuration_error() -> None:
    result = _autorec_status("localhost:6379")
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith("autorec: configuration error: REDIS_URL:")


@pytest.mark.parametrize("value", ["-1", "many", "1001"])
def test_a_bad_failures_count_is_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str], value: str
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["status", "--failures", value])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "--failures" in err


def test_status_has_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["status", "--help"])
    assert exit_info.value.code == 0
    assert "AUTOREC_MAX_RECORDINGS" in capsys.readouterr().out
