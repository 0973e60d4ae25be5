"""One periodic pass's user-list checks, within its request budget, most costly drift first.

1. Channels whose recording may be running (a session `started`, `running` or
   `sid_unknown`) are checked every pass, rotating from `autorec:heal:recording_cursor`
   when the rate limit cannot serve them all in one pass: a lost leave there costs money,
   and a check each pass bounds it by grace + 2 * reconcile interval.
2. Lost joins (`lost_joins`): pages of Agora's channel list, then the user lists of the
   channels it names that we believe empty (or, without the whole list, of recently active
   ones), so a channel whose joins were all lost records within two intervals.
3. The other channels we believe occupied, round robin from `autorec:heal:cursor`.

The budget is `max_api_qps * interval / 2` requests less one per session (their queries);
recording channels are checked even beyond it. Each request first waits for spare room at
the rate limiter (so a start or a stop never waits behind one), for at most half an
interval (and the limiter's timeout) from the start of the round; what is left continues in
the next pass.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Final

from worker import keys
from worker.agora import AgoraError
from worker.controller.deps import ControllerDeps
from worker.controller.heal import HealOutcome, heal_channel
from worker.controller.lost_joins import (
    lost_join_candidates,
    note_nobody_counts,
    read_channel_list,
)
from worker.state.ratelimit import RateLimitTimeout
from worker.state.sessions import Session, SessionState

logger = logging.getLogger(__name__)

#: Sessions whose task may be recording (a stopping one is being stopped already).
RECORDING_STATES: Final = frozenset(
    {SessionState.STARTED, SessionState.RUNNING, SessionState.SID_UNKNOWN}
)
#: Most channel-list pages one pass reads (2,000 channels at 500 a page).
MAX_CHANNEL_LIST_PAGES: Final = 4
#: How often a request waiting for spare room at the rate limiter looks again (s).
SPARE_POLL_S: Final = 0.1


@dataclass
class UserListRound:
    """What the round did."""

    checked: list[str] = field(default_factory=list)
    """Channels whose user list was read (or judged too fresh to read), in order."""
    healed: dict[str, HealOutcome] = field(default_factory=dict)
    listed: int = 0
    """Channels the channel list named."""
    requests: int = 0
    """Agora requests sent (user lists and channel-list pages)."""


class _Budget:
    """Requests the round may still send, and the wait for spare room at the limiter."""

    def __init__(self, limit: int, spare: Callable[[], Awaitable[bool]], deadline_s: float) -> None:
        self.limit = limit
        self.used = 0
        self.exhausted = False
        self._spare = spare
        self._deadline_s = deadline_s

    @property
    def left(self) -> int:
        return max(0, self.limit - self.used)

    async def take(self, *, beyond_limit: bool = False) -> bool:
        """Reserve one request once the limiter has spare room; False ends the round's
        requests (the budget is spent, or no room came within the round's time)."""
        if self.exhausted or (not beyond_limit and self.left <= 0):
            return False
        while not await self._spare():
            if time.monotonic() >= self._deadline_s:
                logger.info("reconcile_all: the rate limit is busy; user lists continue next pass")
                self.exhausted = True
                return False
            await asyncio.sleep(SPARE_POLL_S)
        self.used += 1
        return True


def round_robin(candidates: Iterable[str], cursor: str | None, limit: int) -> list[str]:
    """Up to `limit` of `candidates`, in name order starting after `cursor`, wrapping."""
    ordered = sorted(set(candidates))
    if not ordered or limit <= 0:
        return []
    start = 0
    if cursor is not None:
        start = next((i for i, c in enumerate(ordered) if c > cursor), 0)
    rotated = ordered[start:] + ordered[:start]
    return rotated[:limit]


async def _cursor(deps: ControllerDeps, key: str) -> str | None:
    raw = await deps.redis.get(key)
    return raw.decode() if raw is not None else None


async def check_user_lists(
    deps: ControllerDeps,
    spare: Callable[[], Awaitable[bool]],
    *,
    sessions: list[Session],
    occupied: Iterable[str],
    now_ms: int,
) -> UserListRound:
    """Read user lists (and the channel list) for this pass, see the module docstring."""
    config = deps.config
    interval_budget = int(config.max_api_qps * config.reconcile_interval_s / 2)
    budget = _Budget(
        max(1, interval_budget - len(sessions)),
        spare,
        # Half an interval leaves the next pass its time; the limiter's own timeout (a third
        # of the job timeout) keeps a long interval from outliving the job.
        time.monotonic() + min(config.reconcile_interval_s / 2, config.limiter_timeout_s),
    )
    done = UserListRound()

    async def check(
        channel: str, *, beyond_limit: bool = False, listed_with: int | None = None
    ) -> bool:
        if not await budget.take(beyond_limit=beyond_limit):
            return False
        try:
            result = await heal_channel(deps, channel, now_ms=now_ms)
        except RateLimitTimeout:
            logger.info("reconcile_all: request budget used up; user lists continue next pass")
            budget.exhausted = True
            return False
        except AgoraError as exc:
            logger.warning("reconcile_all: user list of %r unavailable: %s", channel, exc)
            return True
        if result.outcome is HealOutcome.SKIPPED:
            budget.used -= 1  # judged from our own state: nothing was sent
        done.checked.append(channel)
        if result.outcome in (HealOutcome.CLEARED, HealOutcome.ADDED):
            done.healed[channel] = result.outcome
        elif result.qualifying_at_agora == 0 and listed_with is not None:
            await note_nobody_counts(deps, channel, listed_with, now_ms=now_ms)
        return True

    recording = [s.channel for s in sessions if s.state in RECORDING_STATES]
    cursor = await _cursor(deps, keys.HEAL_RECORDING_CURSOR)
    last_recording: str | None = None
    for channel in round_robin(recording, cursor, len(recording)):
        if not await check(channel, beyond_limit=True):
            break
        last_recording = channel
    if last_recording is not None:
        await deps.redis.set(keys.HEAL_RECORDING_CURSOR, last_recording)

    with_session = {s.channel for s in sessions}
    if budget.left >= 2:  # a page alone finds nothing: leave room for a user list
        listed = await read_channel_list(
            deps,
            max_pages=min(MAX_CHANNEL_LIST_PAGES, budget.left - 1),
            may_send=budget.take,
        )
        done.listed = len(listed.user_counts)
        exclude = with_session | set(done.checked)
        for channel in await lost_join_candidates(deps, listed, now_ms=now_ms, exclude=exclude):
            if not await check(channel, listed_with=listed.user_counts.get(channel)):
                break

    others = (set(occupied) | with_session) - set(done.checked)
    cursor = await _cursor(deps, keys.HEAL_CURSOR)
    last_other: str | None = None
    for channel in round_robin(others, cursor, len(others)):
        if not await check(channel):
            break
        last_other = channel
    if last_other is not None:
        await deps.redis.set(keys.HEAL_CURSOR, last_other)
    done.requests = budget.used
    return done
