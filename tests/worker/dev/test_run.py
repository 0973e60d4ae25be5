"""The process supervisor: prefixed logs, readiness waits, and shutdown that leaves nothing."""

from __future__ import annotations

import asyncio
import dataclasses
import io
import re
import signal
import socket
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from tests.support.processes import alive, read_until
from tests.support.waiting import eventually
from worker.dev.readiness import http_ready, redis_ready
from worker.dev.redis_server import RedisServer, free_port
from worker.dev.run import ChildSpec, Supervisor

PY = sys.executable
SLEEP = "import time; time.sleep(60)"
IGNORE_SIGTERM = (
    "import signal; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('up', flush=True); "
)


def _child(name: str, code: str, **kwargs: object) -> ChildSpec:
    return ChildSpec(name, [PY, "-c", code], **kwargs)  # type: ignore[arg-type]


class Run:
    """A supervisor running as a task of the test's loop, writing to a StringIO."""

    def __init__(self, specs: list[ChildSpec], **kwargs: object) -> None:
        self.out = io.StringIO()
        self.supervisor = Supervisor(specs, out=self.out, color=False, **kwargs)  # type: ignore[arg-type]
        self.ready = asyncio.Event()
        self.task = asyncio.create_task(
            self.supervisor.run(on_ready=self.ready.set, handle_signals=False)
        )

    def lines(self) -> list[str]:
        """Output lines as `name | text`, with the name's alignment padding removed."""
        return [re.sub(r"^(\S+) +\| ", r"\1 | ", line) for line in self.out.getvalue().splitlines()]

    async def until_output(self, text: str, count: int = 1) -> None:
        await eventually(lambda: self.out.getvalue().count(text) >= count, what=f"output {text!r}")

    def pid_of(self, name: str) -> int:
        return self.supervisor.pids[name]

    async def stop(self) -> int:
        self.supervisor.request_stop()
        return await asyncio.wait_for(self.task, 20)


async def test_every_output_line_of_a_child_is_prefixed_with_its_name() -> None:
    run = Run([_child("alpha", f"print('one'); print('two', flush=True); {SLEEP}")])
    await run.until_output("two")
    await run.stop()
    assert "alpha | one" in run.lines()
    assert "alpha | two" in run.lines()


async def test_stderr_lines_are_prefixed_like_stdout() -> None:
    code = f"import sys; sys.stderr.write('oops\\n'); sys.stderr.flush(); {SLEEP}"
    run = Run([_child("beta", code)])
    await run.until_output("oops")
    await run.stop()
    assert "beta | oops" in run.lines()


async def test_a_requested_stop_ends_every_child_and_returns_0() -> None:
    run = Run([_child("a", SLEEP), _child("b", SLEEP)])
    await asyncio.wait_for(run.ready.wait(), 20)
    pids = list(run.supervisor.pids.values())
    assert await run.stop() == 0
    assert not [pid for pid in pids if alive(pid)]


async def test_a_child_that_exits_stops_the_others_and_returns_1() -> None:
    run = Run([_child("steady", SLEEP), _child("fragile", "import sys; sys.exit(3)")])
    await asyncio.wait_for(run.ready.wait(), 20)
    steady = run.pid_of("steady")
    assert await asyncio.wait_for(run.task, 20) == 1
    assert "autorec | fragile exited with code 3; stopping everything" in run.lines()
    assert not alive(steady)


async def test_children_are_stopped_in_reverse_start_order() -> None:
    on_term = (
        "import signal, sys, time\n"
        "def bye(*_):\n"
        "    print('bye', time.monotonic_ns(), flush=True); sys.exit(0)\n"
        "signal.signal(signal.SIGTERM, bye)\n"
        "print('up', flush=True)\n"
        "time.sleep(60)\n"
    )
    run = Run([_child("first", on_term), _child("second", on_term)])
    await asyncio.wait_for(run.ready.wait(), 20)
    await run.until_output("| up\n", count=2)
    await run.stop()
    byes = [line for line in run.lines() if "| bye" in line]
    assert [line.split()[0] for line in byes] == ["second", "first"]


async def test_a_child_ignoring_sigterm_is_killed_after_the_grace() -> None:
    code = IGNORE_SIGTERM + SLEEP
    run = Run([_child("stubborn", code)], grace_s=0.3)
    await run.until_output("up")
    pid = run.pid_of("stubborn")
    await run.stop()
    assert "autorec | stubborn did not stop within 0.3 s; killing it" in run.lines()
    assert not alive(pid)


