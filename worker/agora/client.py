"""The async Agora Cloud Recording client (plus channel user list and NCS IP list).

Every method validates its whole request first and raises `AgoraValidationError` naming the
field before anything is sent. Answers are typed models; failures are the errors of
`worker.agora.errors`.

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

from ipaddress import IPv4Address, IPv6Address
from typing import TYPE_CHECKING, Literal, TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel

from worker.agora.answers import (
    bad_response,
    may_have_started,
    parse_answer,
    parse_lenient,
    start_uncertain,
    stop_outcome,
)
from worker.agora.classify import Endpoint, ErrorClass
from worker.agora.core import ClientCore
from worker.agora.errors import (
    AgoraBadResponse,
    AgoraRetryableError,
    AgoraTransportError,
    AgoraValidationError,
)
from worker.agora.models.common import RecordingMode, channel_name_problem, secret_values
from worker.agora.models.modes import check_acquire, check_start, check_update, default_scene
from worker.agora.models.requests import (
    AcquireBody,
    AcquireClientRequest,
    StartBody,
    StartClientRequest,
    StopBody,
    StopClientRequest,
    UpdateBody,
    UpdateClientRequest,
    UpdateLayoutBody,
    UpdateLayoutClientRequest,
)
from worker.agora.models.responses import (
    AcquireResponse,
    ChannelUsers,
    NcsIpAnswer,
    QueryResponse,
    StartResponse,
    StopResponse,
    UpdateResponse,
    UserListAnswer,
)
from worker.agora.requester import Delivery, RateLimiter, no_rate_limit
from worker.agora.results import StartResult, StopResult
from worker.agora.retry import RetryPolicy
from worker.agora.wire import (
    check_cname,
    check_path_id,
    check_rule,
    encode_body,
    wire_bytes,
)

if TYPE_CHECKING:
    from worker.settings import Settings

_Model = TypeVar("_Model", bound=BaseModel)


class AgoraClient(ClientCore):
    """Agora REST client over an injected `httpx.AsyncClient` (the caller owns and closes it).

    Constructor: `AgoraClient(http, *, app_id, customer_id, customer_secret, base_urls,
    retry=None, rate_limiter=no_rate_limit, timeout_s=10.0, stop_timeout_s=30.0)`.
    """

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
        endpoint = Endpoint.ACQUIRE
        request = client_request if client_request is not None else AcquireClientRequest()
        if request.scene is None:
            request = request.model_copy(update={"scene": default_scene(mode)})
        check_cname(endpoint, cname, mode)
        body = encode_body(endpoint, AcquireBody, cname, uid, request)
        check_rule(endpoint, lambda: check_acquire(mode, body.client_request))
        answer = await self._requester.send(
            endpoint,
            "POST",
            f"{self._recording_path()}/acquire",
            body=wire_bytes(body),
            secrets=secret_values(body),
            timeout_s=self._timeout_s,
        )
        return parse_answer(endpoint, answer, AcquireResponse, self._redactor(secret_values(body)))

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
        endpoint = Endpoint.START
        check_path_id(endpoint, "resourceId", resource_id)
        check_cname(endpoint, cname, mode)
        body = encode_body(endpoint, StartBody, cname, uid, client_request)
        check_rule(endpoint, lambda: check_start(mode, body.client_request))
        secrets = secret_values(body)
        delivery = Delivery.IDEMPOTENT if retry_same_resource else Delivery.AT_MOST_ONCE
        try:
            answer = await self._requester.send(
                endpoint,
                "POST",
                f"{self._resource_path(resource_id)}/mode/{mode}/start",
                body=wire_bytes(body),
                delivery=delivery,
                absorb=frozenset({ErrorClass.ALREADY_STARTED}),
                secrets=secrets,
                timeout_s=self._timeout_s,
            )
            if answer.error_class is ErrorClass.ALREADY_STARTED:
                started = parse_lenient(answer, StartResponse)
                sid = (started.sid if started else None) or answer.error.sid or None
                return StartResult(
                    resource_id=resource_id,
                    sid=sid,
                    already_started=True,
                    request_id=answer.request_id,
                )
            response = parse_answer(endpoint, answer, StartResponse, self._redactor(secrets))
            if not response.sid:
                raise bad_response(endpoint, answer, "200 without a sid")
        except (AgoraTransportError, AgoraRetryableError, AgoraBadResponse) as exc:
            # On a fresh resource only undelivered attempts were repeated, so the last error
            # tells whether Agora may have acted; after same-resource retries, any may have.
            if retry_same_resource or may_have_started(exc):
                raise start_uncertain(resource_id, exc) from exc
            raise
        return StartResult(
            resource_id=resource_id,
            sid=response.sid,
            already_started=False,
            request_id=answer.request_id,
        )

    async def query(self, *, resource_id: str, sid: str, mode: RecordingMode) -> QueryResponse:
        """The task's status and files; `AgoraNotFound` once it is gone (or failing over)."""
        endpoint = Endpoint.QUERY
        check_path_id(endpoint, "resourceId", resource_id)
        check_path_id(endpoint, "sid", sid)
        answer = await self._requester.send(
            endpoint,
            "GET",
            f"{self._session_path(resource_id, sid)}/mode/{mode}/query",
            timeout_s=self._timeout_s,
        )
        return parse_answer(endpoint, answer, QueryResponse, self._redactor(()))

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
        endpoint = Endpoint.UPDATE
        check_path_id(endpoint, "resourceId", resource_id)
        check_path_id(endpoint, "sid", sid)
        check_cname(endpoint, cname, mode)
        body = encode_body(endpoint, UpdateBody, cname, uid, client_request)
        check_rule(endpoint, lambda: check_update(mode, body.client_request))
        secrets = secret_values(body)
        answer = await self._requester.send(
            endpoint,
            "POST",
            f"{self._session_path(resource_id, sid)}/mode/{mode}/update",
            body=wire_bytes(body),
            secrets=secrets,
            timeout_s=self._timeout_s,
        )
        return parse_answer(endpoint, answer, UpdateResponse, self._redactor(secrets))

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
        endpoint = Endpoint.UPDATE_LAYOUT
        check_path_id(endpoint, "resourceId", resource_id)
        check_path_id(endpoint, "sid", sid)
        check_cname(endpoint, cname, RecordingMode.MIX)
        body = encode_body(endpoint, UpdateLayoutBody, cname, uid, client_request)
        answer = await self._requester.send(
            endpoint,
            "POST",
            f"{self._session_path(resource_id, sid)}/mode/{RecordingMode.MIX}/updateLayout",
            body=wire_bytes(body),
            timeout_s=self._timeout_s,
        )
        return parse_answer(endpoint, answer, UpdateResponse, self._redactor(()))

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
        endpoint = Endpoint.STOP
        check_path_id(endpoint, "resourceId", resource_id)
        check_path_id(endpoint, "sid", sid)
        check_cname(endpoint, cname, mode)
        body = encode_body(endpoint, StopBody, cname, uid, StopClientRequest(async_stop=async_stop))
        answer = await self._requester.send(
            endpoint,
            "POST",
            f"{self._session_path(resource_id, sid)}/mode/{mode}/stop",
            body=wire_bytes(body),
            absorb=frozenset({ErrorClass.ALREADY_STOPPED}),
            timeout_s=self._timeout_s if async_stop else self._stop_timeout_s,
        )
        return StopResult(
            outcome=stop_outcome(answer),
            status=answer.status,
            code=answer.error.code,
            response=parse_lenient(answer, StopResponse) if answer.status in (200, 206) else None,
            request_id=answer.request_id,
        )

    # --- Channel management and NCS ------------------------------------------------------

    async def channel_users(self, channel_name: str, *, hosts_only: bool = False) -> ChannelUsers:
        """Who is in an RTC channel now (`hosts_only`: broadcasters of a live channel)."""
        endpoint = Endpoint.USER_LIST
        problem = channel_name_problem(channel_name, None)
        if problem is not None:
            raise AgoraValidationError("channelName", problem, endpoint=endpoint)
        answer = await self._requester.send(
            endpoint,
            "GET",
            f"/dev/v1/channel/user/{quote(self._app_id, safe='')}/{quote(channel_name, safe='')}",
            params={"hosts_only": "true"} if hosts_only else None,
            timeout_s=self._timeout_s,
        )
        listing = parse_answer(endpoint, answer, UserListAnswer, self._redactor(()))
        if not listing.success:
            raise bad_response(endpoint, answer, '"success" is false')
        return listing.data

    async def ncs_ips(self, *, version: Literal[1, 2] = 2) -> list[IPv4Address | IPv6Address]:
        """The addresses Agora's Notification Center sends from (refresh at least daily)."""
        endpoint = Endpoint.NCS_IP
        answer = await self._requester.send(
            endpoint, "GET", f"/v{version}/ncs/ip", timeout_s=self._timeout_s
        )
        listing = parse_answer(endpoint, answer, NcsIpAnswer, self._redactor(()))
        return [host.primary_ip for host in listing.data.service.hosts]
