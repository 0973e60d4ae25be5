"""Pure webhook signature checks: Agora NCS `Agora-Signature-V2` and Standard Webhooks `v1`.

Both verify the raw request body bytes, never re-serialized JSON, and compare in constant
time. Every failure raises `SignatureError`, whose message says what was wrong and never
contains a secret or a computed signature.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Mapping
from datetime import datetime
from typing import Final

#: Standard Webhooks: how far `webhook-timestamp` may be from now, either way.
TOLERANCE_S: Final = 300
#: Prefix of a Standard Webhooks symmetric secret; the rest is base64.
SECRET_PREFIX: Final = "whsec_"  # noqa: S105 - a format prefix, not a secret

HEADER_ID: Final = "webhook-id"
HEADER_TIMESTAMP: Final = "webhook-timestamp"
HEADER_SIGNATURE: Final = "webhook-signature"

_SIGNATURE_VERSION: Final = b"v1"


class SignatureError(Exception):
    """A webhook's signature headers are missing, malformed, stale or do not match."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def agora_signature(body: bytes, secret: bytes) -> str:
    """The `Agora-Signature-V2` value for `body`: lowercase hex HMAC-SHA256 with `secret`."""
    return hmac.digest(secret, body, hashlib.sha256).hex()


def verify_agora_signature(body: bytes, header: str | None, secret: bytes) -> None:
    """Check an `Agora-Signature-V2` header against the raw body; raise SignatureError."""
    if not header:
        raise SignatureError("missing Agora-Signature-V2 header")
    expected = agora_signature(body, secret).encode("ascii")
    # Hex is case-insensitive; the bytes compare keeps non-ASCII headers a plain mismatch.
    given = header.strip().lower().encode("utf-8", "replace")
    if not hmac.compare_digest(expected, given):
        raise SignatureError("Agora-Signature-V2 does not match the body")


def _require_aware(moment: datetime, name: str) -> None:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime")


class Webhook:
    """Sign and verify Standard Webhooks (`v1,<base64 HMAC-SHA256(secret, id.ts.body)>`).

    `secret` is the `whsec_<base64>` string shown to users (a string without the prefix is
    taken as base64 too), or the raw key bytes.
    """

    __slots__ = ("_key", "tolerance_s")

    def __init__(self, secret: str | bytes, *, tolerance_s: int = TOLERANCE_S) -> None:
        if isinstance(secret, str):
            try:
                key = base64.b64decode(secret.removeprefix(SECRET_PREFIX), validate=True)
            except (binascii.Error, ValueError):
                raise ValueError("webhook secret is not whsec_ followed by base64") from None
        else:
            key = secret
        if not key:
            raise ValueError("webhook secret is empty")
        self._key = key
        self.tolerance_s = tolerance_s

    def _digest(self, msg_id: str, ts_s: int, body: bytes) -> bytes:
        signed = b"%s.%d.%s" % (msg_id.encode("utf-8"), ts_s, body)
        return base64.b64encode(hmac.digest(self._key, signed, hashlib.sha256))

    def sign(self, msg_id: str, ts: datetime, body: bytes) -> str:
        """The `webhook-signature` value (`v1,<base64>`) for this id, timestamp and body."""
        _require_aware(ts, "ts")
        return "v1," + self._digest(msg_id, int(ts.timestamp()), body).decode("ascii")

    def headers(self, msg_id: str, ts: datetime, body: bytes) -> dict[str, str]:
        """The three Standard Webhooks headers a sender attaches to `body`."""
        return {
            HEADER_ID: msg_id,
            HEADER_TIMESTAMP: str(int(ts.timestamp())),
            HEADER_SIGNATURE: self.sign(msg_id, ts, body),
        }

    def verify(self, headers: Mapping[str, str], body: bytes, now: datetime) -> str:
        """Check the signature headers (lower-case names) of `body`; return the `webhook-id`.

        Raises SignatureError on a missing header, a timestamp outside ±tolerance of `now`,
        or when no `v1` signature in the space-separated list matches.
        """
        _require_aware(now, "now")
        msg_id = headers.get(HEADER_ID)
        ts_text = headers.get(HEADER_TIMESTAMP)
        signatures = headers.get(HEADER_SIGNATURE)
        if not msg_id:
            raise SignatureError("missing webhook-id header")
        if not ts_text:
            raise SignatureError("missing webhook-timestamp header")
        if not signatures:
            raise SignatureError("missing webhook-signature header")
        try:
            ts_s = int(ts_text)
        except ValueError:
            raise SignatureError("webhook-timestamp is not an integer") from None
        now_s = int(now.timestamp())
        if ts_s < now_s - self.tolerance_s:
            raise SignatureError("webhook-timestamp is too old")
        if ts_s > now_s + self.tolerance_s:
            raise SignatureError("webhook-timestamp is too new")
        expected = self._digest(msg_id, ts_s, body)
        for candidate in signatures.split():
            version, _, value = candidate.encode("utf-8", "replace").partition(b",")
            if version == _SIGNATURE_VERSION and hmac.compare_digest(expected, value):
                return msg_id
        raise SignatureError("no webhook-signature matches the body")
