"""The process stack: the sandbox, the webhook service and workers as separate processes.

Each child runs exactly as deployed (`python -m sandbox`, `autorec webhooks`, `autorec
worker`), configured only by its environment, in its own process group, with stdout and
stderr captured to a file per child (all of it kept for the secrets check). A worker can be
killed with SIGKILL at any moment and started again under the same consumer name.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.support.e2e.env import StackSecrets, autorec_env
from tests.support.e2e.sandbox_admin import SandboxAdmin
from tests.support.waiting import eventually
from worker.dev.orphan_guard import guarded
from worker.dev.redis_server import free_port

LOOPBACK = "127.0.0.1"
READY_TIMEOUT_S = 20.0
STOP_TIMEOUT_S = 10.0


@dataclass
class Child:
    """One child process and the file its output goes to."""

    name: str
    argv: Sequence[str]
    env: Mapping[str, str]
    log_path: Path
    ready_url: str
    process: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        """Start the child and wait until `ready_url` answers 200."""
        with self.log_path.open("ab") as log:
            self.process = await asyncio.create_subprocess_exec(
                *guarded(self.argv),
                env=dict(self.env),
                # Not the repository: a developer's `.env` there must not reach the children.
                cwd=self.log_path.parent,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                process_group=0,
            )
        process = self.process

        async def ready() -> bool:
            if process.returncode is not None:
                raise AssertionError(f"{self.name} exited while starting:\n{self.output()}")
            try:
                async with httpx.AsyncClient(timeout=1.0) as http:
                    return (await http.get(self.ready_url)).status_code == 200
            except httpx.HTTPError:
                return False

        await eventually(ready, what=f"{self.name} to be ready", timeout_s=READY_TIMEOUT_S)

    async def kill(self) -> None:
        """SIGKILL: no shutdown hook runs, nothing is flushed or released."""
        assert self.process is not None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        await self.process.wait()

    async def stop(self) -> None:
        """SIGTERM the group, SIGKILL it if it lingers."""
        process = self.process
        if process is None:
            return
        if process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(process.wait(), STOP_TIMEOUT_S)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        await process.wait()

    def output(self) -> str:
        """Everything the child printed so far (all its runs)."""
        return self.log_path.read_text(encoding="utf-8", errors="replace")


@dataclass
class ProcessStack:
    """The children of one stack; `admin` talks to the sandbox."""

    secrets: StackSecrets
    env: dict[str, str]
    sandbox: Child
    webhooks: Child
    admin: SandboxAdmin
    log_dir: Path
    workers: dict[str, Child] = field(default_factory=dict)

    def worker(self, name: str) -> Child:
        """A worker child (not started) with a stable consumer name."""
        if name not in self.workers:
            metrics_port = free_port()
            env = {
                **self.env,
                "AUTOREC_CONSUMER_NAME": name,
                "AUTOREC_WORKER_METRICS_PORT": str(metrics_port),
            }
            self.workers[name] = Child(
                name=name,
                argv=[sys.executable, "-m", "worker.cli.main", "worker"],
                env=env,
                log_path=self.log_dir / f"{name}.log",
                ready_url=f"http://{LOOPBACK}:{metrics_port}/metrics",
            )
        return self.workers[name]

    def children(self) -> list[Child]:
        return [self.sandbox, self.webhooks, *self.workers.values()]

    def output(self) -> str:
        """All children's output, each block headed by the child's name."""
        return "\n".join(f"===== {c.name}\n{c.output()}" for c in self.children())


def _base_env() -> dict[str, str]:
    keep = ("PATH", "HOME", "LANG", "LC_ALL", "VIRTUAL_ENV", "TMPDIR")
    return {name: os.environ[name] for name in keep if name in os.environ} | {
        "PYTHONUNBUFFERED": "1"
    }


@contextlib.asynccontextmanager
async def process_stack(
    redis_url: str,
    log_dir: Path,
    *,
    env: Mapping[str, str] | None = None,
    sandbox_env: Mapping[str, str] | None = None,
) -> AsyncIterator[ProcessStack]:
    """Start the sandbox and the webhook service (workers are started by the test)."""
    secrets = StackSecrets.generate()
    sandbox_port, webhooks_port = free_port(), free_port()
    sandbox_url = f"http://{LOOPBACK}:{sandbox_port}"
    webhooks_url = f"http://{LOOPBACK}:{webhooks_port}"
    autorec = _base_env() | autorec_env(
        secrets, redis_url=redis_url, agora_url=sandbox_url, overrides=env
    )
    sandbox = Child(
        name="sandbox",
        argv=[sys.executable, "-m", "sandbox", "--host", LOOPBACK, "--port", str(sandbox_port)],
        env=_base_env()
        | {
            "SANDBOX_APP_ID": secrets.app_id,
            "SANDBOX_APP_CERTIFICATE": secrets.app_certificate,
            "SANDBOX_CUSTOMER_ID": secrets.customer_id,
            "SANDBOX_CUSTOMER_SECRET": secrets.customer_secret,
            "SANDBOX_NCS_SECRET": secrets.ncs_secret,
            "SANDBOX_NCS_URL": f"{webhooks_url}/webhooks/agora",
            "SANDBOX_EXIT_S": "0",
            "SANDBOX_QPS_LIMIT": "0",
            "SANDBOX_SEED": "7",
            **(sandbox_env or {}),
        },
        log_path=log_dir / "sandbox.log",
        ready_url=f"{sandbox_url}/_sandbox/stats",
    )
    webhooks = Child(
        name="webhooks",
        argv=[
            *(sys.executable, "-m", "worker.cli.main", "webhooks"),
            *("--host", LOOPBACK, "--port", str(webhooks_port)),
        ],
        env=autorec,
        log_path=log_dir / "webhooks.log",
        ready_url=f"{webhooks_url}/readyz",
    )
    stack = ProcessStack(
        secrets=secrets,
        env=autorec,
        sandbox=sandbox,
        webhooks=webhooks,
        admin=SandboxAdmin(sandbox_url),
        log_dir=log_dir,
    )
    try:
        await webhooks.start()
        await sandbox.start()
        yield stack
    finally:
        for child in reversed(stack.children()):
            await child.stop()
        await stack.admin.aclose()
