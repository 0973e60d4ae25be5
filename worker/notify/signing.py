"""Standard Webhooks signatures of outgoing notifications, with the official package.

`headers(id, body, now)` are the three headers of one attempt: `webhook-id` (the message's,
the same on every retry), `webhook-timestamp` (the attempt's, Unix seconds) and
`webhook-signature` (`v1,<base64 HMAC-SHA256(key, id.ts.body)>`).
"""

from __future__ import annotations

from datetime import UTC, datetime

from standardwebhooks.webhooks import Webhook


class Signer:
    """Signs with `AUTOREC_NOTIFY_SECRET` (`whsec_` + base64)."""

    def __init__(self, secret: str) -> None:
        if not secret.startswith("whsec_"):
            raise ValueError("must be whsec_ followed by base64 (Standard Webhooks)")
        try:
            self._webhook = Webhook(secret)
        except Exception:  # the package raises bare errors for bad base64
            raise ValueError("must be whsec_ followed by base64 (Standard Webhooks)") from None

    def headers(self, message_id: str, body: bytes, now_s: int) -> dict[str, str]:
        """The headers of one delivery attempt made at `now_s`."""
        at = datetime.fromtimestamp(now_s, tz=UTC)
        return {
            "webhook-id": message_id,
            "webhook-timestamp": str(now_s),
            "webhook-signature": self._webhook.sign(message_id, at, body.decode("utf-8")),
            "content-type": "application/json",
            "user-agent": "autorec",
        }
