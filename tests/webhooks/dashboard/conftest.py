"""Fixtures of the dashboard tests: the real app over ASGI with both API tokens, and a
login helper that returns the session's CSRF token."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from tests.support.webhooks import api_settings, serve
from worker.settings import Settings


@pytest.fixture
def settings(redis_url: str) -> Settings:
    """Settings with both API tokens (and a notification endpoint whose URL is a secret)."""
    return api_settings(
        redis_url, autorec_notify_urls=["https://hooks.example/notify?key=hook-url-secret-4711"]
    )


@pytest.fixture
async def client(settings: Settings, redis: object) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the real app on a freshly flushed Redis (it keeps cookies)."""
    async with serve(settings) as client:
        yield client
