"""RESP encoding of the enqueue command, with everything constant encoded once.

Every webhook runs the same `EVALSHA <sha> 2 <dedupe key> <stream> <ttl> <maxlen> <field>
<value>...`; only the event id and the field values change. Encoding the rest once keeps the
hot path to a few byte joins instead of a generic packer's per-argument work.
"""

from __future__ import annotations

from collections.abc import Mapping

from worker import keys

#: A stream field value as it may be given: bytes as-is, str as UTF-8, int in decimal.
FieldValue = bytes | str | int


def encode_value(value: FieldValue) -> bytes:
    """One argument's bytes, as Redis clients encode them."""
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"cannot encode {type(value).__name__} as a Redis argument")
    return b"%d" % value


def bulk(value: bytes) -> bytes:
    """A RESP bulk string."""
    return b"$%d\r\n%s\r\n" % (len(value), value)


def command(*args: FieldValue) -> bytes:
    """A whole command as a RESP array of bulk strings."""
    return b"*%d\r\n" % len(args) + b"".join(bulk(encode_value(arg)) for arg in args)


class EnqueueCommand:
    """Encodes `EVALSHA` of the enqueue script for one event, reusing the constant parts."""

    __slots__ = ("_heads", "_names", "_sha", "_tail")

    def __init__(self, *, sha: str, stream: str, dedupe_ttl_s: int, stream_maxlen: int) -> None:
        self._sha = bulk(b"EVALSHA") + bulk(sha.encode("ascii")) + bulk(b"2")
        self._tail = bulk(stream.encode("utf-8")) + bulk(b"%d" % dedupe_ttl_s)
        self._tail += bulk(b"%d" % stream_maxlen)
        self._heads: dict[int, bytes] = {}
        self._names: dict[str, bytes] = {}

    def encode(self, event_id: str, fields: Mapping[str, FieldValue]) -> bytes:
        """The command bytes that enqueue `fields` unless `event_id` was seen."""
        head = self._heads.get(len(fields))
        if head is None:
            head = self._heads[len(fields)] = b"*%d\r\n" % (7 + 2 * len(fields)) + self._sha
        parts = [head, bulk(keys.dedupe(event_id).encode("utf-8")), self._tail]
        for name, value in fields.items():
            encoded_name = self._names.get(name)
            if encoded_name is None:
                encoded_name = self._names[name] = bulk(name.encode("utf-8"))
            parts.append(encoded_name)
            parts.append(bulk(encode_value(value)))
        return b"".join(parts)
