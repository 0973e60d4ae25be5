"""Helpers for tests that run real processes: liveness, deadlines, reading output."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Callable
from pathlib import Path


def alive(pid: int) -> bool:
    """Whether a process exists and is not a zombie (a zombie holds no ports or files)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    with contextlib.suppress(OSError):
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] != "Z"
    return True


async def read_until(
    stream: asyncio.StreamReader,
    done: Callable[[list[str]], bool],
    *,
    timeout_s: float = 30.0,
) -> list[str]:
    """Read lines until `done(lines)` holds; fail with the output so far at EOF or deadline."""
    lines: list[str] = []

    async def read() -> None:
        while not done(lines):
            raw = await stream.readline()
            if not raw:
                raise AssertionError("process ended early; output:\n" + "\n".join(lines))
            lines.append(raw.decode("utf-8", "replace").rstrip("\n"))

    try:
        await asyncio.wait_for(read(), timeout_s)
    except TimeoutError:
        raise AssertionError("timed out; output so far:\n" + "\n".join(lines)) from None
    return lines
