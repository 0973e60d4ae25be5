"""Fixtures for the webhook service: settings and the real app over ASGI on a flushed Redis."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from tests.support.webhooks import serve, webhook_settings
from worker.settings import Settings


@pytest.fixture
def settings(redis_url: str) -> Settings:
    """Settings for the session Redis with both webhook secrets configured."""
    return webhook_settings(redis_url)


@pytest.fixture
async def client(settings: Settings, redis: object) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the real app on a freshly flushed Redis."""
    async with serve(settings) as client:
        yield client
