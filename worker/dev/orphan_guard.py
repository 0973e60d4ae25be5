"""`python -m worker.dev.orphan_guard PARENT_PID PROGRAM [ARGS...]`: exec PROGRAM so that the
kernel sends it SIGTERM when its parent dies, even by SIGKILL (Linux `PR_SET_PDEATHSIG`).

The supervisor of `autorec dev` starts its children through this launcher, so no child
outlives it. Elsewhere than Linux, `guarded()` returns the command unchanged.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
from collections.abc import Sequence
from typing import NoReturn

_PR_SET_PDEATHSIG = 1
EXIT_PARENT_GONE = 125
EXIT_CANNOT_RUN = 127


def supported() -> bool:
    """Whether this platform can tie a child's life to its parent's."""
    return sys.platform.startswith("linux")


def guarded(argv: Sequence[str]) -> list[str]:
    """`argv` wrapped so it dies with the calling process (unchanged where unsupported)."""
    if not supported():
        return list(argv)
    return [sys.executable, "-m", "worker.dev.orphan_guard", str(os.getpid()), *argv]


def main(argv: Sequence[str]) -> NoReturn:
    """Arm the parent-death signal, then replace this process by the program."""
    if len(argv) < 2 or not argv[0].isdigit():
        sys.exit("usage: python -m worker.dev.orphan_guard PARENT_PID PROGRAM [ARGS...]")
    parent, program = int(argv[0]), list(argv[1:])
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0) != 0:
        sys.exit(f"orphan_guard: prctl failed: {os.strerror(ctypes.get_errno())}")
    # The parent may have died before the signal was armed; then nobody would send it.
    if os.getppid() != parent:
        sys.exit(EXIT_PARENT_GONE)
    try:
        os.execvp(program[0], program)  # noqa: S606 - runs the supervisor's own child command
    except OSError as exc:
        print(f"cannot run {program[0]}: {exc.strerror}", file=sys.stderr)
        os._exit(EXIT_CANNOT_RUN)


if __name__ == "__main__":
    main(sys.argv[1:])