async def test_a_second_stop_request_kills_without_waiting_for_the_grace() -> None:
    code = IGNORE_SIGTERM + SLEEP
    run = Run([_child("stubborn", code)], grace_s=60)
    await run.until_output("up")
    run.supervisor.request_stop()
    run.supervisor.request_stop()
    assert await asyncio.wait_for(run.task, 10) == 0


async def test_a_grandchild_is_stopped_with_its_parent() -> None:
    code = (
        "import subprocess, sys, time\n"
        f"p = subprocess.Popen([sys.executable, '-c', {SLEEP!r}])\n"
        "print('grandchild', p.pid, flush=True)\n"
        "time.sleep(60)\n"
    )
    run = Run([_child("parent", code)])
    await run.until_output("grandchild")
    line = next(line for line in run.lines() if "| grandchild" in line)
    grandchild = int(line.split()[-1])
    await run.stop()
    await eventually(lambda: not alive(grandchild), what="grandchild gone")


async def test_the_next_child_starts_only_once_the_previous_is_ready(tmp_path: Path) -> None:
    flag = tmp_path / "ready"
    slow = f"import pathlib, time; time.sleep(0.3); pathlib.Path({str(flag)!r}).touch(); {SLEEP}"

    async def flag_exists() -> bool:
        return flag.exists()

    after = f"import os; print('saw flag', os.path.exists({str(flag)!r}), flush=True); {SLEEP}"
    run = Run([_child("slow", slow, ready_check=flag_exists), _child("after", after)])
    await run.until_output("saw flag")
    await run.stop()
    assert "after | saw flag True" in run.lines()


async def test_a_child_that_never_becomes_ready_fails_the_start_naming_it() -> None:
    async def never() -> bool:
        return False

    run = Run([_child("lazy", SLEEP, ready_check=never, ready_timeout_s=0.3)])
    assert await asyncio.wait_for(run.task, 20) == 1
    assert "autorec | lazy was not ready after 0.3 s; stopping" in run.lines()
    assert not run.ready.is_set()


async def test_a_child_that_exits_while_starting_fails_the_start() -> None:
    async def never() -> bool:
        return False

    run = Run([_child("broken", "import sys; sys.exit(4)", ready_check=never)])
    assert await asyncio.wait_for(run.task, 20) == 1
    assert "autorec | broken exited with code 4 while starting; stopping" in run.lines()


async def test_a_stopped_http_child_releases_its_port() -> None:
    port = free_port()
    argv = [PY, "-m", "http.server", str(port), "--bind", "127.0.0.1"]
    spec = ChildSpec("http", argv, ready_check=http_ready(f"http://127.0.0.1:{port}/"))
    run = Run([spec])
    await asyncio.wait_for(run.ready.wait(), 20)
    await run.stop()
    with socket.socket() as sock:
        # What any server does; fails only while some socket still listens on the port.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", port))
        sock.listen()


async def test_http_ready_is_false_while_nothing_listens() -> None:
    assert not await http_ready(f"http://127.0.0.1:{free_port()}/")()


async def test_redis_ready_is_true_for_a_live_server(
    redis_server_factory: Callable[..., RedisServer],
) -> None:
    server = redis_server_factory()
    assert await redis_ready("127.0.0.1", server.port)()


async def test_redis_ready_is_false_while_nothing_listens() -> None:
    assert not await redis_ready("127.0.0.1", free_port())()


def test_child_names_must_be_unique() -> None:
    with pytest.raises(ValueError, match="unique"):
        Supervisor([_child("a", SLEEP), _child("a", SLEEP)])


