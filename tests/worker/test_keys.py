"""Key names are stored data: the same strings from one release to the next."""

from __future__ import annotations

from worker import keys


def test_channel_keys_share_the_channels_escaped_prefix() -> None:
    assert keys.channel("a:b%") == "autorec:ch:a%3Ab%25"
    assert keys.channel_members("a:b%") == "autorec:ch:a%3Ab%25:m"
    assert keys.channel_tombstones("a:b%") == "autorec:ch:a%3Ab%25:t"
    assert keys.channel_recorders("a:b%") == "autorec:ch:a%3Ab%25:r"


def test_a_channel_named_like_another_channels_key_gets_keys_of_its_own() -> None:
    assert keys.channel("a:t") != keys.channel_tombstones("a")
    assert keys.channel_recorders("a:r") != keys.channel_recorders("a")


def test_shared_keys_keep_their_names() -> None:
    assert (keys.RECONCILE_DUE, keys.IDLE_CURSOR, keys.HEAL_CURSOR) == (
        "autorec:reconcile:due",
        "autorec:idle:cursor",
        "autorec:heal:cursor",
    )
    assert keys.rate_limit_seq(keys.RATE_LIMIT) == "autorec:qps:seq"
