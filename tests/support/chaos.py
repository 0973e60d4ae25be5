"""Running the chaos bench from a synchronous fixture (a module-scoped fixture has no event
loop of its own under pytest-asyncio's function-scoped loops)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from bench.chaos.actors import ChaosOptions
from bench.chaos.run import Report, run_chaos


def run_once(options: ChaosOptions, log_dir: Path) -> Report:
    """One chaos run in a fresh event loop; every process it started is gone on return."""
    return asyncio.run(run_chaos(options, log_dir))
