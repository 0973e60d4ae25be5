"""Recording policy files: TOML rules tried in order, a [defaults] table, one-line errors.

File shape (`docs/policies.md` has the full reference):

    [defaults]              # optional; applies to every rule and to the fallback
    mode = "mix"
    [[rule]]                # tried in order; the first whose glob matches wins
    match = "class-*"
    mode = "individual"

A channel no rule matches gets the default policy: the built-in default (record everything
as mix, audio+video, HLS, `max_idle_s` 300) overlaid with `[defaults]`.
"""

from __future__ import annotations

import difflib
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from pydantic import BaseModel, ValidationError

from worker.policies.enums import Mode
from worker.policies.model import APPLIES_TO, Policy
from worker.policies.transcoding import Transcoding

#: Keys a user may write in a rule or in [defaults].
USER_FIELDS: Final = frozenset(Policy.model_fields) - {"rule_index"}
_TOP_LEVEL: Final = ("defaults", "rule")
_MODES: Final = frozenset(mode.value for mode in Mode)


class PolicyError(Exception):
    """A policy file that cannot be used; `str()` is one line naming the rule and field."""

    def __init__(
        self,
        reason: str,
        *,
        path: str | None = None,
        rule_index: int | None = None,
        match: str | None = None,
        field: str | None = None,
        in_defaults: bool = False,
    ) -> None:
        self.reason = reason
        self.path = path
        self.rule_index = rule_index
        self.match = match
        self.field = field
        self.in_defaults = in_defaults
        if rule_index is not None:
            where = f"policy rule {rule_index}"
            if match is not None:
                where += f' (match "{match}")'
            reason = f"{where}: {reason}"
        elif in_defaults:
            reason = f"policy [defaults]: {reason}"
        super().__init__(f"{path}: {reason}" if path else reason)


@dataclass(frozen=True, slots=True)
class PolicySet:
    """The loaded rules in file order and the default policy for unmatched channels."""

    rules: tuple[Policy, ...]
    default: Policy
    source: str | None = None

    def match(self, channel: str) -> Policy:
        """The first rule whose glob matches `channel`, else the default policy."""
        for policy in self.rules:
            if policy.matches(channel):
                return policy
        return self.default


def builtin_default(*, grace_s: float) -> Policy:
    """The policy used without a policy file: record every channel as mix, audio+video, HLS."""
    return Policy(grace_s=grace_s)


def load_policies(path: str | None, *, default_grace_s: float) -> PolicySet:
    """Read the policy file at `path` (None: built-in default only); raise `PolicyError`."""
    if path is None:
        return PolicySet(rules=(), default=builtin_default(grace_s=default_grace_s))
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PolicyError(f'policy file "{path}" not found') from None
    except UnicodeDecodeError:
        raise PolicyError(f'policy file "{path}" is not UTF-8 text') from None
    except OSError as exc:
        raise PolicyError(f'policy file "{path}" cannot be read: {exc.strerror}') from None
    try:
        return parse_policies(text, default_grace_s=default_grace_s, source=path)
    except PolicyError as exc:
        raise PolicyError(
            exc.reason,
            path=path,
            rule_index=exc.rule_index,
            match=exc.match,
            field=exc.field,
            in_defaults=exc.in_defaults,
        ) from None


