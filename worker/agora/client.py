"""The async Agora Cloud Recording client (plus channel user and channel lists, NCS IP list).

Every method validates its whole request first (`worker.agora.calls`) and raises
`AgoraValidationError` naming the field before anything is sent. Answers are typed models;
failures are the errors of `worker.agora.errors`.

`start` is never repeated blindly on a fresh resource: with the default
`retry_same_resource=False` only failures Agora cannot have acted on are retried (no
connection, 429). Any failure that may have reached Agora (timeout after sending, 5xx,
206/65, 504/62, an unreadable 200) raises `AgoraStartUncertain`. The caller may then call
`start(..., retry_same_resource=True)` with the same resourceId: that call retries freely, and
a 201/code 7 ("already started") comes back as `StartResult(already_started=True)`.

`stop` returns a `StopResult` for every terminal answer (200, 206/435, 400/49, 404) and
raises only for the others.

Every HTTP attempt first awaits the `rate_limiter` hook. Transient failures (transport errors,
5xx, 206/65, 504/62, 429) are retried under the `RetryPolicy`; a transport failure moves the
next attempt to the next base URL, and the URL that last answered is tried first by later
calls. Each attempt is logged on `worker.agora` with endpoint, status, code, attempt, latency
and request id, never with headers or bodies.
"""

from __future__ import annotations

from collections.abc import Sequence
from ipaddress import IPv4Address, IPv6Address
from typing import TYPE_CHECKING, Literal, TypeVar

import httpx
from pydantic import BaseModel, SecretStr

from worker.agora.answers import (
    bad_response,
    may_have_started,
    parse_answer,
    start_result,
    start_uncertain,
    stop_result,
)
from worker.agora.calls import (
    Call,
    RecordingPaths,
    acquire_call,
    channel_list_call,
    ncs_ip_call,
    query_call,
    start_call,
    stop_call,
    update_call,
    update_layout_call,
    user_list_call,
)
from worker.agora.classify import ErrorClass
from worker.agora.errors import AgoraBadResponse, AgoraRetryableError, AgoraTransportError
from worker.agora.models.common import RecordingMode
from worker.agora.models.requests import (
    AcquireClientRequest,
    StartClientRequest,
    UpdateClientRequest,
    UpdateLayoutClientRequest,
)
from worker.agora.models.responses import (
    AcquireResponse,
    ChannelListAnswer,
    ChannelListPage,
    ChannelUsers,
    NcsIpAnswer,
    QueryResponse,
    UpdateResponse,
    UserListAnswer,
)
from worker.agora.requester import Answer, Delivery, RateLimiter, Requester, no_rate_limit
from worker.agora.results import StartResult, StopResult
from worker.agora.retry import RetryPolicy

if TYPE_CHECKING:
    from worker.settings import Settings

_Model = TypeVar("_Model", bound=BaseModel)


