"""The test Redis is a real, private server: Lua, TIME and streams with consumer groups work,
and the suite never reaches the database that `REDIS_URL` names."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import redis as syncredis
import redis.asyncio as aioredis

from worker.dev.redis_server import RedisServer

ROOT = Path(__file__).resolve().parents[1]

#: Keys a user's Redis holds: the service's own, arq's, and someone else's, in db 0 and db 1.
USER_KEYS = (
    "autorec:events",
    "autorec:session:room-1",
    "autorec:slots",
    "arq:queue",
    "arq:job:reconcile:room-1",
    "app:users",
    "counter",
)

#: A test session of its own: what the fixtures gave it, and what its child processes saw.
INNER_TEST = """
import json
import os
import subprocess
import sys
from pathlib import Path


async def test_inner(redis_url, redis):
    await redis.set("autorec:written-by-a-test", "1")
    child = subprocess.run(
        [sys.executable, "-c", "import os; print(os.environ.get('REDIS_URL', ''))"],
        capture_output=True, text=True, check=True,
    )
    seen = {
        "redis_url": redis_url,
        "environment": os.environ.get("REDIS_URL"),
        "child": child.stdout.strip(),
    }
    Path(os.environ["SEEN_PATH"]).write_text(json.dumps(seen))
"""

#: Runs after the shared conftest has cleaned up: what the process holds once the session ends.
INNER_PLUGIN = """
import os
from pathlib import Path

import pytest


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config):
    Path(os.environ["RESTORED_PATH"]).write_text(os.environ.get("REDIS_URL", ""))
"""

INNER_INI = """[pytest]
asyncio_mode = auto
asyncio_default_fixture_loop_scope = function
"""


def fill(server: RedisServer) -> dict[tuple[int, str], bytes]:
    """Store `USER_KEYS` of several types in db 0 and db 1; the dump of every key."""
    dumps: dict[tuple[int, str], bytes] = {}
    for db in (0, 1):
        with syncredis.Redis(port=server.port, db=db) as client:
            client.xadd("autorec:events", {"type": "user.joined", "channel": "room-1"})
            client.hset("autorec:session:room-1", mapping={"state": "recording", "sid": "s-1"})
            client.zadd("autorec:slots", {"room-1": 1})
            client.zadd("arq:queue", {"reconcile:room-1": 1})
            client.set("arq:job:reconcile:room-1", b"\x80pickled")
            client.sadd("app:users", "alice", "bob")
            client.set("counter", db + 41)
            for key in USER_KEYS:
                dump = client.dump(key)
                assert isinstance(dump, bytes)
                dumps[db, key] = dump
    return dumps


def dump_all(server: RedisServer) -> dict[tuple[int, str], bytes]:
    """The dump of every key in db 0 and db 1."""
    dumps: dict[tuple[int, str], bytes] = {}
    for db in (0, 1):
        with syncredis.Redis(port=server.port, db=db) as client:
            for key in client.scan_iter():
                dump = client.dump(key)
                assert isinstance(dump, bytes)
                dumps[db, key.decode()] = dump
    return dumps


def run_session(tmp_path: Path, **environment: str) -> tuple[dict[str, str | None], str]:
    """Run `INNER_TEST` in a pytest session of its own with the shared conftest and
    `environment`; what the test saw, and the `REDIS_URL` the process held afterwards."""
    (tmp_path / "test_inner.py").write_text(INNER_TEST)
    (tmp_path / "conftest.py").write_text(INNER_PLUGIN)
    (tmp_path / "pytest.ini").write_text(INNER_INI)
    seen_path, restored_path = tmp_path / "seen.json", tmp_path / "restored.txt"
    inherited = {
        name: value
        for name, value in os.environ.items()
        if name not in ("REDIS_URL", "TEST_REDIS_URL", "PYTHONPATH")
    }
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "tests.conftest",
         "--rootdir", str(tmp_path), "-c", str(tmp_path / "pytest.ini"), str(tmp_path)],
        env={
            **inherited,
            "PYTHONPATH": str(ROOT),
            "SEEN_PATH": str(seen_path),
            "RESTORED_PATH": str(restored_path),
            **environment,
        },
        cwd=tmp_path, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads(seen_path.read_text()), restored_path.read_text()


async def test_redis_fixture_runs_lua_with_server_time(redis: aioredis.Redis) -> None:
    now = await redis.eval("return redis.call('TIME')[1]", 0)
    assert int(now) > 1_600_000_000


async def test_redis_fixture_supports_consumer_groups_and_autoclaim(redis: aioredis.Redis) -> None:
    await redis.xgroup_create("s", "g", id="0", mkstream=True)
    await redis.xadd("s", {"k": "v"})
    await redis.xreadgroup("g", "c1", {"s": ">"})
    _, claimed, *_ = await redis.xautoclaim("s", "g", "c2", min_idle_time=0)
    assert len(claimed) == 1


def test_private_server_stops_and_frees_its_port() -> None:
    server = RedisServer().start()
    assert server.ping()
    server.cleanup()
    assert not server.ping()


def test_the_session_does_not_see_redis_url() -> None:
    assert "REDIS_URL" not in os.environ


def test_a_session_with_redis_url_exported_leaves_every_key_of_that_redis_intact(
    tmp_path: Path, redis_server_factory: Callable[..., RedisServer]
) -> None:
    users = redis_server_factory()
    before = fill(users)

    seen, restored = run_session(tmp_path, REDIS_URL=users.url)

    assert dump_all(users) == before
    assert f":{users.port}/" not in str(seen["redis_url"])
    assert seen["environment"] is None
    assert seen["child"] == ""
    assert restored == users.url


def test_a_session_with_test_redis_url_uses_that_server_and_not_redis_url(
    tmp_path: Path, redis_server_factory: Callable[..., RedisServer]
) -> None:
    users, for_tests = redis_server_factory(), redis_server_factory()
    before = fill(users)

    seen, _ = run_session(tmp_path, REDIS_URL=users.url, TEST_REDIS_URL=for_tests.url)

    assert seen["redis_url"] == for_tests.url
    with syncredis.Redis(port=for_tests.port) as client:
        assert client.get("autorec:written-by-a-test") == b"1"
    assert dump_all(users) == before
