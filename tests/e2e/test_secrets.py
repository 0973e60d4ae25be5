"""I6: no secret ever appears in a log: customer secret, app certificate, NCS secret, events
secret, storage keys, API token, and the recorder tokens autorec generates.

A full run (record, stop, an Agora error on the way) with every secret set to a distinctive
value; then every line any component printed is searched. The Basic-auth header value is
searched too, since it carries the customer secret base64-encoded.
"""

from __future__ import annotations

import base64
import logging
import re
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from tests.support.e2e.checks import assert_converged
from tests.support.e2e.env import StackSecrets
from tests.support.e2e.inprocess import StackFactory
from tests.support.e2e.procstack import process_stack

#: An AccessToken2 ("007" + base64 of zlib data, which starts "eJ").
TOKEN_PATTERN = re.compile(r"007eJ[0-9A-Za-z+/=]{16,}")
HOST = 61


def secret_texts(secrets: StackSecrets) -> dict[str, str]:
    basic = f"{secrets.customer_id}:{secrets.customer_secret}".encode()
    return {**secrets.values(), "Basic auth credentials": base64.b64encode(basic).decode()}


def leaked(text: str, secrets: dict[str, str]) -> list[str]:
    return [name for name, value in secrets.items() if value in text]


async def test_no_secret_or_recorder_token_appears_in_the_logs_of_a_full_run(
    stack: StackFactory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with stack() as s:
        await s.admin.add_fault(endpoint="start", status=503, count=1)
        await s.admin.add_fault(endpoint="stop", status=503, count=1)
        await s.admin.join("secret-room", HOST)
        await assert_converged(s.admin, occupied=["secret-room"])
        await s.admin.leave("secret-room", HOST)
        await assert_converged(s.admin, occupied=[], empty=["secret-room"])
        tokens = {
            f"recorder token of {task.sid}": task.spec.token
            for task in s.sandbox.world.tasks.values()
            if task.spec.token
        }
        secrets = secret_texts(s.secrets)

    assert tokens, "no recorder token was generated"
    text = caplog.text
    assert len(caplog.records) > 50, "the run logged too little to prove anything"
    assert leaked(text, {**secrets, **tokens}) == []
    assert TOKEN_PATTERN.findall(text) == []


@pytest.mark.slow
async def test_no_secret_or_token_appears_in_the_output_of_any_process(
    redis: aioredis.Redis[bytes], redis_url: str, tmp_path: Path
) -> None:
    async with process_stack(redis_url, tmp_path) as s:
        await s.worker("e2e-w1").start()
        await s.admin.add_fault(endpoint="start", status=503, count=1)
        await s.admin.join("secret-room", HOST)
        await assert_converged(s.admin, occupied=["secret-room"])
        await s.admin.leave("secret-room", HOST)
        await assert_converged(s.admin, occupied=[], empty=["secret-room"])
    output = s.output()

    assert "DEBUG" in output, "the processes did not log at DEBUG"
    assert leaked(output, secret_texts(s.secrets)) == []
    assert TOKEN_PATTERN.findall(output) == []
