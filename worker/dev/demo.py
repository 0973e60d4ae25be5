"""Simulated channel traffic for `autorec dev --demo`, through the sandbox's admin API.

A few channels (`demo-1`, `demo-2`, ...) fill and empty on a loop: users join one by one,
stay a while, leave one by one, and the channel stays empty a while before the next round.
Each join and leave makes the sandbox send its signed NCS events to the webhook service, so
autorec starts a recording when a channel fills and stops it when the channel empties. The
demo prints a line for every join and leave, and a periodic summary of the recordings the
sandbox is running.

The traffic is bounded and gentle: at most `MAX_CHANNELS` channels of `MAX_USERS` users,
a pause between any two calls of a channel, and only a sandbox on the loopback interface.
It runs until SIGINT/SIGTERM (the `autorec dev` supervisor sends SIGTERM when it stops):

    python -m worker.dev.demo --sandbox-url http://127.0.0.1:8090
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ipaddress
import signal
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlsplit

import httpx

MAX_CHANNELS: Final = 5
MAX_USERS: Final = 4
_REQUEST_TIMEOUT_S: Final = 5.0
_RETRY_PAUSE_S: Final = 2.0

Say = Callable[[str], None]


class DemoError(Exception):
    """The demo cannot run as asked (a non-loopback sandbox, limits exceeded)."""


@dataclass(frozen=True)
class DemoPlan:
    """The shape of the simulated traffic; durations in seconds of real time."""

    channels: int = 3
    users_per_channel: int = 2
    occupied_s: float = 25.0
    """How long a channel stays full once every user has joined."""
    empty_s: float = 20.0
    """How long a channel stays empty before the next round."""
    step_s: float = 1.0
    """Pause between two joins or two leaves in one channel."""
    stagger_s: float = 6.0
    """Delay between the first rounds of consecutive channels."""
    summary_every_s: float = 10.0
    """Seconds between two summary lines (0: no summary)."""
    channel_prefix: str = "demo-"
    first_uid: int = 1001

    def __post_init__(self) -> None:
        if not 1 <= self.channels <= MAX_CHANNELS:
            raise DemoError(f"channels must be in 1..{MAX_CHANNELS}, not {self.channels}")
        if not 1 <= self.users_per_channel <= MAX_USERS:
            raise DemoError(
                f"users per channel must be in 1..{MAX_USERS}, not {self.users_per_channel}"
            )
        # At least one pause between any two calls of a channel keeps the traffic gentle.
        if min(self.occupied_s, self.empty_s, self.step_s) <= 0:
            raise DemoError("occupied_s, empty_s and step_s must be above 0")
        if self.stagger_s < 0 or self.summary_every_s < 0:
            raise DemoError("stagger_s and summary_every_s must not be negative")

    def channel(self, index: int) -> str:
        """Name of the channel number `index` (from 0)."""
        return f"{self.channel_prefix}{index + 1}"

    def uids(self, index: int) -> list[int]:
        """The users of channel number `index`: distinct across channels."""
        base = self.first_uid + index * 100
        return [base + k for k in range(self.users_per_channel)]


def check_loopback(url: str) -> str:
    """`url` without a trailing slash if it is http(s) on the loopback interface."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.scheme not in ("http", "https") or not host:
        raise DemoError(f"the sandbox URL must be http://127.0.0.1:PORT, not {url!r}")
    loopback = host == "localhost"
    with contextlib.suppress(ValueError):
        loopback = loopback or ipaddress.ip_address(host).is_loopback
    if not loopback:
        raise DemoError(f"the demo only drives a sandbox on the loopback interface, not {host}")
    return url.rstrip("/")


