"""The demo traffic of `autorec dev --demo`: channels that fill and empty in the sandbox."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from sandbox.config import SandboxConfig
from sandbox.testing import RunningSandbox, running_sandbox
from tests.support.processes import read_until
from tests.support.waiting import eventually
from worker.cli.main import build_parser
from worker.dev.demo import DemoError, DemoPlan, check_loopback, run_demo, summary_line
from worker.dev.redis_server import free_port
from worker.dev.stack import DEMO_GRACE_S, DevOptions, DevStack, plan_dev
from worker.settings import ConfigError, Settings

FAST = DemoPlan(
    channels=2, users_per_channel=2, occupied_s=0.05, empty_s=0.05, step_s=0.01, stagger_s=0,
    summary_every_s=0,
)  # fmt: skip


class DemoRun:
    """The demo running as a task of the test's loop; `lines` is what it printed."""

    def __init__(self, url: str, plan: DemoPlan) -> None:
        self.lines: list[str] = []
        self.stop = asyncio.Event()
        self.task = asyncio.create_task(run_demo(url, plan, stop=self.stop, say=self.lines.append))

    async def until(self, line: str, count: int = 1) -> None:
        await eventually(lambda: self.lines.count(line) >= count, what=f"the line {line!r}")

    async def finish(self) -> None:
        self.stop.set()
        await asyncio.wait_for(self.task, 2)


@pytest.fixture
async def sandbox() -> AsyncIterator[RunningSandbox]:
    async with running_sandbox(SandboxConfig()) as sb:
        yield sb


@contextlib.asynccontextmanager
async def demo(url: str, plan: DemoPlan = FAST) -> AsyncIterator[DemoRun]:
    run = DemoRun(url, plan)
    try:
        yield run
    finally:
        run.stop.set()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(run.task, 2)


def _channel_events(sb: RunningSandbox, channel: str) -> list[int]:
    return [
        event.event_type
        for event in sb.world.ncs_events
        if event.payload.get("channelName") == channel
    ]


async def test_each_channel_of_the_plan_fills_and_empties_in_the_sandbox(
    sandbox: RunningSandbox,
) -> None:
    async with demo(sandbox.url) as run:
        await run.until("user 1102 left demo-2 (0 users in it)")
    for channel in ("demo-1", "demo-2"):
        # Channel create, two joins, two leaves, channel destroy: the NCS events autorec gets.
        assert _channel_events(sandbox, channel)[:6] == [101, 107, 107, 108, 108, 102]


async def test_every_join_and_leave_is_printed_as_one_line(sandbox: RunningSandbox) -> None:
    plan = DemoPlan(channels=1, occupied_s=0.05, empty_s=3600, step_s=0.01, summary_every_s=0)
    async with demo(sandbox.url, plan) as run:
        await run.until("user 1002 left demo-1 (0 users in it)")
    assert run.lines == [
        "user 1001 joined demo-1 (1 user in it)",
        "user 1002 joined demo-1 (2 users in it)",
        "user 1001 left demo-1 (1 user in it)",
        "user 1002 left demo-1 (0 users in it)",
    ]


async def test_the_channels_fill_again_after_resting(sandbox: RunningSandbox) -> None:
    async with demo(sandbox.url) as run:
        await run.until("user 1001 joined demo-1 (1 user in it)", count=2)


async def test_stopping_the_demo_mid_pause_ends_it_at_once(sandbox: RunningSandbox) -> None:
    plan = DemoPlan(channels=1, users_per_channel=1, occupied_s=3600, empty_s=3600)
    run = DemoRun(sandbox.url, plan)
    await run.until("user 1001 joined demo-1 (1 user in it)")
    await run.finish()
    assert run.task.done()


async def test_the_summary_line_reports_the_sandboxs_recordings(sandbox: RunningSandbox) -> None:
    plan = DemoPlan(channels=1, occupied_s=3600, empty_s=3600, summary_every_s=0.02)
    async with demo(sandbox.url, plan) as run:
        await eventually(
            lambda: "sandbox: 0 recordings running; 0 started, 0 ended so far" in run.lines,
            what="a summary line",
        )


def test_the_summary_names_the_channels_recording_and_counts_the_ended() -> None:
    recordings = [
        {"cname": "demo-2", "phase": "running"},
        {"cname": "demo-1", "phase": "running"},
        {"cname": "demo-1", "phase": "exited"},
    ]
    assert summary_line(recordings) == (
        "sandbox: 2 recordings running (demo-1, demo-2); 3 started, 1 ended so far"
    )


async def test_an_unreachable_sandbox_is_reported_and_the_demo_keeps_going() -> None:
    async with demo(f"http://127.0.0.1:{free_port()}") as run:
        await eventually(
            lambda: sum("sandbox unreachable" in line for line in run.lines) >= 2,
            what="two reports of an unreachable sandbox",
        )
        assert not run.task.done()


