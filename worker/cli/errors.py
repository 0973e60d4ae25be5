"""The error a command raises to end with one line on stderr and a given exit status."""

from __future__ import annotations

from typing import Final

#: Redis unreachable, a conflict with what runs, a wait that ran out.
EXIT_FAILED: Final = 1
#: A bad argument, field or configuration (argparse's convention).
EXIT_USAGE: Final = 2


class CommandError(Exception):
    """End the command: `str()` is the one line printed on stderr (without the `autorec: `
    prefix), `exit_status` the process' exit status."""

    def __init__(self, message: str, *, exit_status: int = EXIT_FAILED) -> None:
        super().__init__(message)
        self.exit_status = exit_status
