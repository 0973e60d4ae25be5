"""Run child processes as one: per-child log prefixes, health waits, and a clean shutdown.

`Supervisor(specs).run()` starts each `ChildSpec` in order, each in its own process group,
and waits for its `ready_check` before starting the next. Every output line of a child is
printed with the child's name in front. It runs until SIGINT/SIGTERM/SIGHUP (or
`request_stop()`) or until a child exits, then stops the children in reverse order:
SIGTERM to the child's process group, SIGKILL after the grace period (at once on a second
signal). A child that exits while starting always ends the run; one whose spec says
`restarts` is started again after it was up, with a doubling pause, at most `restarts` times
in a row (a run of `STABLE_S` resets the count). Nothing is left running and no port stays
bound; on Linux a child also gets SIGTERM if the supervisor itself is killed
(`worker.dev.orphan_guard`).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TextIO

from rich.console import Console
from rich.text import Text

from worker.dev.orphan_guard import guarded
from worker.dev.readiness import ReadyCheck

_PALETTE = ("cyan", "magenta", "green", "yellow", "blue", "bright_red")
_LINE_LIMIT_BYTES = 1 << 20
_POLL_S = 0.05
_CHECK_TIMEOUT_S = 2.0
#: A child that ran this long before it exited starts again with a fresh restart budget.
STABLE_S = 60.0
_RESTART_DELAY_MAX_S = 30.0


@dataclass(frozen=True)
class ChildSpec:
    """One child: its name (the log prefix), command, full environment and readiness probe."""

    name: str
    argv: Sequence[str]
    env: Mapping[str, str] | None = None
    ready_check: ReadyCheck | None = None
    ready_timeout_s: float = 30.0
    cwd: str | None = None
    restarts: int = 0
    """Times in a row the child is started again after exiting once it was up (0: never)."""


class StartupError(Exception):
    """A child exited or never became ready while the supervisor was starting it."""

    def __init__(self, message: str, *, child: str) -> None:
        super().__init__(message)
        self.child = child


@dataclass
class _Child:
    spec: ChildSpec
    process: asyncio.subprocess.Process
    pump: asyncio.Task[None]
    style: str
    started_s: float
    restarted: int = 0
    """Restarts in a row so far (reset by a run of STABLE_S)."""
    exited: asyncio.Task[int] = field(init=False)

    def __post_init__(self) -> None:
        self.exited = asyncio.ensure_future(self.process.wait())


class Supervisor:
    """Starts, watches and stops a list of children; see the module docstring."""

    def __init__(
        self,
        specs: Sequence[ChildSpec],
        *,
        out: TextIO | None = None,
        grace_s: float = 10.0,
        color: bool | None = None,
        restart_delay_s: float = 1.0,
    ) -> None:
        names = [spec.name for spec in specs]
        if len(set(names)) != len(names):
            raise ValueError(f"child names must be unique: {names}")
        self._specs = list(specs)
        self._grace_s = grace_s
        self._restart_delay_s = restart_delay_s
        self._console = Console(
            file=out if out is not None else sys.stdout,
            force_terminal=color,
            no_color=color is False,
            highlight=False,
            markup=False,
            emoji=False,
            soft_wrap=True,
        )
        self._width = max([len(name) for name in names] + [len("autorec")])
        self._children: list[_Child] = []
        self._stop: asyncio.Event | None = None
        self._force: asyncio.Event | None = None

    @property
    def console(self) -> Console:
        """The console the supervisor writes to (for the caller's own summary)."""
        return self._console

    @property
    def pids(self) -> dict[str, int]:
        """Process id of every child started so far, by name."""
        return {child.spec.name: child.process.pid for child in self._children}

    def say(self, message: str) -> None:
        """Print one line of the supervisor's own, prefixed `autorec`."""
        self._emit("autorec", "bold", message)

    def request_stop(self) -> None:
        """Begin the shutdown; a second request skips the remaining grace periods."""
        if self._stop is None or self._force is None:
            return
        if self._stop.is_set():
            self._force.set()
        self._stop.set()

    async def run(
        self,
        *,
        on_ready: Callable[[], None] | None = None,
        handle_signals: bool = True,
    ) -> int:
        """Run until a signal, `request_stop()` or a child's exit; 0 on a requested stop."""
        self._stop, self._force = asyncio.Event(), asyncio.Event()
        loop = asyncio.get_running_loop()
        # SIGHUP too: children in their own process groups miss a closing terminal's hangup.
        signals = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP) if handle_signals else ()
        for signum in signals:
            loop.add_signal_handler(signum, self._on_signal, signum)
        try:
            try:
                await self._start_all()
            except StartupError as exc:
                self.say(f"{exc}; stopping")
                return 1
            if self._stop.is_set():
                return 0
            if on_ready is not None:
                on_ready()
            return await self._watch()
        finally:
            await self._stop_all()
            for signum in signals:
                loop.remove_signal_handler(signum)
            self.say("stopped")

    def _on_signal(self, signum: int) -> None:
        if self._stop is not None and not self._stop.is_set():
            self.say(f"{signal.Signals(signum).name} received, stopping")
        elif self._force is not None and not self._force.is_set():
            self.say("stopping now, without waiting")
        self.request_stop()

    async def _start_all(self) -> None:
        styles = itertools.cycle(_PALETTE)
        for spec in self._specs:
            if self._stopping():
                return
            child = await self._spawn(spec, next(styles))
            self._children.append(child)
            self.say(f"started {spec.name} (pid {child.process.pid})")
            await self._wait_ready(child)

    async def _spawn(self, spec: ChildSpec, style: str) -> _Child:
        process = await asyncio.create_subprocess_exec(
            *guarded(spec.argv),
            env=dict(spec.env) if spec.env is not None else None,
            cwd=spec.cwd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            process_group=0,
            limit=_LINE_LIMIT_BYTES,
        )
        assert process.stdout is not None
        pump = asyncio.create_task(self._pump(spec.name, style, process.stdout))
        return _Child(spec, process, pump, style, asyncio.get_running_loop().time())

    async def _wait_ready(self, child: _Child) -> None:
        spec = child.spec
        if spec.ready_check is None:
            return
        deadline = asyncio.get_running_loop().time() + spec.ready_timeout_s
        while not self._stopping():
            if child.exited.done():
                raise StartupError(
                    f"{spec.name} {_describe_exit(child.exited.result())} while starting",
                    child=spec.name,
                )
            try:
                if await asyncio.wait_for(spec.ready_check(), _CHECK_TIMEOUT_S):
                    return
            except TimeoutError:
                pass
            if asyncio.get_running_loop().time() > deadline:
                raise StartupError(
                    f"{spec.name} was not ready after {spec.ready_timeout_s:g} s",
                    child=spec.name,
                )
            await self._pause(_POLL_S)

    async def _watch(self) -> int:
        assert self._stop is not None
        stop = asyncio.ensure_future(self._stop.wait())
        try:
            while True:
                exits = {child.exited: child for child in self._children}
                done, _ = await asyncio.wait([stop, *exits], return_when=asyncio.FIRST_COMPLETED)
                dead = [exits[task] for task in done if task in exits]
                if not dead or self._stopping():
                    return 0
                for child in dead:
                    if not await self._restart(child):
                        return 1
        finally:
            stop.cancel()

    async def _restart(self, child: _Child) -> bool:
        """Start an exited child again if its spec allows; False: stop everything."""
        spec = child.spec
        ended = _describe_exit(child.exited.result())
        loop = asyncio.get_running_loop()
        restarted = 0 if loop.time() - child.started_s >= STABLE_S else child.restarted
        if restarted >= spec.restarts:
            self.say(f"{spec.name} {ended}; stopping everything")
            return False
        delay_s = min(_RESTART_DELAY_MAX_S, self._restart_delay_s * 2**restarted)
        self.say(
            f"{spec.name} {ended}; restarting it in {delay_s:g} s "
            f"(restart {restarted + 1} of {spec.restarts})"
        )
        # Whatever the old process left in its group goes before the new one starts.
        _signal_group(child.process.pid, signal.SIGKILL)
        if not child.pump.done():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(child.pump), 2.0)
            child.pump.cancel()
        await self._pause(delay_s)
        if self._stopping():
            return True
        fresh = await self._spawn(spec, child.style)
        fresh.restarted = restarted + 1
        self._children[self._children.index(child)] = fresh
        self.say(f"restarted {spec.name} (pid {fresh.process.pid})")
        return True

    async def _stop_all(self) -> None:
        for child in reversed(self._children):
            await self._stop_child(child)
        for child in self._children:
            if not child.pump.done():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(asyncio.shield(child.pump), 2.0)
                child.pump.cancel()
        self._children.clear()

    async def _stop_child(self, child: _Child) -> None:
        pgid = child.process.pid
        if not child.exited.done():
            _signal_group(pgid, signal.SIGTERM)
            await self._wait_exit(child, self._grace_s)
        if not child.exited.done():
            self.say(f"{child.spec.name} did not stop within {self._grace_s:g} s; killing it")
        # Always sweep the group: it also takes any grandchild the child left behind.
        _signal_group(pgid, signal.SIGKILL)
        await child.exited

    async def _wait_exit(self, child: _Child, timeout_s: float) -> None:
        assert self._force is not None
        force = asyncio.ensure_future(self._force.wait())
        try:
            await asyncio.wait(
                {child.exited, force}, timeout=timeout_s, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            force.cancel()

    async def _pause(self, seconds: float) -> None:
        assert self._stop is not None
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop.wait(), seconds)

    def _stopping(self) -> bool:
        return self._stop is not None and self._stop.is_set()

    async def _pump(self, name: str, style: str, stream: asyncio.StreamReader) -> None:
        while True:
            try:
                raw = await stream.readline()
            except ValueError:
                self._emit(name, style, "[line longer than 1 MiB dropped]")
                continue
            if not raw:
                return
            self._emit(name, style, raw.decode("utf-8", "replace").rstrip("\r\n"))

    def _emit(self, name: str, style: str, line: str) -> None:
        prefix = Text(f"{name:<{self._width}} | ", style=style)
        self._console.print(prefix + Text(line))


def _describe_exit(code: int) -> str:
    if code < 0:
        with contextlib.suppress(ValueError):
            return f"was killed by {signal.Signals(-code).name}"
    return f"exited with code {code}"


def _signal_group(pgid: int, signum: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signum)
