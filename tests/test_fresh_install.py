"""The README's two commands, as a newcomer runs them on a fresh machine.

The slow test copies the project to a temporary directory (a fresh checkout), runs the
README's install step there into a new virtual environment, starts the README's run command
(`autorec dev --demo`) on free ports, and watches the sandbox until autorec has started a
recording and stopped one. Then it sends SIGTERM and checks that every process is gone and
every port is free again.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shlex
import shutil
import signal
import socket
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.processes import alive
from tests.support.waiting import eventually
from worker.dev.redis_server import free_port

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
_NOT_COPIED = shutil.ignore_patterns(
    ".venv", ".git", "__pycache__", "*.egg-info", ".mypy_cache", ".pytest_cache",
    ".ruff_cache", "build", "dist",
)  # fmt: skip


def readme_command(name: str) -> str:
    """The one-line shell command in the README's code block between `<!-- NAME:start -->`
    and `<!-- NAME:end -->`."""
    text = README.read_text(encoding="utf-8")
    match = re.search(rf"<!-- {name}:start -->\n(.*?)<!-- {name}:end -->", text, re.DOTALL)
    assert match, f"README.md has no {name}:start/{name}:end markers"
    block = re.fullmatch(r"```(?:bash|sh|console)?\n(.+)\n```\n", match[1], re.DOTALL)
    assert block, f"the {name} markers must hold one fenced code block"
    lines = block[1].splitlines()
    assert len(lines) == 1, f"the {name} block must be one command line, not {lines}"
    return lines[0]


def split_run_command(command: str) -> tuple[str, list[str]]:
    """The README's quick-start line as (install step, run argv)."""
    *install, run = command.split(" && ")
    assert install, "the quick start must install before it runs"
    return " && ".join(install), shlex.split(run)


def test_the_quick_start_installs_into_a_fresh_venv_and_runs_the_demo() -> None:
    install, run = split_run_command(readme_command("quickstart"))
    assert install == "python3 -m venv .venv && .venv/bin/pip install -e ."
    assert run == [".venv/bin/autorec", "dev", "--demo"]


def test_the_readme_test_command_is_the_one_ci_runs() -> None:
    command = readme_command("tests")
    assert command == (
        "python3 -m venv .venv && .venv/bin/pip install -e '.[dev]' && .venv/bin/python -m pytest"
    )
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert "python3 -m venv .venv" in ci
    assert ".venv/bin/python -m pip install --quiet -e '.[dev]'" in ci
    assert ci[-1] == ".venv/bin/python -m pytest"


# --- the fresh install ---------------------------------------------------------------------


@dataclass
class Output:
    """Every line a process printed, collected as it runs (so its pipe never fills)."""

    lines: list[str] = field(default_factory=list)

    def text(self) -> str:
        return "\n".join(self.lines)

    def pids(self) -> dict[str, int]:
        found = (re.search(r"started (\S+) \(pid (\d+)\)", line) for line in self.lines)
        return {m[1]: int(m[2]) for m in found if m}


async def _collect(stream: asyncio.StreamReader, output: Output) -> None:
    while raw := await stream.readline():
        output.lines.append(raw.decode("utf-8", "replace").rstrip("\n"))


def _clean_env() -> dict[str, str]:
    """The environment of a newcomer's shell: no autorec, Agora or Redis configuration."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("AGORA_", "AUTOREC_", "REDIS_URL", "STORAGE_", "SANDBOX_"))
        and name not in ("VIRTUAL_ENV", "PYTHONPATH", "TEST_REDIS_URL")
    }
    env["PATH"] = os.pathsep.join(
        part for part in env.get("PATH", "").split(os.pathsep) if not part.startswith(str(ROOT))
    )
    return env


def _processes_under(directory: Path) -> list[int]:
    """Pids of live processes whose command line mentions `directory` (the copy's venv)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            if str(directory).encode() in (entry / "cmdline").read_bytes() and alive(
                int(entry.name)
            ):
                found.append(int(entry.name))
    return found


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


async def _recordings(client: httpx.AsyncClient, sandbox_url: str) -> list[dict[str, Any]]:
    try:
        response = await client.get(f"{sandbox_url}/_sandbox/recordings")
    except httpx.TransportError:
        return []
    recordings: list[dict[str, Any]] = response.json() if response.status_code == 200 else []
    return recordings


@contextlib.asynccontextmanager
async def _terminated_at_exit(proc: asyncio.subprocess.Process) -> AsyncIterator[None]:
    try:
        yield
    finally:
        if proc.returncode is None:
            proc.terminate()
            try:
                await asyncio.wait_for(proc.wait(), 30)
            except TimeoutError:
                proc.kill()
                await proc.wait()


@pytest.mark.slow
@pytest.mark.timeout(180)
async def test_a_fresh_install_records_the_demo_channels_and_stops_cleanly(
    tmp_path: Path,
) -> None:
    started_s = time.monotonic()
    install, run = split_run_command(readme_command("quickstart"))
    checkout = tmp_path / "autorec"
    shutil.copytree(ROOT, checkout, ignore=_NOT_COPIED)
    env = _clean_env()

    installer = await asyncio.create_subprocess_exec(
        "bash", "-c", install, cwd=checkout, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    log, _ = await asyncio.wait_for(installer.communicate(), 120)
    assert installer.returncode == 0, log.decode(errors="replace")[-4000:]
    assert (checkout / ".venv" / "bin" / "autorec").exists()

    port, sandbox_port = free_port(), free_port()
    argv = [*run, "--port", str(port), "--sandbox-port", str(sandbox_port)]
    proc = await asyncio.create_subprocess_exec(
        *argv, cwd=checkout, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    assert proc.stdout is not None
    output = Output()
    reader = asyncio.create_task(_collect(proc.stdout, output))
    sandbox_url = f"http://127.0.0.1:{sandbox_port}"
    async with _terminated_at_exit(proc), httpx.AsyncClient(timeout=2) as client:
        seen: list[dict[str, Any]] = []

        async def started_and_stopped() -> bool:
            assert proc.returncode is None, output.text()
            seen[:] = await _recordings(client, sandbox_url)
            stopped = [r for r in seen if r.get("exit_reason") == "stopped"]
            return bool(seen) and bool(stopped)

        budget_s = 170 - (time.monotonic() - started_s) - 25
        try:
            await eventually(
                started_and_stopped,
                what="a recording started and stopped by autorec",
                timeout_s=budget_s,
            )
        except AssertionError as exc:
            raise AssertionError(f"{exc}\nrecordings: {seen}\n{output.text()[-6000:]}") from None
        assert any(line.startswith("demo") and " joined demo-" in line for line in output.lines)
        assert any(line.startswith("demo") and " left demo-" in line for line in output.lines)

        pids = output.pids()
        assert set(pids) == {"redis", "sandbox", "webhooks", "worker", "demo"}, output.text()
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), 40) == 0, output.text()[-4000:]
    await asyncio.wait_for(reader, 5)

    assert not [name for name, pid in pids.items() if alive(pid)], output.text()[-4000:]
    assert _processes_under(checkout) == []
    ports = [port, sandbox_port, *_ports_in_summary(output)]
    assert [p for p in ports if not _port_free(p)] == []


def _ports_in_summary(output: Output) -> list[int]:
    """The Redis and metrics ports the summary table shows."""
    text = output.text()
    return [int(p) for p in re.findall(r"(?:redis|http)://127\.0\.0\.1:(\d+)/(?:0|metrics)", text)]
