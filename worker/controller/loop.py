"""The per-channel reconcile: decide, act, persist, decide again — under the channel's lock.

`Controller.reconcile(channel)` reads the channel's desired state, its session and Redis
time, asks `worker.controller.decide.decide` for the next action, performs it
(`worker.controller.perform`, through the `Effects` of worker/controller/effects.py) and loops
until the answer is to wait or that nothing is to be done. Each iteration re-reads the
channel, so a change of desired state (a newer `gen`) that arrived meanwhile is acted upon
before the job ends. Waits are deferred wake-ups (`Effects.wake`), never sleeps.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import replace
from typing import Any, Final

from worker import keys
from worker.controller.decide import Do, Facts, decide
from worker.controller.deps import ControllerDeps
from worker.controller.effects import Effects
from worker.controller.perform import perform
from worker.controller.step import Report, Step
from worker.policies import Mode, Policy
from worker.policies.overlay import OverlayError, overlay
from worker.state.channel_lock import channel_lock
from worker.state.channel_state import parse_channel_state
from worker.state.overrides import Desire, Override, OverrideStore, Record, desire
from worker.state.sessions import Session

logger = logging.getLogger(__name__)

#: Decisions one job makes at most (a start is about five); the rest is a deferred wake-up.
MAX_STEPS: Final = 12


class Controller:
    """Moves channels' recordings toward their desired state (see the module docstring)."""

    def __init__(self, deps: ControllerDeps) -> None:
        self.deps = deps
        self.effects = Effects(deps)

    async def reconcile(self, channel: str, *, lock_wait_s: float = 0.0) -> Report:
        """Reconcile one channel; raises ChannelBusy if another job holds its lock."""
        report = Report(channel)
        async with channel_lock(
            self.deps.redis, channel, ttl_ms=self.deps.config.lock_ttl_ms, wait_s=lock_wait_s
        ):
            for _ in range(MAX_STEPS):
                step = await self.observe(channel)
                report.actions.append(step.action)
                self._log(step)
                if step.spent_override_ms is not None:
                    await OverrideStore(self.deps.redis).clear_if_same(
                        channel, step.spent_override_ms
                    )
                if not await perform(self.effects, step):
                    return report
            step = await self.observe(channel)
            await self.effects.wake(channel, step.now_ms, state=step.state)
        return report

    async def observe(self, channel: str) -> Step:
        """Read everything `decide` needs (one round trip) and decide."""
        async with self.deps.redis.pipeline(transaction=False) as pipe:
            pipe.time()
            pipe.hgetall(keys.channel(channel))
            pipe.hgetall(keys.session(channel))
            pipe.pttl(keys.start_backoff(channel))
            pipe.hgetall(keys.override(channel))
            replies = await pipe.execute()
        (seconds, micros), channel_raw, session_raw, backoff_ms, override_raw = replies
        now = int(seconds) * 1000 + int(micros) // 1000
        state = parse_channel_state(channel_raw)
        session = (
            Session.from_fields(channel, session_raw)
            if session_raw and b"state" in session_raw
            else None
        )
        override = Override.from_fields(override_raw)
        wish = desire(
            state is not None and state.desired,
            state.occupancy if state is not None else 0,
            override,
            now_ms=now,
            recording=session is not None,
        )
        overlay_fields = self._overlay_fields(session, wish)
        policy = self._policy(channel, overlay_fields)
        facts = Facts(
            now_ms=now,
            desired=wish.desired,
            manual_stop=wish.manual_stop,
            empty_since_ms=state.empty_since_ms if state is not None else None,
            session=session,
            grace_ms=int(policy.grace_s * 1000),
            max_duration_ms=policy.max_duration_s * 1000,
            max_idle_ms=(
                policy.max_idle_s * 1000
                if policy.max_idle_s is not None and policy.mode is not Mode.WEB
                else None
            ),
            backoff_until_ms=now + backoff_ms if backoff_ms > 0 else None,
            sid_unknown_margin_ms=self.deps.config.sid_unknown_margin_ms,
            sid_probe_ms=self.deps.config.sid_probe_ms,
        )
        action = decide(facts)
        if action.do is Do.WAIT and wish.until_ms is not None:
            # Look again when the override runs out.
            due = wish.until_ms if action.due_ms is None else min(action.due_ms, wish.until_ms)
            action = replace(action, due_ms=due)
        return Step(
            channel,
            now,
            state,
            session,
            policy,
            action,
            overlay=overlay_fields,
            spent_override_ms=override.set_at_ms if wish.spent and override else None,
        )

    @staticmethod
    def _overlay_fields(session: Session | None, wish: Desire) -> Mapping[str, Any]:
        """The per-recording fields in force: a session keeps those it started with; a new
        one takes an `always` override's."""
        if session is not None:
            return session.overlay_fields()
        if wish.override is not None and wish.override.record is Record.ALWAYS:
            return wish.override.policy_fields
        return {}

    def _policy(self, channel: str, overlay_fields: Mapping[str, Any]) -> Policy:
        base = self.deps.policies.match(channel)
        if not overlay_fields:
            return base
        try:
            return overlay(base, overlay_fields)
        except OverlayError as exc:
            # Validated when the override was set; only a changed policy file gets here.
            logger.warning(
                "channel=%r: manual override fields no longer fit the policy (%s); using %s",
                channel,
                exc,
                base.label,
            )
            return base

    def _log(self, step: Step) -> None:
        session = step.session
        logger.info(
            "reconcile channel=%r action=%s reason=%r state=%s uid=%s sid=%s desired=%s gen=%s",
            step.channel,
            step.action.do.value,
            step.action.reason,
            session.state.value if session else "-",
            session.uid if session else "-",
            session.sid if session and session.sid else "-",
            step.state.desired if step.state else False,
            step.state.gen if step.state else 0,
        )
