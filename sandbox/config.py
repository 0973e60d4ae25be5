"""Sandbox configuration and the clocks every simulated Agora duration runs on."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from sandbox.models import Role

if TYPE_CHECKING:
    import httpx

_HEX32 = re.compile(r"[0-9a-fA-F]{32}")


class Clock(Protocol):
    """Where the sandbox reads time: a monotonic scale for timers and Unix time for bodies."""

    def monotonic(self) -> float:
        """Seconds on a monotonic scale (timers, windows, the calls log)."""
        ...

    def time(self) -> float:
        """Unix seconds (timestamps in NCS bodies and file lists, token expiry)."""
        ...


class SystemClock:
    """The real clock."""

    def monotonic(self) -> float:
        """`time.monotonic()`."""
        return time.monotonic()

    def time(self) -> float:
        """`time.time()`."""
        return time.time()


class ManualClock:
    """A clock that moves only when a test calls `advance(seconds)`."""

    def __init__(self, start_unix_s: float | None = None) -> None:
        self._monotonic_s = 1_000.0
        self._unix_s = time.time() if start_unix_s is None else start_unix_s

    def monotonic(self) -> float:
        """The manual monotonic reading."""
        return self._monotonic_s

    def time(self) -> float:
        """The manual Unix time; it starts at the real time of construction by default."""
        return self._unix_s

    def advance(self, seconds: float) -> None:
        """Move both readings forward by `seconds` (never backward)."""
        if seconds < 0:
            raise ValueError(f"a clock cannot go back: advance({seconds})")
        self._monotonic_s += seconds
        self._unix_s += seconds


@dataclass(repr=False)
class SandboxConfig:
    """Everything the sandbox needs; secrets stay out of `repr()`."""

    app_id: str = "5a4d5a1a1b5c4e1f9f3a7c2b8d6e0f11"
    customer_id: str = "sandbox-customer"
    customer_secret: str = "sandbox-secret"  # noqa: S105 - the sandbox's own default
    #: App certificate (32 hex); None: recorder tokens are not checked.
    app_certificate: str | None = None
    #: Where NCS events are POSTed; None: events are only logged in the world.
    ncs_url: str | None = None
    ncs_secret: str | None = None
    #: Running recordings allowed; acquire answers 400/406 vendor_over_load at the cap.
    max_concurrent: int = 50
    #: Admitted REST requests per sliding second before 429; None disables the limit.
    qps_limit: float | None = None
    #: Agora seconds a resource ID stays valid for `start`.
    resource_ttl_s: float = 300.0
    #: Multiplies every Agora duration (resource TTL, maxIdleTime, status steps, exit phase,
    #: maxRecordingHour): 0.01 makes them 100x shorter on the clock.
    time_scale: float = 1.0
    clock: Clock = field(default_factory=SystemClock)
    #: Seed of the fault and uid randomness (None: unpredictable).
    seed: int | None = None
    #: Agora seconds a task spends exiting after stop or idle exit (stop answers 400/49 then).
    exit_s: float = 2.0
    #: Role the recorder takes in a live-profile channel (NCS 105 for audience, 103 for host).
    recorder_live_role: Role = Role.AUDIENCE
    #: Real seconds an NCS receiver has to answer 200 before the delivery counts as failed.
    ncs_timeout_s: float = 10.0
    #: Real seconds before each resend of a failed NCS delivery (Agora: immediately, then
    #: increasing intervals, three retries).
    ncs_retry_delays_s: tuple[float, ...] = (0.0, 1.0, 3.0)
    #: Transport for NCS deliveries (tests pass `httpx.ASGITransport(receiver_app)`).
    ncs_transport: httpx.AsyncBaseTransport | None = None
    #: Real seconds between background timer evaluations.
    tick_s: float = 0.05

    def __post_init__(self) -> None:
        if not self.app_id:
            raise ValueError("SandboxConfig.app_id must not be empty")
        if not self.customer_id or not self.customer_secret:
            raise ValueError("SandboxConfig.customer_id and customer_secret must not be empty")
        if self.app_certificate is not None and not _HEX32.fullmatch(self.app_certificate):
            raise ValueError("SandboxConfig.app_certificate must be 32 hex characters")
        if self.ncs_url is not None and not self.ncs_url.startswith(("http://", "https://")):
            raise ValueError("SandboxConfig.ncs_url must be an http(s) URL")
        if self.max_concurrent < 0:
            raise ValueError(f"SandboxConfig.max_concurrent must be >= 0: {self.max_concurrent}")
        if self.qps_limit is not None and self.qps_limit <= 0:
            raise ValueError(f"SandboxConfig.qps_limit must be > 0 or None: {self.qps_limit}")
        if self.time_scale <= 0:
            raise ValueError(f"SandboxConfig.time_scale must be > 0: {self.time_scale}")
        for name in ("resource_ttl_s", "exit_s", "ncs_timeout_s", "tick_s"):
            if getattr(self, name) < 0:
                raise ValueError(f"SandboxConfig.{name} must be >= 0")
        if any(delay < 0 for delay in self.ncs_retry_delays_s):
            raise ValueError("SandboxConfig.ncs_retry_delays_s must not hold negative delays")
        self.recorder_live_role = Role(self.recorder_live_role)

    def __repr__(self) -> str:
        return (
            f"SandboxConfig(app_id={self.app_id!r}, customer_id={self.customer_id!r}, "
            f"tokens_checked={self.app_certificate is not None}, ncs_url={self.ncs_url!r}, "
            f"max_concurrent={self.max_concurrent}, qps_limit={self.qps_limit}, "
            f"time_scale={self.time_scale})"
        )

    def agora_s(self, seconds: float) -> float:
        """Clock seconds that an Agora duration of `seconds` takes in this sandbox."""
        return seconds * self.time_scale
