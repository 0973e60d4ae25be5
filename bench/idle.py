"""Idle cost: CPU of the stack's processes while no event arrives.

`measure_idle` samples the CPU time (user + system) of given processes over a window and
gives each as a percentage of one core. `polling_worker` runs, beside the stack's own
worker, the baseline: arq's own polling worker (`arq worker.main.WorkerSettings`) with the
poll delay the service used before it waited for work (5 ms).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import AsyncIterator, Mapping
from pathlib import Path

import psutil

#: The poll delay of the baseline: what `autorec worker` polled at before it waited.
BASELINE_POLL_DELAY_S = 0.005
#: Time a freshly started process gets to finish its startup before it is measured.
SETTLE_S = 3.0


def _cpu_s(process: psutil.Process) -> float:
    times = process.cpu_times()
    return float(times.user + times.system)


async def measure_idle(pids: Mapping[str, int], seconds: float) -> dict[str, float]:
    """CPU of each process over `seconds`, in percent of one core, by name."""
    processes = {name: psutil.Process(pid) for name, pid in pids.items()}
    loop = asyncio.get_running_loop()
    before = {name: _cpu_s(p) for name, p in processes.items()}
    began = loop.time()
    await asyncio.sleep(seconds)
    elapsed = loop.time() - began
    return {name: 100 * (_cpu_s(p) - before[name]) / elapsed for name, p in processes.items()}


@contextlib.asynccontextmanager
async def polling_worker(env: Mapping[str, str], log_path: Path) -> AsyncIterator[int]:
    """arq's polling worker on the stack's Redis (every 5 ms) until the block exits; its pid."""
    worker_env = {
        **env,
        "AUTOREC_POLL_DELAY_S": f"{BASELINE_POLL_DELAY_S:g}",
        "AUTOREC_WORKER_METRICS_PORT": "0",
        "AUTOREC_CONSUMER_NAME": "bench-polling-baseline",
    }
    arq = str(Path(sys.executable).with_name("arq"))
    with log_path.open("a", encoding="utf-8") as log:
        process = await asyncio.create_subprocess_exec(
            arq, "worker.main.WorkerSettings", env=worker_env, stdout=log, stderr=log
        )
        try:
            await asyncio.sleep(SETTLE_S)
            if process.returncode is not None:
                raise RuntimeError(f"the polling baseline worker exited; see {log_path}")
            yield process.pid
        finally:
            if process.returncode is None:
                os.kill(process.pid, signal.SIGTERM)
            await process.wait()
