"""The secrets `autorec dev` generates for one run: the sandbox's Agora credentials and
storage, the API token and the events secret. Each run has fresh ones; a value the
configuration sets is never replaced."""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass

from pydantic import SecretStr

from worker.settings import Settings


@dataclass(frozen=True)
class ApiSecrets:
    """The API token and events secret generated for one run (None: configured, so the
    children read it from the configuration and nothing is generated)."""

    api_token: str | None
    events_secret: str | None
    """A Standard Webhooks secret: `whsec_` and base64 of 24 random bytes."""

    def env(self) -> dict[str, str]:
        """The variables that pass the generated secrets to the children."""
        pairs = (
            ("AUTOREC_API_TOKEN", self.api_token),
            ("AUTOREC_EVENTS_SECRET", self.events_secret),
        )
        return {name: value for name, value in pairs if value is not None}


def sandbox_credentials() -> dict[str, str]:
    """Fresh credentials shared by the sandbox and autorec for this run only."""
    return {
        "AGORA_APP_ID": secrets.token_hex(16),
        "AGORA_APP_CERTIFICATE": secrets.token_hex(16),
        "AGORA_CUSTOMER_ID": f"dev-{secrets.token_hex(4)}",
        "AGORA_CUSTOMER_SECRET": secrets.token_urlsafe(24),
        "AGORA_NCS_SECRET": secrets.token_urlsafe(24),
    }


def sandbox_storage() -> dict[str, str]:
    """A storage target for the sandbox, which checks its shape but uploads nothing."""
    return {
        "STORAGE_VENDOR": "1",
        "STORAGE_REGION": "0",
        "STORAGE_BUCKET": "autorec-dev",
        "STORAGE_ACCESS_KEY": f"dev-{secrets.token_hex(8)}",
        "STORAGE_SECRET_KEY": secrets.token_urlsafe(24),
    }


def api_secrets(settings: Settings) -> ApiSecrets:
    """Fresh secrets for this run, except those the configuration sets."""
    token = None if _configured(settings.autorec_api_token) else secrets.token_urlsafe(24)
    events = None
    if not _configured(settings.autorec_events_secret):
        events = "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode("ascii")
    return ApiSecrets(api_token=token, events_secret=events)


def _configured(secret: SecretStr | None) -> bool:
    return secret is not None and bool(secret.get_secret_value())
