"""The body reader enforces the size limit on declared and streamed bodies alike."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import given
from hypothesis import strategies as st
from starlette.types import Message, Scope

from webhooks.errors import BodyTooLarge
from webhooks.receive import ClientDisconnected, read_body

LIMIT = 1024


def _scope(content_length: int | None = None) -> Scope:
    headers = [] if content_length is None else [(b"content-length", b"%d" % content_length)]
    return {"type": "http", "headers": headers}


class Receiver:
    """An ASGI `receive` that plays back body chunks and remembers what was taken."""

    def __init__(self, chunks: list[bytes], *, disconnect: bool = False) -> None:
        self.messages: list[Message] = [
            {"type": "http.request", "body": chunk, "more_body": n < len(chunks) - 1 or disconnect}
            for n, chunk in enumerate(chunks)
        ]
        if disconnect:
            self.messages.append({"type": "http.disconnect"})
        self.taken: list[Message] = []

    async def __call__(self) -> Message:
        message = self.messages[len(self.taken)]
        self.taken.append(message)
        return message


def _read(chunks: list[bytes], *, declared: int | None = None, disconnect: bool = False) -> bytes:
    receive = Receiver(chunks, disconnect=disconnect)
    return asyncio.run(read_body(_scope(declared), receive, limit_bytes=LIMIT))


@given(chunks=st.lists(st.binary(max_size=300), min_size=1, max_size=8))
def test_any_chunking_within_the_limit_reassembles_the_body(chunks: list[bytes]) -> None:
    body = b"".join(chunks)
    if len(body) > LIMIT:
        with pytest.raises(BodyTooLarge):
            _read(chunks)
    else:
        assert _read(chunks) == body


def test_a_declared_length_over_the_limit_is_refused_before_reading() -> None:
    receive = Receiver([b"x"])
    with pytest.raises(BodyTooLarge, match="larger than 1024 bytes"):
        asyncio.run(read_body(_scope(LIMIT + 1), receive, limit_bytes=LIMIT))
    assert receive.taken == []


def test_a_stream_stops_being_read_at_the_chunk_that_crosses_the_limit() -> None:
    receive = Receiver([b"x" * 400] * 5)
    with pytest.raises(BodyTooLarge):
        asyncio.run(read_body(_scope(), receive, limit_bytes=LIMIT))
    assert len(receive.taken) == 3


def test_a_body_of_exactly_the_limit_is_read() -> None:
    assert _read([b"x" * 1000, b"y" * 24], declared=LIMIT) == b"x" * 1000 + b"y" * 24


def test_a_sender_that_disconnects_mid_body_is_reported() -> None:
    with pytest.raises(ClientDisconnected):
        _read([b"partial"], disconnect=True)
