"""Fixtures of the controller tests: the sandbox on a real port, a real Redis, and the
controller stack of tests/support/controller.py built on them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from arq.connections import ArqRedis

from sandbox.config import SandboxConfig
from sandbox.testing import RunningSandbox, running_sandbox
from tests.support.controller import GRACE_S, TIME_SCALE, Stack, build_stack
from worker.controller.metrics import ControllerMetrics, agora_http_client
from worker.policies import parse_policies


@pytest.fixture
def sandbox_config() -> SandboxConfig:
    return SandboxConfig(time_scale=TIME_SCALE, seed=7)


@pytest.fixture
async def sandbox(sandbox_config: SandboxConfig) -> AsyncIterator[RunningSandbox]:
    async with running_sandbox(sandbox_config) as running:
        yield running


@pytest.fixture
def controller_metrics() -> ControllerMetrics:
    return ControllerMetrics.create()


@pytest.fixture
async def http(controller_metrics: ControllerMetrics) -> AsyncIterator[httpx.AsyncClient]:
    async with agora_http_client(controller_metrics) as client:
        yield client


@pytest.fixture
def policy_text() -> str | None:
    return None


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {}


@pytest.fixture
async def stack(
    sandbox: RunningSandbox,
    redis_url: str,
    arq_pool: ArqRedis,
    http: httpx.AsyncClient,
    controller_metrics: ControllerMetrics,
    policy_text: str | None,
    settings_overrides: dict[str, Any],
) -> AsyncIterator[Stack]:
    policies = (
        parse_policies(policy_text, default_grace_s=GRACE_S) if policy_text is not None else None
    )
    built = await build_stack(
        sandbox,
        redis_url,
        arq_pool,
        http,
        policies=policies,
        metrics=controller_metrics,
        **settings_overrides,
    )
    try:
        yield built
    finally:
        await built.stop_worker()
