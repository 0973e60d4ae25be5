"""Argument types of the `autorec` command line: each turns one word into a value or raises
`argparse.ArgumentTypeError` with a one-line reason (pure)."""

from __future__ import annotations

import argparse
import re
from typing import Final

UINT32_MAX: Final = 2**32 - 1
#: The longest `--wait` (the API's `wait_s` has the same bound).
MAX_WAIT_S: Final = 30.0
# RTC channel names: < 64 bytes of letters, digits, space and these marks (agora-facts §2.1).
_CHANNEL_NAME: Final = re.compile(r"[A-Za-z0-9 !#$%&()+\-:;<=.>?@\[\]^_{}|~,]{1,63}")


def int_in(text: str, lo: int, hi: int, what: str) -> int:
    """`text` as an integer in [lo, hi]."""
    try:
        value = int(text, 10)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{what} must be an integer, not {text!r}") from None
    if not lo <= value <= hi:
        raise argparse.ArgumentTypeError(f"{what} must be in {lo}..{hi}, not {value}")
    return value


def port(text: str) -> int:
    """A TCP port."""
    return int_in(text, 1, 65535, "a port")


def port_or_any(text: str) -> int:
    """A TCP port, or 0 for any free port."""
    return int_in(text, 0, 65535, "a port (0: any free port)")


def uid(text: str) -> int:
    """An Agora uid (32-bit unsigned)."""
    return int_in(text, 0, UINT32_MAX, "a uid")


def uint32(text: str) -> int:
    """A 32-bit unsigned value."""
    return int_in(text, 0, UINT32_MAX, "the value")


def uint32_positive(text: str) -> int:
    """A 32-bit unsigned value above 0."""
    return int_in(text, 1, UINT32_MAX, "the value")


def salt(text: str) -> int:
    """A token salt."""
    return int_in(text, 1, 99_999_999, "the salt")


def count(text: str) -> int:
    """How many rows to show (0..1000)."""
    return int_in(text, 0, 1000, "the count")


def positive_int(text: str) -> int:
    """An integer above 0."""
    return int_in(text, 1, 2**31 - 1, "the value")


def positive_float(text: str) -> float:
    """A number above 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number, not {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be above 0, not {text}")
    return value


def wait_s(text: str) -> float:
    """Seconds to wait for an outcome: above 0, at most `MAX_WAIT_S`."""
    try:
        float(text)
    except ValueError:
        # `autorec record --wait room-1` reads the channel as the seconds.
        raise argparse.ArgumentTypeError(
            f"must be a number of seconds, not {text!r} (put --wait after CHANNEL)"
        ) from None
    value = positive_float(text)
    if value > MAX_WAIT_S:
        raise argparse.ArgumentTypeError(f"must be at most {MAX_WAIT_S:g} s, not {text}")
    return value


def channel(text: str) -> str:
    """An RTC channel name."""
    if not _CHANNEL_NAME.fullmatch(text) or len(text.encode("utf-8")) >= 64:
        raise argparse.ArgumentTypeError(
            "a channel name is 1 to 63 letters, digits, spaces or !#$%&()+-:;<=.>?@[]^_{}|~,"
        )
    return text
