"""Removing secrets from text that may reach logs or exception messages."""

from __future__ import annotations

from collections.abc import Iterable

REDACTED = "[redacted]"
_MIN_SECRET_CHARS = 4
_MAX_TEXT_CHARS = 300


def redact(text: str, secrets: Iterable[str]) -> str:
    """`text` with every occurrence of each secret replaced, cut to a readable length.

    Longer secrets are replaced first so a secret containing another is removed whole.
    Values shorter than 4 characters are not treated as secrets (they would shred the text).
    """
    for secret in sorted(
        {s for s in secrets if len(s) >= _MIN_SECRET_CHARS}, key=len, reverse=True
    ):
        text = text.replace(secret, REDACTED)
    if len(text) > _MAX_TEXT_CHARS:
        text = text[:_MAX_TEXT_CHARS] + "…"
    return text