@pytest.mark.parametrize(
    "url", ["http://10.1.2.3:8090", "http://example.com:8090", "ftp://127.0.0.1:8090", "nowhere"]
)
def test_a_sandbox_off_the_loopback_interface_is_refused(url: str) -> None:
    with pytest.raises(DemoError):
        check_loopback(url)


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:8090/", "http://localhost:8090", "http://[::1]:8090"]
)
def test_a_loopback_sandbox_is_accepted(url: str) -> None:
    assert check_loopback(url) == url.rstrip("/")


@pytest.mark.parametrize(
    "bad",
    [{"channels": 6}, {"channels": 0}, {"users_per_channel": 5}, {"step_s": 0}, {"empty_s": 0}],
)
def test_a_plan_beyond_the_bounds_is_refused(bad: dict[str, float]) -> None:
    with pytest.raises(DemoError):
        DemoPlan(**bad)  # type: ignore[arg-type]


async def test_the_demo_program_runs_until_sigterm_and_exits_0(sandbox: RunningSandbox) -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "worker.dev.demo", "--sandbox-url", sandbox.url,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    assert proc.stdout is not None
    try:
        await read_until(proc.stdout, lambda seen: "user 1001 joined demo-1 (1 user in it)" in seen)
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), 10) == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert (await proc.stdout.read()).decode().strip().endswith("demo stopped")


async def test_the_demo_program_refuses_a_remote_sandbox_with_one_line() -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "worker.dev.demo", "--sandbox-url", "http://10.1.2.3:8090",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), 20)
    assert proc.returncode == 2
    assert out == b""
    assert err.decode().count("\n") == 1
    assert "loopback" in err.decode()


# --- `autorec dev --demo` ----------------------------------------------------------------


def _plan(tmp_path: Path, **settings: object) -> DevStack:
    return plan_dev(
        Settings(_env_file=None, **settings),  # type: ignore[call-arg]
        DevOptions(port=free_port(), demo=True),
        base_env={"PATH": "/usr/bin"},
        data_dir=tmp_path,
    )


def test_dev_demo_adds_a_last_child_that_drives_the_sandbox(tmp_path: Path) -> None:
    stack = _plan(tmp_path)
    names = [child.name for child in stack.children]
    assert names == ["redis", "sandbox", "webhooks", "worker", "demo"]
    sandbox_argv = stack.children[1].argv
    sandbox_url = f"http://127.0.0.1:{sandbox_argv[sandbox_argv.index('--port') + 1]}"
    assert list(stack.children[-1].argv[1:]) == [
        "-m",
        "worker.dev.demo",
        "--sandbox-url",
        sandbox_url,
    ]


def test_dev_demo_shortens_the_empty_channel_grace(tmp_path: Path) -> None:
    worker = next(child for child in _plan(tmp_path).children if child.name == "worker")
    assert worker.env is not None
    assert worker.env["AUTOREC_EMPTY_GRACE_S"] == str(DEMO_GRACE_S)


def test_dev_demo_keeps_a_configured_grace(tmp_path: Path) -> None:
    stack = _plan(tmp_path, autorec_empty_grace_s=42)
    worker = next(child for child in stack.children if child.name == "worker")
    assert worker.env is not None
    assert "AUTOREC_EMPTY_GRACE_S" not in worker.env


@pytest.mark.parametrize(
    ("sandbox", "settings"),
    [
        (False, {}),
        (None, {"agora_app_id": "a" * 32, "agora_customer_id": "c", "agora_customer_secret": "s"}),
    ],
)
def test_dev_demo_on_real_agora_is_a_configuration_error(
    tmp_path: Path, sandbox: bool | None, settings: dict[str, str]
) -> None:
    with pytest.raises(ConfigError, match="--demo"):
        plan_dev(
            Settings(_env_file=None, **settings),  # type: ignore[call-arg, arg-type]
            DevOptions(port=free_port(), demo=True, sandbox=sandbox),
            base_env={},
            data_dir=tmp_path,
        )


def test_dev_help_states_the_demos_grace(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["dev", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert f"grace {DEMO_GRACE_S} s unless AUTOREC_EMPTY_GRACE_S is set" in help_text


def test_dev_on_the_sandbox_gives_the_worker_a_storage_target(tmp_path: Path) -> None:
    worker = next(child for child in _plan(tmp_path).children if child.name == "worker")
    assert worker.env is not None
    settings = Settings(_env_file=None, **{k.lower(): v for k, v in worker.env.items()})  # type: ignore[arg-type]
    assert settings.storage_configured


def test_dev_keeps_a_configured_storage_target(tmp_path: Path) -> None:
    stack = _plan(tmp_path, storage_bucket="mine")
    worker = next(child for child in stack.children if child.name == "worker")
    assert worker.env is not None
    assert "STORAGE_BUCKET" not in worker.env
