"""A channel's policy with a manual override's per-recording fields laid over it (pure).

A manual "record now" may name the recording's `mode`, `streams` and the other per-recording
fields of a policy rule (design §4, "App-facing API"). They are validated like a rule of the
policy file: the channel's policy, with the fields that do not apply to the new mode dropped
when the mode changes, plus the override's fields, must make a valid `Policy`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final

from pydantic import ValidationError

from worker.policies.enums import Mode
from worker.policies.model import APPLIES_TO, Policy

#: Policy fields that decide *whether* a channel records, not *how*: an override never sets
#: them (`record` is the override's own choice; occupancy rules do not apply to it).
NOT_PER_RECORDING: Final = frozenset(
    {"match", "rule_index", "record", "min_users", "count_audience", "grace_s"}
)
#: The fields an override may set.
PER_RECORDING: Final = frozenset(Policy.model_fields) - NOT_PER_RECORDING


class OverlayError(ValueError):
    """The fields do not make a valid policy: `field` names the one at fault."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


def overlay(base: Policy, fields: Mapping[str, Any]) -> Policy:
    """`base` with `fields` laid over it; raises OverlayError naming the field at fault."""
    if not fields:
        return base
    for name in fields:
        if name not in PER_RECORDING:
            raise OverlayError(name, "is not a per-recording policy field")
    data = base.model_dump(exclude_unset=True)
    mode = fields.get("mode")
    if mode is not None and mode != base.mode:
        # Fields the base filled for its own mode would contradict the new one.
        data = {
            name: value
            for name, value in data.items()
            if name not in APPLIES_TO or _applies(name, mode)
        }
        data.pop("max_idle_s", None)
        data.pop("transcoding", None)
    data.update(fields)
    try:
        return Policy.model_validate(data)
    except ValidationError as exc:
        error = exc.errors(include_url=False)[0]
        where = ".".join(str(part) for part in error["loc"]) or _guess_field(error, fields)
        raise OverlayError(where, _reason(error["msg"])) from None


def _applies(name: str, mode: Any) -> bool:
    try:
        return Mode(mode) in APPLIES_TO[name]
    except ValueError:
        return True  # an unknown mode is reported by validation


def _guess_field(error: Mapping[str, Any], fields: Mapping[str, Any]) -> str:
    """A model-level error names no location: the field its message names first."""
    message = str(error.get("msg", ""))
    named: list[tuple[int, int, str]] = []
    for name in Policy.model_fields:
        found = re.search(rf"\b{re.escape(name)}\b", message)
        if found is not None:
            named.append((found.start(), -len(name), name))
    if named:
        return min(named)[2]
    return next(iter(fields), "policy")


def _reason(message: str) -> str:
    return message.removeprefix("Value error, ")
