"""NCS request bodies and signatures (agora-facts §4.1, §4.4): the raw body is signed as sent,
HMAC-SHA1 hex in `Agora-Signature` and HMAC-SHA256 hex in `Agora-Signature-V2`."""

from __future__ import annotations

import hashlib
import hmac
import json

from sandbox.models import NcsEvent

HEADER_SIGNATURE = "Agora-Signature"
HEADER_SIGNATURE_V2 = "Agora-Signature-V2"


def encode_body(event: NcsEvent, notify_ms: int) -> bytes:
    """The exact bytes POSTed for one attempt (compact JSON, UTF-8)."""
    return json.dumps(event.body(notify_ms), separators=(",", ":"), ensure_ascii=False).encode()


def sign(secret: str, body: bytes) -> dict[str, str]:
    """Both signature headers for `body`."""
    key = secret.encode()
    return {
        HEADER_SIGNATURE: hmac.new(key, body, hashlib.sha1).hexdigest(),
        HEADER_SIGNATURE_V2: hmac.new(key, body, hashlib.sha256).hexdigest(),
    }


def request_headers(secret: str | None, body: bytes) -> dict[str, str]:
    """Content-Type plus the signatures (none when no secret is configured)."""
    headers = {"Content-Type": "application/json"}
    if secret is not None:
        headers.update(sign(secret, body))
    return headers
