"""The one settings object of an autorec process, read from the environment (and `.env`).

Variable names are the public contract of design §4: the field name, upper-cased, is the
environment variable (`agora_app_id` ← `AGORA_APP_ID`). Build it once per process in the
composition root (`Settings.load()`), pass it down; nothing else reads `os.environ`.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from worker.redis_target import RedisTarget, parse_redis_url
from worker.redis_target import redact_url as redact_url


class ConfigError(Exception):
    """A bad or missing configuration value; `str()` is one line naming the variable."""


_UID_MAX = 2**32 - 1
#: Agora's default limit of Cloud Recording REST requests per second per App ID.
AGORA_DEFAULT_QPS = 10
#: Replica wait of an accepted webhook event when REDIS_URL names a Sentinel set.
DEFAULT_SENTINEL_REPLICA_ACK_MS = 250


class Settings(BaseSettings):
    """autorec configuration. Every field's description feeds the README's table."""

    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        case_sensitive=False,
        validate_default=True,
    )

    # --- Agora ---------------------------------------------------------------------------
    agora_app_id: str | None = Field(
        default=None, description="Agora App ID (32 hex characters) of the channels to record."
    )
    agora_app_certificate: SecretStr | None = Field(
        default=None,
        description="App certificate; when set, autorec builds an AccessToken2 for each recorder.",
    )
    agora_customer_id: str | None = Field(
        default=None, description="RESTful API Customer ID (HTTP Basic auth user)."
    )
    agora_customer_secret: SecretStr | None = Field(
        default=None, description="RESTful API Customer Secret (HTTP Basic auth password)."
    )
    agora_api_urls: Annotated[list[str], NoDecode] = Field(
        default=["https://api.sd-rtn.com", "https://api.agora.io"],
        description="Comma-separated Agora REST base URLs, tried in order on transport failure.",
    )
    agora_ncs_secret: SecretStr | None = Field(
        default=None,
        description="Agora Notification Center signing secret; unset: /webhooks/agora answers 503.",
    )

    # --- Redis -----------------------------------------------------------------------------
    redis_url: str = Field(
        default="redis://localhost:6379/0",
        description="Redis URL (state, queue, events): redis://, rediss://, unix://, or a "
        "Sentinel set as redis+sentinel://[:password@]host:26379,host:26379,.../MASTER[/DB].",
    )
    autorec_replica_ack_timeout_ms: int | None = Field(
        default=None,
        ge=0,
        le=60_000,
        description="Milliseconds the webhook service waits for a replica to hold each accepted "
        "event (Redis WAIT) before answering 200, when the primary has replicas; none in time: "
        "503. 0 never waits; unset: 250 with a Sentinel REDIS_URL, else 0.",
    )

    # --- Controller -------------------------------------------------------------------------
    autorec_max_recordings: int = Field(
        default=50, ge=1, description="Concurrent recording limit across all workers."
    )
    autorec_max_api_qps: float = Field(
        default=10, gt=0, description="Agora requests per second across all workers."
    )
    autorec_api_qps_margin_ms: int = Field(
        default=100,
        ge=0,
        le=1000,
        description="Extra spacing (ms) the request-rate window keeps, so network jitter never "
        "lets Agora see more than AUTOREC_MAX_API_QPS requests in one second.",
    )
    autorec_empty_grace_s: float = Field(
        default=30,
        ge=0,
        description="Seconds to wait after a channel empties before stopping; a rejoin cancels.",
    )
    autorec_reconcile_interval_s: float = Field(
        default=30, gt=0, description="Seconds between periodic reconciles of every channel."
    )
    autorec_recorder_uids: str = Field(
        default="4200000000-4294967294",
        description="Reserved recorder uid range LO-HI, never used by app users.",
    )
    autorec_policy_file: str | None = Field(
        default=None, description="TOML file of recording policies; unset: the built-in default."
    )
    autorec_events_stream: str = Field(
        default="autorec:events", description="Redis Stream that carries channel events."
    )
    autorec_events_secret: SecretStr | None = Field(
        default=None,
        description="Standard Webhooks secret (whsec_...) for /webhooks/events; unset: 503.",
    )
    autorec_api_token: SecretStr | None = Field(
        default=None,
        description="Bearer token of the app-facing API (/api/v1) and the dashboard: may do "
        "everything; unset: /api/v1 answers 503.",
    )
    autorec_api_read_token: SecretStr | None = Field(
        default=None,
        description="Optional read-only bearer token of the API and the dashboard: GET only.",
    )
    autorec_notify_urls: Annotated[list[str], NoDecode] = Field(
        default=[],
        description="Comma-separated URLs that receive every recording lifecycle notification "
        "(signed per Standard Webhooks); unset: notifications go only to the Redis Stream "
        "autorec:notifications.",
    )
    autorec_notify_secret: SecretStr | None = Field(
        default=None,
        description="Standard Webhooks secret (whsec_...) that signs outgoing notifications; "
        "required with AUTOREC_NOTIFY_URLS.",
    )
    autorec_notify_retry_s: Annotated[list[float], NoDecode] = Field(
        default=[5, 30, 120, 600, 1800, 3600],
        description="Seconds between a notification's delivery attempts (comma-separated); the "
        "last repeats until AUTOREC_NOTIFY_MAX_AGE_S.",
    )
    autorec_notify_max_age_s: float = Field(
        default=26 * 3600,
        ge=60,
        description="Seconds a notification is retried before it is marked failed.",
    )
    autorec_notify_stream_maxlen: int = Field(
        default=10_000,
        ge=100,
        description="Approximate length the notifications stream (autorec:notifications) is "
        "trimmed to.",
    )
    autorec_session_history_days: float = Field(
        default=30, gt=0, description="Days a channel's recording history is kept."
    )
    autorec_dedupe_ttl_s: int = Field(
        default=4 * 24 * 3600,
        ge=60,
        description="Seconds an event id is remembered for deduplication (sender retry horizon).",
    )
    autorec_stream_maxlen: int = Field(
        default=1_000_000, ge=1000, description="Approximate maximum length of the event stream."
    )
    autorec_dead_letter_after: int = Field(
        default=5, ge=1, description="Deliveries of one stream entry before it is dead-lettered."
    )
    autorec_consumer_name: str | None = Field(
        default=None,
        description="Stable stream consumer name of this worker (default: host name + pid).",
    )
    autorec_worker_metrics_port: int = Field(
        default=9100, ge=0, le=65535, description="Worker Prometheus port (0 disables)."
    )
    autorec_worker_metrics_host: str = Field(
        default="0.0.0.0",  # noqa: S104 - scraped from outside the container
        description="Address the worker's Prometheus endpoint listens on (`autorec dev`: "
        "127.0.0.1).",
    )
    autorec_agora_timeout_s: float = Field(
        default=10, gt=0, description="Timeout of one Agora HTTP request, in seconds."
    )
    autorec_log_level: str = Field(default="INFO", description="Log level of all processes.")
    autorec_reconcile_timeout_s: float = Field(
        default=60,
        ge=5,
        description="Timeout of one reconcile job, in seconds.",
    )
    autorec_confirm_delay_s: float = Field(
        default=5,
        gt=0,
        description="Seconds after a start before the recording is confirmed by a query.",
    )
    autorec_failover_window_s: float = Field(
        default=120,
        gt=0,
        description="Seconds a recording whose query answers 404 is still counted as running "
        "(Agora's failover takes up to 90 s), before it is declared dead and replaced.",
    )
    autorec_idle_check_s: float = Field(
        default=1.0,
        gt=0,
        le=60,
        description="Longest wait of an idle `autorec worker` between two looks at the job "
        "queue; a queued job wakes it at once.",
    )
    autorec_poll_delay_s: float = Field(
        default=0.05,
        gt=0,
        description="Seconds between polls for due jobs of a worker run by arq's own command "
        "line (`arq worker.main.WorkerSettings`), which cannot wait for work.",
    )
    autorec_max_jobs: int = Field(
        default=100,
        ge=1,
        description="Jobs one worker runs at once (reconciles waiting on the rate limit included).",
    )

    # --- Storage (Agora storageConfig) -----------------------------------------------------
    storage_vendor: int | None = Field(
        default=None,
        description="Storage vendor: 1 S3, 2 Alibaba, 3 Tencent, 5 Azure, 6 Google, 7 Huawei, "
        "8 Baidu, 11 S3-compatible.",
    )
    storage_region: int | None = Field(default=None, description="Vendor's region code.")
    storage_bucket: str | None = Field(default=None, description="Bucket name.")
    storage_access_key: SecretStr | None = Field(default=None, description="Storage access key.")
    storage_secret_key: SecretStr | None = Field(default=None, description="Storage secret key.")
    storage_endpoint: str | None = Field(
        default=None, description="Endpoint of an S3-compatible store (vendor 11)."
    )

    @field_validator("agora_api_urls", mode="before")
    @classmethod
    def _split_urls(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("agora_api_urls")
    @classmethod
    def _check_urls(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("needs at least one URL")
        for url in value:
            if not re.match(r"^https?://[^\s/]+", url):
                raise ValueError(f"{url!r} is not an http(s) URL")
        return [url.rstrip("/") for url in value]

    @field_validator("autorec_notify_urls", mode="before")
    @classmethod
    def _split_notify_urls(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("autorec_notify_urls")
    @classmethod
    def _check_notify_urls(cls, value: list[str]) -> list[str]:
        for url in value:
            if not re.match(r"^https?://[^\s/]+", url):
                raise ValueError(f"{url!r} is not an http(s) URL")
        if len(set(value)) != len(value):
            raise ValueError("lists a URL twice")
        return value

    @field_validator("autorec_notify_retry_s", mode="before")
    @classmethod
    def _split_delays(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("autorec_notify_retry_s")
    @classmethod
    def _check_delays(cls, value: list[float]) -> list[float]:
        if not value or any(not 0 < delay <= 86_400 for delay in value):
            raise ValueError("needs one or more delays, each above 0 and at most 86400 s")
        return value

    @field_validator("redis_url")
    @classmethod
    def _check_redis_url(cls, value: str) -> str:
        parse_redis_url(value)  # its ValueError is the one-line message
        return value.strip()

    @field_validator("agora_app_id")
    @classmethod
    def _check_app_id(cls, value: str | None) -> str | None:
        # The same rule as the token builder's (worker.agora.token): 32 hexadecimal characters.
        if value and not re.fullmatch(r"[0-9A-Fa-f]{32}", value.strip()):
            raise ValueError("must be 32 hexadecimal characters (the App ID of the Agora console)")
        return value.strip() if value else value

    @field_validator("autorec_recorder_uids")
    @classmethod
    def _check_uid_range(cls, value: str) -> str:
        match = re.fullmatch(r"\s*(\d+)\s*-\s*(\d+)\s*", value)
        if not match:
            raise ValueError("must be a range LO-HI of integer uids")
        lo, hi = int(match[1]), int(match[2])
        if not 1 <= lo < hi <= _UID_MAX:
            raise ValueError(f"must satisfy 1 <= LO < HI <= {_UID_MAX}")
        return f"{lo}-{hi}"

    @model_validator(mode="after")
    def _check_storage(self) -> Settings:
        if self.storage_vendor == 11 and not self.storage_endpoint:
            raise ValueError("STORAGE_ENDPOINT is required when STORAGE_VENDOR is 11")
        return self

    @property
    def redis_target(self) -> RedisTarget:
        """REDIS_URL parsed: one server or a Sentinel set."""
        return parse_redis_url(self.redis_url)

    @property
    def replica_ack_timeout_ms(self) -> int:
        """How long an accepted webhook event waits for a replica (0: not at all)."""
        if self.autorec_replica_ack_timeout_ms is not None:
            return self.autorec_replica_ack_timeout_ms
        return DEFAULT_SENTINEL_REPLICA_ACK_MS if self.redis_target.is_sentinel else 0

    @property
    def recorder_uid_range(self) -> tuple[int, int]:
        """The reserved recorder uid range, inclusive."""
        lo, hi = self.autorec_recorder_uids.split("-")
        return int(lo), int(hi)

    @property
    def storage_configured(self) -> bool:
        """Whether every storage variable a start request needs is set."""
        return None not in (
            self.storage_vendor,
            self.storage_region,
            self.storage_bucket,
            self.storage_access_key,
            self.storage_secret_key,
        )

    def secret_values(self) -> list[str]:
        """Every configured secret's plain value (for log redaction and the I6 test)."""
        secrets = [
            self.agora_app_certificate,
            self.agora_customer_secret,
            self.agora_ncs_secret,
            self.autorec_events_secret,
            self.autorec_api_token,
            self.autorec_api_read_token,
            self.autorec_notify_secret,
            self.storage_access_key,
            self.storage_secret_key,
        ]
        return [s.get_secret_value() for s in secrets if s is not None and s.get_secret_value()]

    def warnings(self) -> list[str]:
        """Accepted values that are likely mistakes, one line each (logged once at start)."""
        found = []
        if self.autorec_max_api_qps > AGORA_DEFAULT_QPS:
            found.append(
                f"AUTOREC_MAX_API_QPS={self.autorec_max_api_qps:g} is above Agora's default "
                f"limit of {AGORA_DEFAULT_QPS} requests/s per App ID: Agora answers 429 "
                "unless it raised the limit for this App ID"
            )
        return found

    def require_agora(self) -> None:
        """Raise ConfigError naming the first Agora variable a worker needs that is unset."""
        for name in ("agora_app_id", "agora_customer_id", "agora_customer_secret"):
            if getattr(self, name) in (None, ""):
                raise ConfigError(f"{name.upper()} is required but not set")

    @classmethod
    def load(cls, **overrides: Any) -> Settings:
        """Build settings from the environment; a bad value raises ConfigError (one line)."""
        try:
            return cls(**overrides)
        except ValidationError as exc:
            raise ConfigError(_one_line(exc)) from None


def _one_line(exc: ValidationError) -> str:
    """The first validation error as `NAME: message`, never echoing a secret's value."""
    err = exc.errors(include_input=False, include_url=False)[0]
    name = ".".join(str(part) for part in err["loc"]).upper() or "configuration"
    message = str(err["msg"]).removeprefix("Value error, ")
    return f"{name}: {message}"
