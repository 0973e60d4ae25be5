"""Fixtures of the end-to-end scenarios: a fresh database and the in-process stack."""

from __future__ import annotations

import functools
from contextlib import AbstractAsyncContextManager
from typing import Any

import pytest
import redis.asyncio as aioredis

from tests.support.e2e.inprocess import InProcessStack, StackFactory, in_process_stack


@pytest.fixture
def stack(redis: aioredis.Redis[bytes], redis_url: str) -> StackFactory:
    """`async with stack(env={...}, sandbox={...}, workers=n) as s:` on a flushed database."""

    def start(**options: Any) -> AbstractAsyncContextManager[InProcessStack]:
        return in_process_stack(redis_url, **options)

    return functools.partial(start)
