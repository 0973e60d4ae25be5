"""Every REST call of the client as a checked request: path, wire body and its secrets (pure).

Each builder validates its whole request and raises `AgoraValidationError` naming the field;
what it returns is ready to send and is sent unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal
from urllib.parse import quote

from pydantic import BaseModel

from worker.agora.classify import Endpoint
from worker.agora.errors import AgoraValidationError
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
from worker.agora.wire import (
    PATH_ID_CHARS,
    check_cname,
    check_path_id,
    check_rule,
    encode_body,
    wire_bytes,
)


@dataclass(frozen=True, slots=True)
class Call:
    """One request, checked and encoded: what the requester sends for an endpoint."""

    endpoint: Endpoint
    method: Literal["GET", "POST"]
    path: str
    body: bytes | None = None
    params: Mapping[str, str] | None = None
    secrets: tuple[str, ...] = ()
    """Secret values inside `body`, kept out of logs and error messages."""

    @classmethod
    def post(cls, endpoint: Endpoint, path: str, body: BaseModel) -> Call:
        """A POST of `body` in its wire form, its secrets noted for redaction."""
        return cls(
            endpoint, "POST", path, body=wire_bytes(body), secrets=tuple(secret_values(body))
        )


@dataclass(frozen=True, slots=True)
class RecordingPaths:
    """The REST paths of one App ID (without base URL); every id in a path is percent-quoted.

    Raises ValueError for an App ID that is empty or not letters and digits.
    """

    app_id: str

    def __post_init__(self) -> None:
        if not self.app_id or set(self.app_id) - PATH_ID_CHARS:
            raise ValueError("app_id must be a non-empty App ID (letters and digits)")

    def recording(self) -> str:
        """The Cloud Recording root of the App ID."""
        return f"/v1/apps/{quote(self.app_id, safe='')}/cloud_recording"

    def resource(self, resource_id: str) -> str:
        """One acquired resource."""
        return f"{self.recording()}/resourceid/{quote(resource_id, safe='')}"

    def session(self, resource_id: str, sid: str) -> str:
        """One recording task on a resource."""
        return f"{self.resource(resource_id)}/sid/{quote(sid, safe='')}"

    def user_list(self, channel_name: str) -> str:
        """The user list of an RTC channel (channel management API)."""
        return f"/dev/v1/channel/user/{quote(self.app_id, safe='')}/{quote(channel_name, safe='')}"

    def channel_list(self) -> str:
        """The list of the App ID's RTC channels that have users (channel management API)."""
        return f"/dev/v1/channel/{quote(self.app_id, safe='')}"


def acquire_call(
    paths: RecordingPaths,
    *,
    cname: str,
    uid: str | int,
    mode: RecordingMode,
    client_request: AcquireClientRequest | None,
) -> Call:
    """Reserve a resource; without a `scene` the request gets the one `mode` needs."""
    endpoint = Endpoint.ACQUIRE
    request = client_request if client_request is not None else AcquireClientRequest()
    if request.scene is None:
        request = request.model_copy(update={"scene": default_scene(mode)})
    check_cname(endpoint, cname, mode)
    body = encode_body(endpoint, AcquireBody, cname, uid, request)
    check_rule(endpoint, lambda: check_acquire(mode, body.client_request))
    return Call.post(endpoint, f"{paths.recording()}/acquire", body)


def start_call(
    paths: RecordingPaths,
    *,
    resource_id: str,
    cname: str,
    uid: str | int,
    mode: RecordingMode,
    client_request: StartClientRequest,
) -> Call:
    """Start recording on an acquired resource."""
    endpoint = Endpoint.START
    check_path_id(endpoint, "resourceId", resource_id)
    check_cname(endpoint, cname, mode)
    body = encode_body(endpoint, StartBody, cname, uid, client_request)
    check_rule(endpoint, lambda: check_start(mode, body.client_request))
    return Call.post(endpoint, f"{paths.resource(resource_id)}/mode/{mode}/start", body)


