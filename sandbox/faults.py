"""Fault injection: rules that disturb REST answers (errors, latency, 404 windows) or NCS
delivery (drops, duplicates, reordering), limited by count and drawn at a seeded rate."""

from __future__ import annotations

import random
from dataclasses import dataclass
from http import HTTPStatus
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from sandbox.config import Clock
from sandbox.models import AgoraError, Endpoint, JsonObject

#: Reasons Agora gives for its documented codes (agora-facts §3.1).
DEFAULT_REASONS = {
    2: "invalid parameter",
    7: "already started",
    49: "invalid operation",
    53: "task conflict",
    62: "request timeout",
    65: "request not completed",
    404: "failed to find worker",
    406: "vendor_over_load",
    435: "no recorded data",
    500: "internal_error",
    501: "no_worker_manager_available",
    502: "Failed to allocate worker",
    504: "allocate_timeout",
}
RuleEndpoint = Literal[
    "acquire", "start", "query", "update", "updateLayout", "stop", "user_list", "*"
]
TASK_ENDPOINTS = frozenset({Endpoint.QUERY, Endpoint.UPDATE, Endpoint.UPDATE_LAYOUT, Endpoint.STOP})


class FaultRule(BaseModel):
    """One fault rule as posted to `POST /_sandbox/faults`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    endpoint: RuleEndpoint = "*"
    status: int | None = Field(default=None, ge=200, le=599)
    code: int | None = None
    reason: str | None = None
    count: int | None = Field(default=None, ge=1)
    rate: float | None = Field(default=None, ge=0, le=1)
    latency_ms: float = Field(default=0, ge=0)
    not_found_s: float | None = Field(default=None, gt=0)
    #: The request takes effect, then its answer is replaced (a lost response).
    after: bool = False
    ncs_drop_rate: float = Field(default=0, ge=0, le=1)
    ncs_duplicate_rate: float = Field(default=0, ge=0, le=1)
    ncs_reorder: bool = False
    #: NCS event types the rule acts on (e.g. [102, 104, 106, 108]: leaves only); None: all.
    ncs_event_types: frozenset[int] | None = None

    @model_validator(mode="after")
    def _one_side(self) -> FaultRule:
        rest = self.status is not None or self.latency_ms > 0 or self.not_found_s is not None
        ncs = self.ncs_drop_rate > 0 or self.ncs_duplicate_rate > 0 or self.ncs_reorder
        if rest == ncs:
            raise ValueError(
                "a rule needs either REST effects (status, latency_ms, not_found_s) "
                "or NCS effects (ncs_drop_rate, ncs_duplicate_rate, ncs_reorder), not both"
            )
        if (self.code is not None or self.after) and self.status is None:
            raise ValueError("code and after need a status")
        if self.ncs_event_types is not None and not ncs:
            raise ValueError("ncs_event_types needs an NCS effect")
        return self

    @property
    def is_ncs(self) -> bool:
        """Whether this rule disturbs NCS delivery rather than REST answers."""
        return self.ncs_drop_rate > 0 or self.ncs_duplicate_rate > 0 or self.ncs_reorder

    def error(self) -> AgoraError | None:
        """The answer this rule forces, or None for a latency-only rule."""
        if self.not_found_s is not None:
            return AgoraError(404, code=404, reason=DEFAULT_REASONS[404])
        if self.status is None:
            return None
        if self.code is not None:
            reason = self.reason or DEFAULT_REASONS.get(self.code, "error")
            return AgoraError(self.status, code=self.code, reason=reason)
        if self.status == HTTPStatus.TOO_MANY_REQUESTS:
            return AgoraError(429, message=self.reason or "API rate limit exceeded")
        if self.status == HTTPStatus.NOT_FOUND:
            return AgoraError(404, code=404, reason=self.reason or DEFAULT_REASONS[404])
        return AgoraError(self.status, message=self.reason or HTTPStatus(self.status).phrase)


@dataclass(frozen=True)
class RestFault:
    """What a matched rule does to one REST request."""

    error: AgoraError | None
    latency_s: float
    after: bool


@dataclass(frozen=True)
class NcsFault:
    """What the rules do to one NCS delivery."""

    drop: bool = False
    duplicate: bool = False
    reorder: bool = False


@dataclass
class _Active:
    rule_id: int
    rule: FaultRule
    added_at_s: float
    remaining: int | None

    def alive(self, now_s: float) -> bool:
        if self.remaining is not None and self.remaining <= 0:
            return False
        window = self.rule.not_found_s
        return window is None or now_s < self.added_at_s + window


class FaultBook:
    """The active rules; the first live rule that matches a request applies."""

    def __init__(self, clock: Clock, rng: random.Random) -> None:
        self._clock = clock
        self._rng = rng
        self._rules: list[_Active] = []
        self._next_id = 1

    def add(self, rule: FaultRule) -> int:
        """Activate a rule (a `not_found_s` window opens now); returns its id."""
        rule_id = self._next_id
        self._next_id += 1
        self._rules.append(_Active(rule_id, rule, self._clock.monotonic(), rule.count))
        return rule_id

    def clear(self) -> None:
        """Remove every rule."""
        self._rules.clear()

    def listing(self) -> list[JsonObject]:
        """Live rules, for the admin API."""
        now_s = self._clock.monotonic()
        self._rules = [active for active in self._rules if active.alive(now_s)]
        return [
            {
                "id": a.rule_id,
                "remaining": a.remaining,
                **a.rule.model_dump(mode="json", exclude_defaults=True),
            }
            for a in self._rules
        ]

    def _draw(self, active: _Active) -> bool:
        rate = active.rule.rate
        if rate is not None and self._rng.random() >= rate:
            return False
        if active.remaining is not None:
            active.remaining -= 1
        return True

    def for_request(self, endpoint: Endpoint) -> RestFault | None:
        """The fault for one REST request to `endpoint`, if a rule fires."""
        now_s = self._clock.monotonic()
        for active in self._rules:
            rule = active.rule
            if rule.is_ncs or not active.alive(now_s):
                continue
            if rule.endpoint not in ("*", str(endpoint)):
                continue
            if rule.not_found_s is not None and endpoint not in TASK_ENDPOINTS:
                continue
            if self._draw(active):
                return RestFault(rule.error(), rule.latency_ms / 1000, rule.after)
        return None

    def for_ncs(self, event_type: int | None = None) -> NcsFault:
        """Drop/duplicate/reorder decisions for one NCS event of `event_type`.

        A rule with `ncs_event_types` skips other types (and an event of unknown type);
        a rule's `rate` limits its reordering to that share of the events it acts on.
        """
        drop = duplicate = reorder = False
        now_s = self._clock.monotonic()
        for active in self._rules:
            rule = active.rule
            if not rule.is_ncs or not active.alive(now_s):
                continue
            types = rule.ncs_event_types
            if types is not None and event_type not in types:
                continue
            hit_drop = rule.ncs_drop_rate > 0 and self._rng.random() < rule.ncs_drop_rate
            hit_dup = rule.ncs_duplicate_rate > 0 and self._rng.random() < rule.ncs_duplicate_rate
            hit_reorder = rule.ncs_reorder and (rule.rate is None or self._rng.random() < rule.rate)
            if not (hit_drop or hit_dup or hit_reorder):
                continue
            if active.remaining is not None:
                active.remaining -= 1
            drop, duplicate = drop or hit_drop, duplicate or hit_dup
            reorder = reorder or hit_reorder
        return NcsFault(drop=drop, duplicate=duplicate and not drop, reorder=reorder)
