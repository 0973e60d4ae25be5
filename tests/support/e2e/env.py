"""The configuration of an end-to-end stack: distinctive secrets and the environment.

One environment dict configures every autorec process of a stack, whether it runs as a child
process (`env=`) or in the test's process (`settings_from(env)`), so both flavours are wired
the same way. Every secret is random and distinctive, so a test can search any output for it.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Mapping
from dataclasses import dataclass

from worker.settings import Settings


@dataclass(frozen=True)
class StackSecrets:
    """Credentials shared by the sandbox and autorec for one stack."""

    app_id: str
    app_certificate: str
    customer_id: str
    customer_secret: str
    ncs_secret: str
    events_secret: str
    storage_access_key: str
    storage_secret_key: str
    api_token: str

    @classmethod
    def generate(cls) -> StackSecrets:
        """Fresh values; each secret carries a recognisable, unique marker."""
        tag = secrets.token_hex(4)
        return cls(
            app_id=secrets.token_hex(16),
            app_certificate=secrets.token_hex(16),
            customer_id=f"e2e-customer-{tag}",
            customer_secret=f"customer-secret-{secrets.token_urlsafe(18)}",
            ncs_secret=f"ncs-secret-{secrets.token_urlsafe(18)}",
            events_secret="whsec_" + base64.b64encode(secrets.token_bytes(24)).decode(),
            storage_access_key=f"AKIA{secrets.token_hex(8).upper()}",
            storage_secret_key=f"storage-secret-{secrets.token_urlsafe(24)}",
            api_token=f"api-token-{secrets.token_urlsafe(18)}",
        )

    def values(self) -> dict[str, str]:
        """Every secret value by name (the App ID and customer ID are not secrets)."""
        return {
            "app certificate": self.app_certificate,
            "customer secret": self.customer_secret,
            "NCS secret": self.ncs_secret,
            "events secret": self.events_secret,
            "events secret key": self.events_secret.removeprefix("whsec_"),
            "storage access key": self.storage_access_key,
            "storage secret key": self.storage_secret_key,
            "API token": self.api_token,
        }


#: Timings that keep scenarios fast; each test may override them.
FAST_TIMINGS: Mapping[str, str] = {
    "AUTOREC_EMPTY_GRACE_S": "0.3",
    "AUTOREC_RECONCILE_INTERVAL_S": "1",
    "AUTOREC_MAX_RECORDINGS": "50",
    "AUTOREC_MAX_API_QPS": "100",
    "AUTOREC_AGORA_TIMEOUT_S": "5",
}


def autorec_env(
    stack_secrets: StackSecrets,
    *,
    redis_url: str,
    agora_url: str | None = None,
    overrides: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The environment of every autorec process of a stack (design §4 variable names)."""
    env = {
        "AGORA_APP_ID": stack_secrets.app_id,
        "AGORA_APP_CERTIFICATE": stack_secrets.app_certificate,
        "AGORA_CUSTOMER_ID": stack_secrets.customer_id,
        "AGORA_CUSTOMER_SECRET": stack_secrets.customer_secret,
        "AGORA_NCS_SECRET": stack_secrets.ncs_secret,
        "REDIS_URL": redis_url,
        "AUTOREC_EVENTS_SECRET": stack_secrets.events_secret,
        "AUTOREC_API_TOKEN": stack_secrets.api_token,
        "AUTOREC_WORKER_METRICS_PORT": "0",
        "AUTOREC_LOG_LEVEL": "DEBUG",
        "STORAGE_VENDOR": "1",
        "STORAGE_REGION": "0",
        "STORAGE_BUCKET": "autorec-e2e",
        "STORAGE_ACCESS_KEY": stack_secrets.storage_access_key,
        "STORAGE_SECRET_KEY": stack_secrets.storage_secret_key,
        **FAST_TIMINGS,
    }
    if agora_url is not None:
        env["AGORA_API_URLS"] = agora_url
    env.update(overrides or {})
    return env


def settings_from(env: Mapping[str, str], **overrides: object) -> Settings:
    """The Settings a process started with `env` would build (init values beat the
    environment of the test process itself)."""
    values: dict[str, object] = {name.lower(): value for name, value in env.items()}
    values.update(overrides)
    # No `.env`: the stack is configured by `env` alone, as its child processes are.
    return Settings(_env_file=None, **values)  # type: ignore[arg-type]