_SCRIPT = """
import asyncio, sys
from worker.dev.run import ChildSpec, Supervisor
sleep = "import os, time; print('pid', os.getpid(), flush=True); time.sleep(60)"
specs = [ChildSpec(name, [sys.executable, "-c", sleep]) for name in ("one", "two")]
supervisor = Supervisor(specs, color=False)
sys.exit(asyncio.run(supervisor.run(on_ready=lambda: print("READY", flush=True))))
"""


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP])
async def test_a_signal_to_the_supervisor_stops_every_child(signum: signal.Signals) -> None:
    proc = await asyncio.create_subprocess_exec(
        PY, "-c", _SCRIPT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    assert proc.stdout is not None
    try:
        lines = await read_until(
            proc.stdout, lambda seen: "READY" in seen and sum("| pid" in s for s in seen) == 2
        )
    except BaseException:
        proc.kill()
        raise
    children = [int(line.split()[-1]) for line in lines if "| pid" in line]
    assert len(children) == 2
    proc.send_signal(signum)
    assert await asyncio.wait_for(proc.wait(), 20) == 0
    assert not [pid for pid in children if alive(pid)]


async def test_children_stop_even_when_the_supervisor_is_killed() -> None:
    proc = await asyncio.create_subprocess_exec(
        PY, "-c", _SCRIPT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    assert proc.stdout is not None
    lines = await read_until(
        proc.stdout, lambda seen: "READY" in seen and sum("| pid" in s for s in seen) == 2
    )
    children = [int(line.split()[-1]) for line in lines if "| pid" in line]
    proc.kill()
    await proc.wait()
    await eventually(lambda: not [pid for pid in children if alive(pid)], what="every child gone")


def _crash_on_request(directory: Path) -> str:
    """A child that counts its runs; its first run waits for the file `crash` and exits 1,
    later runs exit 1 at once while `crash-again` exists, else sleep."""
    return (
        "import pathlib, sys, time\n"
        f"d = pathlib.Path({str(directory)!r})\n"
        "runs = d / 'runs'\n"
        "n = len(runs.read_text()) + 1 if runs.exists() else 1\n"
        "runs.write_text('x' * n)\n"
        "print('run', n, flush=True)\n"
        "if n == 1:\n"
        "    while not (d / 'crash').exists():\n"
        "        time.sleep(0.01)\n"
        "    sys.exit(1)\n"
        "if (d / 'crash-again').exists():\n"
        "    sys.exit(1)\n"
        "time.sleep(60)\n"
    )


def _runs_exist(directory: Path) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return (directory / "runs").exists()

    return check


async def test_a_restartable_child_that_exits_after_it_was_up_is_started_again(
    tmp_path: Path,
) -> None:
    spec = _child("flaky", _crash_on_request(tmp_path), ready_check=_runs_exist(tmp_path))
    spec = dataclasses.replace(spec, restarts=3)
    run = Run([_child("steady", SLEEP), spec], restart_delay_s=0.05)
    await asyncio.wait_for(run.ready.wait(), 20)
    steady, first = run.pid_of("steady"), run.pid_of("flaky")
    (tmp_path / "crash").touch()
    await run.until_output("| run 2")
    second = run.pid_of("flaky")
    assert second != first
    assert not alive(first)
    assert alive(steady)
    assert "autorec | flaky exited with code 1; restarting it in 0.05 s (restart 1 of 3)" in (
        run.lines()
    )
    assert f"autorec | restarted flaky (pid {second})" in run.lines()
    assert not run.task.done()
    assert await run.stop() == 0
    assert not [pid for pid in (steady, second) if alive(pid)]


async def test_a_child_that_keeps_exiting_stops_everything_after_its_restarts(
    tmp_path: Path,
) -> None:
    spec = _child("flaky", _crash_on_request(tmp_path), ready_check=_runs_exist(tmp_path))
    spec = dataclasses.replace(spec, restarts=2)
    run = Run([_child("steady", SLEEP), spec], restart_delay_s=0.05)
    await asyncio.wait_for(run.ready.wait(), 20)
    steady = run.pid_of("steady")
    (tmp_path / "crash-again").touch()
    (tmp_path / "crash").touch()
    assert await asyncio.wait_for(run.task, 20) == 1
    lines = run.lines()
    assert "autorec | flaky exited with code 1; restarting it in 0.05 s (restart 1 of 2)" in lines
    assert "autorec | flaky exited with code 1; restarting it in 0.1 s (restart 2 of 2)" in lines
    assert "autorec | flaky exited with code 1; stopping everything" in lines
    assert [line for line in lines if line.startswith("flaky | run")] == [
        "flaky | run 1",
        "flaky | run 2",
        "flaky | run 3",
    ]
    assert not alive(steady)


async def test_a_restartable_child_that_exits_while_starting_still_fails_the_start() -> None:
    async def never() -> bool:
        return False

    spec = _child("broken", "import sys; sys.exit(4)", ready_check=never)
    run = Run([dataclasses.replace(spec, restarts=5)], restart_delay_s=0.05)
    assert await asyncio.wait_for(run.task, 20) == 1
    assert "autorec | broken exited with code 4 while starting; stopping" in run.lines()
    assert not [line for line in run.lines() if "restart" in line]