def parse_policies(text: str, *, default_grace_s: float, source: str | None = None) -> PolicySet:
    """Parse policy TOML text; `default_grace_s` (AUTOREC_EMPTY_GRACE_S) fills `grace_s`."""
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError(f"invalid TOML: {exc}") from None
    for key in document:
        if key not in _TOP_LEVEL:
            raise PolicyError(
                f'unknown top-level key "{key}" (expected a [defaults] table and [[rule]] tables)'
            )
    defaults = document.get("defaults", {})
    if not isinstance(defaults, dict):
        raise PolicyError('"defaults" must be a table: [defaults]')
    rules = document.get("rule", [])
    if not isinstance(rules, list) or not all(isinstance(rule, dict) for rule in rules):
        raise PolicyError("rules must be an array of tables: write [[rule]], not [rule]")

    _check_keys(defaults, in_defaults=True)
    if "match" in defaults:
        raise PolicyError("match belongs in [[rule]] tables", field="match", in_defaults=True)
    base = {"grace_s": default_grace_s}
    fallback = _validate(_merge(base, defaults, {}), in_defaults=True)

    policies = []
    for index, rule in enumerate(rules, start=1):
        match = rule.get("match")
        shown = match if isinstance(match, str) else None
        _check_keys(rule, rule_index=index, match=shown)
        if "match" not in rule:
            raise PolicyError("match is required", rule_index=index, field="match")
        merged = _merge(base, defaults, rule)
        policies.append(_validate({**merged, "rule_index": index}, rule_index=index, match=shown))
    return PolicySet(rules=tuple(policies), default=fallback, source=source)


def _merge(
    base: Mapping[str, Any], defaults: Mapping[str, Any], rule: Mapping[str, Any]
) -> dict[str, Any]:
    """Layer settings default < [defaults] < rule; [defaults] keys that do not apply to the
    rule's mode are left out (a rule's own keys are kept, and checked)."""
    merged = {**base, **defaults, **rule}
    if isinstance(defaults.get("transcoding"), dict) and isinstance(rule.get("transcoding"), dict):
        merged["transcoding"] = {**defaults["transcoding"], **rule["transcoding"]}
    mode = merged.get("mode", Mode.MIX)
    if isinstance(mode, str) and mode in _MODES:
        for key in list(merged):
            if key in APPLIES_TO and key not in rule and Mode(mode) not in APPLIES_TO[key]:
                del merged[key]
    return merged


def _check_keys(table: Mapping[str, Any], **where: Any) -> None:
    for key in table:
        if key not in USER_FIELDS:
            raise PolicyError(_unknown(key, USER_FIELDS), field=key, **where)


def _unknown(key: str, known: Iterable[str]) -> str:
    close = difflib.get_close_matches(key, sorted(known), n=1)
    hint = f' (did you mean "{close[0]}"?)' if close else ""
    return f'unknown field "{key}"{hint}'


def _validate(data: dict[str, Any], **where: Any) -> Policy:
    try:
        return Policy.model_validate(data)
    except ValidationError as exc:
        field, reason = _describe(exc)
        raise PolicyError(reason, field=field, **where) from None


def _describe(exc: ValidationError) -> tuple[str | None, str]:
    """The first error as (field path, one-line reason); policies hold no secrets."""
    error = exc.errors(include_url=False)[0]
    loc = tuple(str(part) for part in error["loc"])
    field = ".".join(loc) or None
    kind, message = error["type"], str(error["msg"])
    if kind == "extra_forbidden":
        model: type[BaseModel] = Transcoding if loc[:1] == ("transcoding",) else Policy
        prefix = f"{'.'.join(loc[:-1])}." if len(loc) > 1 else ""
        return field, prefix + _unknown(loc[-1], set(model.model_fields) - {"rule_index"})
    if kind == "value_error":
        # Field validators say "must be ..."; model validators start with the field's name.
        message = message.removeprefix("Value error, ")
        first = message.split(" ", 1)[0]
        if field is None:
            return (first if first in USER_FIELDS else None), message
        if field == "transcoding" and first in Transcoding.model_fields:
            return f"{field}.{first}", f"{field}.{message}"
        return field, f"{field} {message}"
    if kind == "missing":
        return field, f"{field} is required"
    value = error.get("input")
    shown = f' (got "{value}")' if isinstance(value, str) else ""
    if isinstance(value, int | float | bool):
        shown = f" (got {str(value).lower() if isinstance(value, bool) else value})"
    return field, f"{field}: {message[:1].lower()}{message[1:]}{shown}"
