"""The Agora client's tests against the sandbox: credentials, a request-id gateway, fake pauses."""

from __future__ import annotations

import itertools
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sandbox.config import ManualClock, SandboxConfig
from sandbox.world import Sandbox
from worker.agora import AgoraClient, RetryPolicy, StartResult
from worker.agora.models import RecordingMode, StartClientRequest

APP_ID = "970CA35de60c44645bbae8a215061b33"
APP_CERT = "5CFd2fd1755d40ecb72977518be15d3b"
CUSTOMER_ID = "autorec-test-customer"
CUSTOMER_SECRET = "customer-secret-value-do-not-log"
SANDBOX_URL = "http://sandbox.test"
RECORDER = 4_200_000_001
ROOM = "room-1"


class RequestIdGateway:
    """Stands in for Agora's gateway in front of the sandbox: every Agora answer gets an
    `X-Request-ID` (the sandbox's admin API is left alone)."""

    def __init__(self, app: ASGIApp) -> None:
        self._app = app
        self._ids = itertools.count(1)
        self.last_id: str | None = None
        #: When set, 429 answers also carry `Retry-After` with this many seconds.
        self.retry_after_s: int | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith("/_sandbox/"):
            await self._app(scope, receive, send)
            return
        request_id = f"req-{next(self._ids):04d}"
        self.last_id = request_id

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [*message.get("headers", []), (b"x-request-id", request_id.encode())]
                if message["status"] == 429 and self.retry_after_s is not None:
                    headers.append((b"retry-after", str(self.retry_after_s).encode()))
                message = {**message, "headers": headers}
            await send(message)

        await self._app(scope, receive, send_with_id)


@dataclass
class Pauses:
    """An injected sleep that records each pause and advances a fake monotonic clock."""

    taken_s: list[float] = field(default_factory=list)
    now_s: float = 0.0

    async def sleep(self, seconds: float) -> None:
        """Record the pause and move the clock on, without waiting."""
        self.taken_s.append(seconds)
        self.now_s += seconds

    def clock(self) -> float:
        """The fake monotonic time in seconds."""
        return self.now_s


@dataclass
class Harness:
    """Everything a client test touches: the sandbox world, its admin API, the client maker."""

    world: Sandbox
    http: httpx.AsyncClient
    gateway: RequestIdGateway
    pauses: Pauses
    clock: ManualClock
    make_client: Callable[..., AgoraClient]

    async def admin(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        """Call the sandbox's admin API (`/_sandbox/...`)."""
        response = await self.http.request(method, f"{SANDBOX_URL}/_sandbox{path}", json=body)
        response.raise_for_status()
        return response.json()

    async def fault(self, **rule: Any) -> None:
        """Add a sandbox fault rule."""
        await self.admin("POST", "/faults", rule)

    async def calls(self, endpoint: str | None = None) -> list[dict[str, Any]]:
        """REST calls the sandbox received (optionally of one endpoint)."""
        calls: list[dict[str, Any]] = await self.admin("GET", "/calls")
        return [c for c in calls if endpoint is None or c["endpoint"] == endpoint]


def dead_url() -> str:
    """A loopback port nobody listens on (bound, then closed), so connections are refused."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def fast_retry(pauses: Pauses, **changes: Any) -> RetryPolicy:
    """A retry policy whose pauses cost no real time."""
    settings: dict[str, Any] = {
        "max_attempts": 4,
        "base_delay_s": 0.5,
        "max_delay_s": 4.0,
        "total_timeout_s": 60.0,
        "sleep": pauses.sleep,
        "clock": pauses.clock,
    }
    settings.update(changes)
    return RetryPolicy(**settings)


def sandbox_config_with(**changes: Any) -> SandboxConfig:
    """The tests' sandbox configuration (manual clock, fixed seed) with `changes`."""
    settings: dict[str, Any] = {
        "app_id": APP_ID,
        "customer_id": CUSTOMER_ID,
        "customer_secret": CUSTOMER_SECRET,
        "clock": ManualClock(),
        "seed": 7,
    }
    settings.update(changes)
    return SandboxConfig(**settings)


async def start_recording(
    agora: AgoraClient,
    mode: RecordingMode,
    request: StartClientRequest,
    *,
    cname: str = ROOM,
    uid: int = RECORDER,
) -> StartResult:
    """Acquire a resource and start `request` on it."""
    acquired = await agora.acquire(cname=cname, uid=uid, mode=mode)
    return await agora.start(
        resource_id=acquired.resource_id, cname=cname, uid=uid, mode=mode, client_request=request
    )


async def join(harness: Harness, uid: int, *, channel: str = ROOM, **extra: object) -> None:
    """Let `uid` join `channel` in the sandbox (`extra`: role and the like)."""
    await harness.admin("POST", f"/channels/{quote(channel, safe='')}/join", {"uid": uid, **extra})
