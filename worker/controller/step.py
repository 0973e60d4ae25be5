"""What one reconcile decision saw and did (`Step`), and what a whole reconcile did (`Report`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from worker.controller.decide import Action
from worker.policies import Policy
from worker.state.channel_state import ChannelState
from worker.state.sessions import Session


@dataclass
class Step:
    """What one decision saw and did."""

    channel: str
    now_ms: int
    state: ChannelState | None
    session: Session | None
    policy: Policy
    action: Action
    overlay: Mapping[str, Any] = field(default_factory=dict)
    """A manual override's per-recording policy fields laid over `policy` (empty: none)."""
    spent_override_ms: int | None = None
    """A manual override that no longer applies (its `set_at_ms`): remove it."""


@dataclass
class Report:
    """What a reconcile did: the actions in order; `final` is the last one."""

    channel: str
    actions: list[Action] = field(default_factory=list)

    @property
    def final(self) -> Action | None:
        """The decision the reconcile ended with."""
        return self.actions[-1] if self.actions else None

    def summary(self) -> str:
        """`take_slot,acquire,start,...` for the job result and logs."""
        return ",".join(action.do.value for action in self.actions)