class AgoraClient:
    """Agora REST client over an injected `httpx.AsyncClient` (the caller owns and closes it).

    It builds each call with `worker.agora.calls` for its App ID's `RecordingPaths` and sends
    it through one `Requester` (credentials, base URLs, retries, rate-limit hook).
    """

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        app_id: str,
        customer_id: str,
        customer_secret: SecretStr,
        base_urls: Sequence[str],
        retry: RetryPolicy | None = None,
        rate_limiter: RateLimiter = no_rate_limit,
        timeout_s: float = 10.0,
        stop_timeout_s: float = 30.0,
    ) -> None:
        self._paths = RecordingPaths(app_id)
        if not customer_id:
            raise ValueError("customer_id must not be empty")
        if not customer_secret.get_secret_value():
            raise ValueError("customer_secret must not be empty")
        for url in base_urls:
            if not url.startswith(("http://", "https://")):
                raise ValueError(f"base URL {url!r} is not an http(s) URL")
        if timeout_s <= 0 or stop_timeout_s <= 0:
            raise ValueError("timeouts must be positive")
        self._timeout_s = timeout_s
        self._stop_timeout_s = stop_timeout_s
        self._requester = Requester(
            http,
            base_urls=base_urls,
            customer_id=customer_id,
            customer_secret=customer_secret,
            retry=retry if retry is not None else RetryPolicy(),
            rate_limiter=rate_limiter,
            timeout_s=timeout_s,
        )

    @classmethod
    def from_settings(
        cls,
        http: httpx.AsyncClient,
        settings: Settings,
        *,
        retry: RetryPolicy | None = None,
        rate_limiter: RateLimiter = no_rate_limit,
    ) -> AgoraClient:
        """A client configured from `Settings` (raises ConfigError if Agora is not set up)."""
        settings.require_agora()
        assert settings.agora_app_id is not None
        assert settings.agora_customer_id is not None
        assert settings.agora_customer_secret is not None
        return cls(
            http,
            app_id=settings.agora_app_id,
            customer_id=settings.agora_customer_id,
            customer_secret=settings.agora_customer_secret,
            base_urls=settings.agora_api_urls,
            retry=retry,
            rate_limiter=rate_limiter,
            timeout_s=settings.autorec_agora_timeout_s,
        )

    @property
    def app_id(self) -> str:
        """The App ID in every path."""
        return self._paths.app_id

    @property
    def preferred_base_url(self) -> str:
        """The base URL the next call tries first (the last one that answered)."""
        return self._requester.preferred_base_url

    # --- Cloud Recording -----------------------------------------------------------------

    async def acquire(
        self,
        *,
        cname: str,
        uid: str | int,
        mode: RecordingMode,
        client_request: AcquireClientRequest | None = None,
    ) -> AcquireResponse:
        """Reserve a resource for one recording (valid 5 minutes); `scene` follows `mode`."""
        call = acquire_call(
            self._paths, cname=cname, uid=uid, mode=mode, client_request=client_request
        )
        answer = await self._requester.send(call)
        return self._parse(call, answer, AcquireResponse)

    async def start(
        self,
        *,
        resource_id: str,
        cname: str,
        uid: str | int,
        mode: RecordingMode,
        client_request: StartClientRequest,
        retry_same_resource: bool = False,
    ) -> StartResult:
        """Start recording on an acquired resource.

        Raises `AgoraStartUncertain` when the task may or may not have started (see the
        module docstring); `AgoraConflict` for 53, `AgoraNoCapacity` for 502.
        """
        call = start_call(
            self._paths,
            resource_id=resource_id,
            cname=cname,
            uid=uid,
            mode=mode,
            client_request=client_request,
        )
        delivery = Delivery.IDEMPOTENT if retry_same_resource else Delivery.AT_MOST_ONCE
        try:
            answer = await self._requester.send(
                call, delivery=delivery, absorb=frozenset({ErrorClass.ALREADY_STARTED})
            )
            return start_result(resource_id, answer, self._requester.redactor(call.secrets))
        except (AgoraTransportError, AgoraRetryableError, AgoraBadResponse) as exc:
            # On a fresh resource only undelivered attempts were repeated, so the last error
            # tells whether Agora may have acted; after same-resource retries, any may have.
            if retry_same_resource or may_have_started(exc):
                raise start_uncertain(resource_id, exc) from exc
            raise

    async def query(self, *, resource_id: str, sid: str, mode: RecordingMode) -> QueryResponse:
        """The task's status and files; `AgoraNotFound` once it is gone (or failing over)."""
        call = query_call(self._paths, resource_id=resource_id, sid=sid, mode=mode)
        answer = await self._requester.send(call)
        return self._parse(call, answer, QueryResponse)

    async def update(
        self,
        *,
        resource_id: str,
        sid: str,
        cname: str,
        uid: str | int,
        mode: RecordingMode,
        client_request: UpdateClientRequest,
    ) -> UpdateResponse:
        """Change subscriptions, pause/resume a web recording, RTMP outputs or STS keys."""
        call = update_call(
            self._paths,
            resource_id=resource_id,
            sid=sid,
            cname=cname,
            uid=uid,
            mode=mode,
            client_request=client_request,
        )
        answer = await self._requester.send(call)
        return self._parse(call, answer, UpdateResponse)

    async def update_layout(
        self,
        *,
        resource_id: str,
        sid: str,
        cname: str,
        uid: str | int,
        client_request: UpdateLayoutClientRequest,
    ) -> UpdateResponse:
        """Replace the whole layout of a mix recording (omitted fields revert to defaults)."""
        call = update_layout_call(
            self._paths,
            resource_id=resource_id,
            sid=sid,
            cname=cname,
            uid=uid,
            client_request=client_request,
        )
        answer = await self._requester.send(call)
        return self._parse(call, answer, UpdateResponse)

    async def stop(
        self,
        *,
        resource_id: str,
        sid: str,
        cname: str,
        uid: str | int,
        mode: RecordingMode,
        async_stop: bool = False,
    ) -> StopResult:
        """Stop the task. Terminal answers (200, 206/435, 400/49, 404) return a StopResult.

        A synchronous stop (`async_stop=False`) waits for the uploads, so its attempts get
        `stop_timeout_s` instead of `timeout_s`.
        """
        call = stop_call(
            self._paths,
            resource_id=resource_id,
            sid=sid,
            cname=cname,
            uid=uid,
            mode=mode,
            async_stop=async_stop,
        )
        answer = await self._requester.send(
            call,
            absorb=frozenset({ErrorClass.ALREADY_STOPPED}),
            timeout_s=self._timeout_s if async_stop else self._stop_timeout_s,
        )
        return stop_result(answer)

    # --- Channel management and NCS ------------------------------------------------------

    async def channel_users(self, channel_name: str, *, hosts_only: bool = False) -> ChannelUsers:
        """Who is in an RTC channel now (`hosts_only`: broadcasters of a live channel)."""
        call = user_list_call(self._paths, channel_name, hosts_only=hosts_only)
        answer = await self._requester.send(call)
        listing = self._parse(call, answer, UserListAnswer)
        if not listing.success:
            raise bad_response(call.endpoint, answer, '"success" is false')
        return listing.data

    async def channel_list(self, *, page_no: int = 0, page_size: int = 100) -> ChannelListPage:
        """One page of the App ID's channels that have users, with their user counts.

        Agora pages a live list: a channel may repeat across pages, or be missed, when
        channels come and go while the pages are read.
        """
        call = channel_list_call(self._paths, page_no=page_no, page_size=page_size)
        answer = await self._requester.send(call)
        listing = self._parse(call, answer, ChannelListAnswer)
        if not listing.success:
            raise bad_response(call.endpoint, answer, '"success" is false')
        return listing.data

    async def ncs_ips(self, *, version: Literal[1, 2] = 2) -> list[IPv4Address | IPv6Address]:
        """The addresses Agora's Notification Center sends from (refresh at least daily)."""
        call = ncs_ip_call(version=version)
        answer = await self._requester.send(call)
        listing = self._parse(call, answer, NcsIpAnswer)
        return [host.primary_ip for host in listing.data.service.hosts]

    def _parse(self, call: Call, answer: Answer, model: type[_Model]) -> _Model:
        """The answer's body as `model` (AgoraBadResponse, secrets redacted, if it does not fit)."""
        return parse_answer(call.endpoint, answer, model, self._requester.redactor(call.secrets))
