"""What the controller's jobs need, built once per worker process (the typed job context).

`ControllerDeps` bundles the Redis client (arq's pool), the Agora client (its rate-limit hook is the
shared `RateLimiter`), the slots, the policies, the stores and the timing `ControllerConfig`.
`build_deps` makes it from Settings in `worker.main.startup`; tests build it the same way.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import httpx
from arq.connections import ArqRedis
from pydantic import SecretStr

from worker.agora import AgoraClient, RetryPolicy
from worker.controller.metrics import ControllerMetrics
from worker.controller.recorder_uids import RecorderUids, recorder_uids
from worker.controller.start_request import StorageTarget
from worker.ingest.normalize import UidRange
from worker.notify.emit import Notifier
from worker.policies import PolicySet, load_policies
from worker.settings import Settings
from worker.state.history import HistoryStore
from worker.state.occupancy import OccupancyRules, OccupancyScript
from worker.state.outbox import Endpoint, Outbox
from worker.state.ratelimit import RateLimiter
from worker.state.sessions import SessionStore
from worker.state.slots import Slots


@dataclass(frozen=True, slots=True)
class ControllerConfig:
    """Timings and identities of the controller (ms unless named otherwise)."""

    app_id: str
    app_certificate: SecretStr | None
    storage: StorageTarget
    recorder_range: UidRange
    lock_ttl_ms: int = 3_000
    """Lifetime of the channel lock without renewal (its holder renews it every third)."""
    confirm_delay_ms: int = 5_000
    not_found_backoff_ms: tuple[int, ...] = (5_000, 10_000, 15_000, 20_000, 30_000)
    """Query 404 → look again after each of these in turn (the last repeats), until the
    failover window has passed."""
    failover_window_ms: int = 120_000
    """How long after its first query 404 a task still counts as running: Agora's failover
    moves a task within 90 s and answers 404 meanwhile (AUTOREC_FAILOVER_WINDOW_S)."""
    dead_stop_attempts: int = 3
    """Stop calls sent to a task declared dead before its session ends without an answer."""
    start_status_timeout_ms: int = 90_000
    """A task whose status never reaches 4/5 this long after start counts as dead."""
    retry_delay_ms: int = 3_000
    """Next attempt after a transient Agora failure."""
    no_capacity_retry_ms: int = 5_000
    """Next attempt after Agora answered 406/502 (no capacity)."""
    failure_backoff_ms: int = 60_000
    """No new start for a channel this long after a hard start failure (bad request)."""
    stop_failure_retry_ms: int = 30_000
    """Next stop attempt after a stop Agora refused as invalid."""
    sid_unknown_margin_ms: int = 60_000
    sid_probe_ms: int = 120_000
    """A wanted session of unknown sid probes with a fresh start after this long."""
    limiter_timeout_s: float = 20.0
    """Longest wait for a request permit inside one job."""
    user_list_quiet_ms: int = 5_000
    """The user-list check leaves alone channels with an event newer than this (at most one
    reconcile interval, so a lost notification is healed by the next pass but one)."""
    alternate_uid_window_ms: int = 600_000
    """A new session within this time of the last one uses the other recorder uid."""
    segment_window_ms: int = 600_000
    """A recording that starts within this time after the channel's last one stopped for
    `max_duration_s` continues it as its next segment."""
    reconcile_interval_s: float = 30.0
    max_api_qps: float = 10.0

    def uids(self, channel: str) -> RecorderUids:
        """The channel's recorder uid pair."""
        return recorder_uids(channel, self.recorder_range.lo, self.recorder_range.hi)


@dataclass(slots=True)
class ControllerDeps:
    """Everything a reconcile needs; shared by the jobs of one worker process."""

    redis: ArqRedis
    """arq's pool: our own keys live in it and wake-ups are enqueued through it."""
    agora: AgoraClient
    slots: Slots
    limiter: RateLimiter
    policies: PolicySet
    sessions: SessionStore
    history: HistoryStore
    occupancy: OccupancyScript
    config: ControllerConfig
    notifier: Notifier
    """Writes the app's notifications with the state changes they report."""
    metrics: ControllerMetrics = field(default_factory=ControllerMetrics.create)
    """The controller's metrics (on the worker's registry)."""

    def rules(self, channel: str) -> OccupancyRules:
        """The channel's occupancy rules, from its policy."""
        policy = self.policies.match(channel)
        return OccupancyRules(
            record=policy.record, min_users=policy.min_users, count_audience=policy.count_audience
        )


def controller_config(settings: Settings) -> ControllerConfig:
    """The controller's config from Settings (ConfigError if Agora or storage is missing)."""
    settings.require_agora()
    assert settings.agora_app_id is not None
    lo, hi = settings.recorder_uid_range
    return ControllerConfig(
        app_id=settings.agora_app_id,
        app_certificate=settings.agora_app_certificate,
        storage=StorageTarget.from_settings(settings),
        recorder_range=UidRange(lo, hi),
        confirm_delay_ms=int(settings.autorec_confirm_delay_s * 1000),
        failover_window_ms=int(settings.autorec_failover_window_s * 1000),
        limiter_timeout_s=max(1.0, settings.autorec_reconcile_timeout_s / 3),
        reconcile_interval_s=settings.autorec_reconcile_interval_s,
        user_list_quiet_ms=int(min(5.0, settings.autorec_reconcile_interval_s) * 1000),
        max_api_qps=settings.autorec_max_api_qps,
    )


def build_deps(
    settings: Settings,
    *,
    arq: ArqRedis,
    http: httpx.AsyncClient,
    config: ControllerConfig | None = None,
    policies: PolicySet | None = None,
    retry: RetryPolicy | None = None,
    metrics: ControllerMetrics | None = None,
) -> ControllerDeps:
    """Wire the controller for one process (the caller owns `arq` and `http`; `http` counts
    Agora requests in `metrics` when made by `worker.controller.metrics.agora_http_client`)."""
    config = config or controller_config(settings)
    policies = policies or load_policies(
        settings.autorec_policy_file, default_grace_s=settings.autorec_empty_grace_s
    )
    limiter = RateLimiter(
        arq, qps=settings.autorec_max_api_qps, margin_ms=settings.autorec_api_qps_margin_ms
    )
    timeout_s = config.limiter_timeout_s

    async def rate_limit() -> None:
        await limiter.acquire(timeout_s=timeout_s)

    agora = AgoraClient.from_settings(
        http,
        settings,
        retry=retry or RetryPolicy(total_timeout_s=settings.autorec_reconcile_timeout_s / 3),
        rate_limiter=rate_limit,
    )
    return ControllerDeps(
        redis=arq,
        agora=agora,
        slots=Slots(arq, limit=settings.autorec_max_recordings),
        limiter=limiter,
        policies=policies,
        sessions=SessionStore(arq),
        history=HistoryStore(arq, history_days=settings.autorec_session_history_days),
        occupancy=OccupancyScript(),
        config=config,
        notifier=Notifier(outbox_for(arq, settings)),
        metrics=metrics or ControllerMetrics.create(),
    )


def outbox_for(redis: ArqRedis, settings: Settings) -> Outbox:
    """The outbox for the configured notification endpoints (none: the stream only)."""
    return Outbox(
        redis,
        [Endpoint(url) for url in settings.autorec_notify_urls],
        stream_maxlen=settings.autorec_notify_stream_maxlen,
    )