def query_call(paths: RecordingPaths, *, resource_id: str, sid: str, mode: RecordingMode) -> Call:
    """Ask for a task's status and files."""
    endpoint = Endpoint.QUERY
    check_path_id(endpoint, "resourceId", resource_id)
    check_path_id(endpoint, "sid", sid)
    return Call(endpoint, "GET", f"{paths.session(resource_id, sid)}/mode/{mode}/query")


def update_call(
    paths: RecordingPaths,
    *,
    resource_id: str,
    sid: str,
    cname: str,
    uid: str | int,
    mode: RecordingMode,
    client_request: UpdateClientRequest,
) -> Call:
    """Change a running task (subscriptions, web pause/resume, RTMP outputs, STS keys)."""
    endpoint = Endpoint.UPDATE
    check_path_id(endpoint, "resourceId", resource_id)
    check_path_id(endpoint, "sid", sid)
    check_cname(endpoint, cname, mode)
    body = encode_body(endpoint, UpdateBody, cname, uid, client_request)
    check_rule(endpoint, lambda: check_update(mode, body.client_request))
    return Call.post(endpoint, f"{paths.session(resource_id, sid)}/mode/{mode}/update", body)


def update_layout_call(
    paths: RecordingPaths,
    *,
    resource_id: str,
    sid: str,
    cname: str,
    uid: str | int,
    client_request: UpdateLayoutClientRequest,
) -> Call:
    """Replace the layout of a mix recording."""
    endpoint = Endpoint.UPDATE_LAYOUT
    check_path_id(endpoint, "resourceId", resource_id)
    check_path_id(endpoint, "sid", sid)
    check_cname(endpoint, cname, RecordingMode.MIX)
    body = encode_body(endpoint, UpdateLayoutBody, cname, uid, client_request)
    return Call.post(
        endpoint, f"{paths.session(resource_id, sid)}/mode/{RecordingMode.MIX}/updateLayout", body
    )


def stop_call(
    paths: RecordingPaths,
    *,
    resource_id: str,
    sid: str,
    cname: str,
    uid: str | int,
    mode: RecordingMode,
    async_stop: bool,
) -> Call:
    """Stop a task (`async_stop`: answer before the uploads finish)."""
    endpoint = Endpoint.STOP
    check_path_id(endpoint, "resourceId", resource_id)
    check_path_id(endpoint, "sid", sid)
    check_cname(endpoint, cname, mode)
    body = encode_body(endpoint, StopBody, cname, uid, StopClientRequest(async_stop=async_stop))
    return Call.post(endpoint, f"{paths.session(resource_id, sid)}/mode/{mode}/stop", body)


def user_list_call(paths: RecordingPaths, channel_name: str, *, hosts_only: bool) -> Call:
    """List the users of an RTC channel (`hosts_only`: broadcasters of a live channel)."""
    endpoint = Endpoint.USER_LIST
    problem = channel_name_problem(channel_name, None)
    if problem is not None:
        raise AgoraValidationError("channelName", problem, endpoint=endpoint)
    return Call(
        endpoint,
        "GET",
        paths.user_list(channel_name),
        params={"hosts_only": "true"} if hosts_only else None,
    )


#: Agora's bounds of the channel list's `page_size` (agora-facts §5).
CHANNEL_LIST_PAGE_SIZE_MAX = 500


def channel_list_call(paths: RecordingPaths, *, page_no: int, page_size: int) -> Call:
    """One page of the App ID's channels with users (`page_no` from 0, `page_size` 1..500)."""
    endpoint = Endpoint.CHANNEL_LIST
    if page_no < 0:
        raise AgoraValidationError("page_no", "must be 0 or more", endpoint=endpoint)
    if not 1 <= page_size <= CHANNEL_LIST_PAGE_SIZE_MAX:
        raise AgoraValidationError(
            "page_size", f"must be 1..{CHANNEL_LIST_PAGE_SIZE_MAX}", endpoint=endpoint
        )
    return Call(
        endpoint,
        "GET",
        paths.channel_list(),
        params={"page_no": str(page_no), "page_size": str(page_size)},
    )


def ncs_ip_call(*, version: Literal[1, 2]) -> Call:
    """List the addresses Agora's Notification Center sends from."""
    return Call(Endpoint.NCS_IP, "GET", f"/v{version}/ncs/ip")
