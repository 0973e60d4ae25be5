"""The README's API examples work as written: each `curl` line of the "app-facing API"
section is run, unchanged but for the port, against `autorec dev` (processes, sandbox)."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import sys
from pathlib import Path

import pytest

from tests.support.processes import read_until
from worker.dev.redis_server import free_port

ROOT = Path(__file__).resolve().parent.parent
AUTOREC = str(Path(sys.executable).with_name("autorec"))
TOKEN = "readme-examples-token"
README_PORT = "127.0.0.1:8000"


def readme_api_examples() -> list[str]:
    """The shell commands of the README's marked API block (continuation lines joined)."""
    text = (ROOT / "README.md").read_text()
    block = re.search(r"<!-- api-examples:start -->\n```bash\n(.*?)```\n<!-- api-examples:end -->",
                      text, re.S)  # fmt: skip
    assert block is not None, "README.md has no api-examples block"
    joined = block.group(1).replace("\\\n", " ")
    return [line.strip() for line in joined.splitlines() if line.startswith("curl")]


def test_the_readme_lists_an_example_of_every_manual_operation() -> None:
    examples = " ".join(readme_api_examples())
    for needed in ("-X POST", "-X DELETE", "-X PATCH", "-X PUT", "/recordings", "/tokens"):
        assert needed in examples


async def _run(command: str, env: dict[str, str]) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        "bash", "-c", command, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    out, _ = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode is not None
    return proc.returncode, out.decode()


async def test_every_readme_api_example_answers_with_json_against_autorec_dev(
    tmp_path: Path,
) -> None:
    port, sandbox_port = free_port(), free_port()
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("AGORA_", "AUTOREC_", "REDIS_URL"))
    }
    env["AUTOREC_API_TOKEN"] = TOKEN
    argv = [AUTOREC, "dev", "--port", str(port), "--sandbox-port", str(sandbox_port)]
    proc = await asyncio.create_subprocess_exec(
        *argv, env=env, cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    assert proc.stdout is not None
    answers: list[tuple[str, object]] = []
    try:
        await read_until(proc.stdout, lambda seen: any("/metrics " in s for s in seen))
        for example in readme_api_examples():
            command = example.replace(README_PORT, f"127.0.0.1:{port}")
            code, out = await _run(command, env)
            assert code == 0, f"{example}\n{out}"
            answers.append((example, json.loads(out)))
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            await asyncio.wait_for(proc.wait(), 40)
        except TimeoutError:
            proc.kill()
            await proc.wait()
    recorded = answers[0][1]
    assert isinstance(recorded, dict)
    assert recorded["state"] == "recording"
    assert recorded["recording"]["sid"]
    stopped = answers[3][1]
    assert isinstance(stopped, dict)
    assert (stopped["state"], stopped["stop_reason"]) == ("finished", "manual")
    catalog = answers[7][1]
    assert isinstance(catalog, dict)
    assert [r["id"] for r in catalog["recordings"]] == [stopped["id"]]
    token = answers[8][1]
    assert isinstance(token, dict)
    assert token["token"].startswith("007")


@pytest.mark.parametrize("example", readme_api_examples())
def test_every_readme_api_example_carries_the_bearer_token_and_fails_on_an_error(
    example: str,
) -> None:
    assert example.startswith("curl -fsS ")
    assert '"Authorization: Bearer $AUTOREC_API_TOKEN"' in example
