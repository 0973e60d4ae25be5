"""A guarded child dies with its parent, even when the parent is killed outright."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from tests.support.processes import alive
from tests.support.waiting import eventually
from worker.dev import orphan_guard

pytestmark = pytest.mark.skipif(not orphan_guard.supported(), reason="needs Linux prctl")

_PARENT = """
import subprocess, sys, time
from worker.dev.orphan_guard import guarded
child = subprocess.Popen(guarded([sys.executable, "-c", "import time; time.sleep(60)"]))
print(child.pid, flush=True)
time.sleep(60)
"""


async def test_a_guarded_child_gets_sigterm_when_its_parent_is_killed() -> None:
    with subprocess.Popen(
        [sys.executable, "-c", _PARENT], stdout=subprocess.PIPE, text=True
    ) as parent:
        assert parent.stdout is not None
        child = int(parent.stdout.readline())
        parent.send_signal(signal.SIGKILL)
    await eventually(lambda: not alive(child), what="the orphaned child gone")


def test_the_guard_keeps_the_pid_of_the_program_it_runs() -> None:
    argv = orphan_guard.guarded([sys.executable, "-c", "import os; print(os.getpid())"])
    with subprocess.Popen(argv, stdout=subprocess.PIPE, text=True) as process:
        out, _ = process.communicate(timeout=30)
    assert int(out) == process.pid


def test_a_program_whose_parent_is_already_gone_does_not_start() -> None:
    not_my_parent = str(os.getpid() + 1_000_000)
    result = subprocess.run(
        [sys.executable, "-m", "worker.dev.orphan_guard", not_my_parent, "echo", "started"],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert (result.returncode, result.stdout) == (orphan_guard.EXIT_PARENT_GONE, "")


def test_an_unknown_program_fails_with_one_line() -> None:
    argv = orphan_guard.guarded(["autorec-no-such-program"])
    result = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    assert result.returncode == orphan_guard.EXIT_CANNOT_RUN
    assert result.stderr == "cannot run autorec-no-such-program: No such file or directory\n"
