"""REDIS_URL as one server or a Sentinel set: parsing, settings, and clients that follow the
primary through a switchover (real `redis-server` processes, three Sentinels)."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from arq.connections import RedisSettings
from hypothesis import given
from hypothesis import strategies as st

from tests.support.sentinel import sentinel_set
from tests.support.waiting import eventually
from webhooks.app import connect_redis
from webhooks.enqueue import EventQueue
from webhooks.errors import QueueUnavailable
from worker import keys
from worker.main import worker_settings
from worker.redis_target import parse_redis_url, redact_url
from worker.settings import ConfigError, Settings
from worker.state.connection import (
    WORKER_TIMEOUTS,
    SentinelArqRedis,
    arq_pool,
    arq_settings,
    connect,
)

SENTINEL_URL = "redis+sentinel://:hunter2hunter2@10.0.0.1:26380,10.0.0.2,[::1]:26381/prod/3"
STREAM = "autorec:test-events"

# --- parsing --------------------------------------------------------------------------


def test_a_sentinel_url_names_the_sentinels_the_master_the_database_and_the_password() -> None:
    target = parse_redis_url(SENTINEL_URL)
    assert target.is_sentinel
    assert target.sentinels == (("10.0.0.1", 26380), ("10.0.0.2", 26379), ("::1", 26381))
    assert (target.master, target.db, target.password, target.username) == (
        "prod",
        3,
        "hunter2hunter2",
        None,
    )
    assert not target.ssl
    assert "hunter2hunter2" not in repr(target)


@given(
    sentinels=st.lists(
        st.tuples(st.from_regex(r"[a-z][a-z0-9.-]{0,20}", fullmatch=True), st.integers(1, 65535)),
        min_size=1,
        max_size=5,
    ),
    master=st.from_regex(r"[A-Za-z0-9._-]{1,20}", fullmatch=True),
    db=st.integers(0, 15),
    password=st.text(min_size=1, max_size=20),
)
def test_any_sentinel_list_master_database_and_password_read_back_as_written(
    sentinels: list[tuple[str, int]], master: str, db: int, password: str
) -> None:
    hosts = ",".join(f"{host}:{port}" for host, port in sentinels)
    url = f"redis+sentinel://:{quote(password, safe='')}@{hosts}/{master}/{db}"
    target = parse_redis_url(url)
    assert target.sentinels == tuple(sentinels)
    assert (target.master, target.db, target.password) == (master, db, password)
    assert redact_url(url) == f"redis+sentinel://:***@{hosts}/{master}/{db}"


def test_a_sentinel_url_without_a_database_uses_database_0_and_rediss_asks_for_tls() -> None:
    target = parse_redis_url("rediss+sentinel://app:pw@s1:26379/mymaster")
    assert (target.db, target.username, target.ssl) == (0, "app", True)


def test_a_plain_url_is_one_server() -> None:
    target = parse_redis_url("redis://:pw@cache.internal:6390/2")
    assert not target.is_sentinel
    assert target.url == "redis://:pw@cache.internal:6390/2"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("localhost:6379", "must start with"),
        ("http://:hunter2@x/0", "must start with"),
        ("redis://:hunter2@localhost:notaport/0", "port"),
        ("redis://:hunter2@localhost:6379/zero", "database"),
        ("redis+sentinel://:hunter2@s1:26379", "names no Sentinel master"),
        ("redis+sentinel://:hunter2@s1:26379/", "names no Sentinel master"),
        ("redis+sentinel://:hunter2@s1:port/mymaster", "HOST:PORT"),
        ("redis+sentinel://:hunter2@s1,,s2/mymaster", "HOST:PORT"),
        ("redis+sentinel://:hunter2@s1/mymaster/one", "database"),
        ("redis+sentinel://:hunter2@s1/mymaster/0/extra", "/MASTER or /MASTER/DB"),
        ("redis+sentinel://:hunter2@s1/my%20master", "master name"),
        ("redis+sentinel://:hunter2@s1/mymaster?db=1", "no query"),
    ],
)
def test_a_bad_redis_url_is_one_line_naming_the_variable_without_the_password(
    url: str, message: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        Settings.load(_env_file=None, redis_url=url)
    text = str(caught.value)
    assert text.startswith("REDIS_URL: ")
    assert message in text
    assert "\n" not in text
    assert "hunter2" not in text


def test_redact_url_hides_the_password_of_a_sentinel_url() -> None:
    assert redact_url(SENTINEL_URL) == (
        "redis+sentinel://:***@10.0.0.1:26380,10.0.0.2,[::1]:26381/prod/3"
    )


def test_a_sentinel_url_makes_the_webhook_service_wait_for_a_replica_by_default() -> None:
    assert Settings(_env_file=None, redis_url=SENTINEL_URL).replica_ack_timeout_ms == 250
    assert Settings(_env_file=None, redis_url="redis://r:6379/0").replica_ack_timeout_ms == 0
    chosen = Settings(
        _env_file=None, redis_url=SENTINEL_URL, autorec_replica_ack_timeout_ms=0
    ).replica_ack_timeout_ms
    assert chosen == 0


# --- what arq gets --------------------------------------------------------------------


def test_arq_settings_of_a_sentinel_url_name_the_sentinels_and_the_master() -> None:
    settings = arq_settings(parse_redis_url(SENTINEL_URL))
    assert settings.sentinel
    assert settings.host == [("10.0.0.1", 26380), ("10.0.0.2", 26379), ("::1", 26381)]
    assert (settings.sentinel_master, settings.database, settings.password) == (
        "prod",
        3,
        "hunter2hunter2",
    )


async def test_the_worker_gets_an_arq_pool_that_follows_the_sentinels() -> None:
    options = worker_settings(Settings(_env_file=None, redis_url=SENTINEL_URL))
    assert isinstance(options["redis_settings"], RedisSettings)
    pool = options["redis_pool"]
    assert isinstance(pool, SentinelArqRedis)
    await pool.aclose()


def test_a_plain_url_leaves_the_arq_pool_to_arq() -> None:
    options = worker_settings(Settings(_env_file=None, redis_url="redis://r:6390/2"))
    assert "redis_pool" not in options
    with pytest.raises(ValueError, match="Sentinel"):
        arq_pool(parse_redis_url("redis://r:6390/2"))


# --- against a real Sentinel set ------------------------------------------------------


async def test_the_worker_and_webhook_clients_write_to_the_new_primary_after_a_switchover() -> None:
    async with sentinel_set() as cluster:
        target = parse_redis_url(cluster.url)
        worker_client = connect(target, WORKER_TIMEOUTS)
        webhook_client = connect_redis(target)
        queue = EventQueue(webhook_client, stream=STREAM, dedupe_ttl_s=3600, stream_maxlen=1000)
        try:
            await queue.load_script()
            await worker_client.set("before", "1")
            assert await queue.enqueue("agora", "n1", {"n": 1})
            await cluster.switchover()
            # The pooled connections still reach the old primary, now a replica: a write
            # meets READONLY, the connection is dropped and the retry asks for the primary.
            await worker_client.set("after", "1")

            async def accepted() -> bool:
                try:
                    return await queue.enqueue("agora", "n2", {"n": 2})
                except QueueUnavailable:
                    return False  # the sender retries, as NCS does

            await eventually(accepted, what="the event on the new primary", timeout_s=10)
        finally:
            await queue.aclose()
            for client in (worker_client, webhook_client):
                await client.aclose()  # type: ignore[attr-defined]  # stubs predate redis 5
        new_primary = cluster.replica.client()
        try:
            assert await new_primary.mget("before", "after") == [b"1", b"1"]
            assert await new_primary.xlen(STREAM) == 2
            assert await new_primary.exists(keys.dedupe("agora", "n2"))
        finally:
            await new_primary.aclose()
