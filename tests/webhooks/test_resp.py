"""The pre-encoded enqueue command is byte-for-byte what a Redis client would send."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from redis.asyncio.connection import Connection

from webhooks.resp import EnqueueCommand, FieldValue, command
from worker import keys

SHA = "65dcf4d35fbe7cd4620dd2e4d1ec7ea49cd5ad62"

values = st.one_of(st.binary(max_size=300), st.text(max_size=100), st.integers(0, 2**63))
names = st.text(min_size=1, max_size=12)


def _packed(*args: FieldValue) -> bytes:
    return b"".join(Connection().pack_command(*args))


@given(
    event_id=st.text(min_size=1, max_size=80),
    fields=st.dictionaries(names, values, max_size=4),
    ttl_s=st.integers(60, 10**7),
    maxlen=st.integers(1000, 10**9),
)
def test_enqueue_command_matches_redis_py_packing(
    event_id: str, fields: dict[str, FieldValue], ttl_s: int, maxlen: int
) -> None:
    encoder = EnqueueCommand(
        sha=SHA, stream="autorec:events", dedupe_ttl_s=ttl_s, stream_maxlen=maxlen
    )
    flat: list[FieldValue] = []
    for name, value in fields.items():
        flat += [name, value]
    expected = _packed(
        "EVALSHA", SHA, 2, keys.dedupe(event_id), "autorec:events", ttl_s, maxlen, *flat
    )
    assert encoder.encode(event_id, fields) == expected
    assert encoder.encode(event_id, fields) == expected  # cached parts give the same bytes


@given(args=st.lists(values, max_size=6))
def test_command_matches_redis_py_packing(args: list[FieldValue]) -> None:
    # redis-py splits the command name on spaces; the name here is a single word.
    assert command("RPUSH", *args) == _packed("RPUSH", *args)


@pytest.mark.parametrize("value", [1.5, None, True])
def test_values_redis_would_misread_are_refused(value: object) -> None:
    with pytest.raises(TypeError, match="cannot encode"):
        command(value)  # type: ignore[arg-type]