class Demo:
    """Drives the sandbox's channels per a `DemoPlan` until `stop` is set."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        sandbox_url: str,
        plan: DemoPlan,
        *,
        stop: asyncio.Event,
        say: Say,
    ) -> None:
        self._client = client
        self._url = check_loopback(sandbox_url)
        self._plan = plan
        self._stop = stop
        self._say = say

    async def run(self) -> None:
        """Run every channel's loop and the summary until `stop` is set."""
        loops = [self._channel_loop(index) for index in range(self._plan.channels)]
        if self._plan.summary_every_s > 0:
            loops.append(self._summary_loop())
        await asyncio.gather(*loops)

    async def _channel_loop(self, index: int) -> None:
        plan = self._plan
        channel, uids = plan.channel(index), plan.uids(index)
        if await self._pause(index * plan.stagger_s):
            return
        while True:
            for uid in uids:
                await self._move(channel, uid, "join")
                if await self._pause(plan.step_s):
                    return
            if await self._pause(plan.occupied_s):
                return
            for uid in uids:
                await self._move(channel, uid, "leave")
                if await self._pause(plan.step_s):
                    return
            if await self._pause(plan.empty_s):
                return

    async def _move(self, channel: str, uid: int, action: str) -> None:
        """One join or leave; a user already in (join) or already gone (leave) is fine."""
        path = f"/_sandbox/channels/{channel}/{action}"
        try:
            response = await self._client.post(self._url + path, json={"uid": uid})
        except httpx.HTTPError as exc:
            self._say(f"sandbox unreachable ({type(exc).__name__}); user {uid} stays as is")
            return
        if response.status_code in (404, 409):
            return
        if response.status_code != 200:
            self._say(f"sandbox answered {response.status_code} to {action} of user {uid}")
            return
        users = _user_count(response.json())
        verb = "joined" if action == "join" else "left"
        self._say(f"user {uid} {verb} {channel} ({users} user{'s' * (users != 1)} in it)")

    async def _summary_loop(self) -> None:
        while not await self._pause(self._plan.summary_every_s):
            try:
                response = await self._client.get(self._url + "/_sandbox/recordings")
                response.raise_for_status()
            except httpx.HTTPError as exc:
                self._say(f"sandbox unreachable ({type(exc).__name__})")
                continue
            self._say(summary_line(response.json()))

    async def _pause(self, seconds: float) -> bool:
        """Wait `seconds` unless stopped first; whether the demo is stopping."""
        if seconds > 0 and not self._stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), seconds)
        return self._stop.is_set()


def summary_line(recordings: Sequence[dict[str, Any]]) -> str:
    """One line about the sandbox's recordings (its `/_sandbox/recordings` answer)."""
    running = sorted(str(r["cname"]) for r in recordings if r.get("phase") == "running")
    ended = sum(1 for r in recordings if r.get("phase") != "running")
    where = f" ({', '.join(running)})" if running else ""
    return (
        f"sandbox: {len(running)} recording{'s' * (len(running) != 1)} running{where}; "
        f"{len(recordings)} started, {ended} ended so far"
    )


def _user_count(view: dict[str, Any]) -> int:
    members = view.get("members") or []
    return sum(1 for member in members if not member.get("recorder"))


async def run_demo(sandbox_url: str, plan: DemoPlan, *, stop: asyncio.Event, say: Say) -> None:
    """Run the demo against the sandbox at `sandbox_url` until `stop` is set."""
    async with httpx.AsyncClient(timeout=_REQUEST_TIMEOUT_S) as client:
        await Demo(client, sandbox_url, plan, stop=stop, say=say).run()


def _say(message: str) -> None:
    print(message, flush=True)


async def _main(sandbox_url: str, plan: DemoPlan) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    names = ", ".join(plan.channel(index) for index in range(plan.channels))
    _say(
        f"simulating {names}: {plan.users_per_channel} user(s) each join, stay "
        f"{plan.occupied_s:g} s, leave, and the channel rests {plan.empty_s:g} s"
    )
    await run_demo(sandbox_url, plan, stop=stop, say=_say)
    _say("demo stopped")


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m worker.dev.demo`: run the demo until SIGINT/SIGTERM; 2 on bad arguments."""
    parser = argparse.ArgumentParser(
        prog="python -m worker.dev.demo",
        description="Users join and leave a few sandbox channels on a loop (autorec dev --demo).",
    )
    parser.add_argument("--sandbox-url", required=True, help="http://127.0.0.1:PORT")
    parser.add_argument(
        "--channels", type=int, default=DemoPlan.channels,
        help=f"channels demo-1..demo-N, N at most {MAX_CHANNELS} (default {DemoPlan.channels})",
    )  # fmt: skip
    parser.add_argument(
        "--users", type=int, default=DemoPlan.users_per_channel,
        help=f"users per channel, at most {MAX_USERS} (default {DemoPlan.users_per_channel})",
    )  # fmt: skip
    parser.add_argument(
        "--occupied-s", type=float, default=DemoPlan.occupied_s,
        help=f"seconds a channel stays full (default {DemoPlan.occupied_s:g})",
    )  # fmt: skip
    parser.add_argument(
        "--empty-s", type=float, default=DemoPlan.empty_s,
        help=f"seconds a channel stays empty (default {DemoPlan.empty_s:g})",
    )  # fmt: skip
    args = parser.parse_args(argv)
    try:
        plan = DemoPlan(
            channels=args.channels,
            users_per_channel=args.users,
            occupied_s=args.occupied_s,
            empty_s=args.empty_s,
        )
        url = check_loopback(args.sandbox_url)
    except DemoError as exc:
        print(f"{parser.prog}: error: {exc}", file=sys.stderr)
        return 2
    asyncio.run(_main(url, plan))
    return 0


if __name__ == "__main__":
    sys.exit(main())
