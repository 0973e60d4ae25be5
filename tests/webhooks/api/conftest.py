"""Fixtures of the API tests: the webhook service with both API tokens and an Agora app."""

from __future__ import annotations

import pytest

from tests.support.webhooks import api_settings
from worker.settings import Settings


@pytest.fixture
def settings(redis_url: str) -> Settings:
    """Settings with both API tokens, an app id and certificate (overrides the webhooks')."""
    return api_settings(redis_url)
