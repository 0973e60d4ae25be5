"""Agora's REST surface: Basic auth, the QPS limit, the App ID check, fault rules and the
calls log wrap each Cloud Recording / channel-management endpoint."""

from __future__ import annotations

import asyncio
import base64
import binascii
import hmac
import json
from collections.abc import Callable

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sandbox import endpoints
from sandbox.fields import InvalidParameter
from sandbox.models import AgoraError, CallRecord, Endpoint, JsonObject, Mode
from sandbox.world import Sandbox

NO_ROUTE = "no Route matched with those values"
_RECORDING = "/v1/apps/{appid}/cloud_recording"
_TASK = _RECORDING + "/resourceid/{resourceid}/sid/{sid}/mode/{mode}"

Operation = Callable[[Sandbox, Request, object], JsonObject]


def _world(request: Request) -> Sandbox:
    world: Sandbox = request.app.state.sandbox
    return world


def _check_auth(request: Request, world: Sandbox) -> None:
    header = request.headers.get("authorization")
    if header is None:
        raise AgoraError(401, message="Unauthorized")
    scheme, _, encoded = header.partition(" ")
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True)
    except (binascii.Error, ValueError):
        decoded = b""
    user, _, password = decoded.partition(b":")
    config = world.config
    user_ok = hmac.compare_digest(user, config.customer_id.encode())
    password_ok = hmac.compare_digest(password, config.customer_secret.encode())
    if scheme.lower() != "basic" or not (user_ok and password_ok):
        raise AgoraError(401, message="Invalid authentication credentials")


async def _read_body(request: Request) -> object:
    if not request.headers.get("content-type", "").startswith("application/json"):
        raise AgoraError(400, code=8, reason="invalid http header: Content-Type must be JSON")
    try:
        return json.loads(await request.body())
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError
        raise AgoraError(400, code=2, reason="invalid parameter: body is not valid JSON") from exc


async def _answer(
    world: Sandbox, request: Request, endpoint: Endpoint, operation: Operation, with_body: bool
) -> tuple[int, JsonObject]:
    _check_auth(request, world)
    if not world.qps.admit():
        raise AgoraError(429, message="API rate limit exceeded")
    appid = request.path_params.get("appid")
    if appid is not None and appid != world.config.app_id:
        management = endpoint in (Endpoint.USER_LIST, Endpoint.CHANNEL_LIST)
        text = "invalid appid" if management else "appid is invalid"
        raise AgoraError(400, message=text)
    fault = world.faults.for_request(endpoint)
    if fault is not None and fault.error is not None and not fault.after:
        await asyncio.sleep(fault.latency_s)
        raise fault.error
    body = await _read_body(request) if with_body else None
    try:
        result = operation(world, request, body)
    except InvalidParameter as exc:
        raise exc.to_agora() from exc
    if fault is not None:
        await asyncio.sleep(fault.latency_s)
        if fault.error is not None:
            raise fault.error
    return 200, result


def _record(
    world: Sandbox,
    arrived_s: float,
    request: Request,
    endpoint: Endpoint,
    status: int,
    body: JsonObject,
) -> None:
    code = body.get("code")
    world.calls.append(
        CallRecord(
            t=arrived_s,
            method=request.method,
            path=request.url.path,
            endpoint=endpoint,
            status=status,
            code=code if isinstance(code, int) else None,
        )
    )
    if status == 429:
        world.stats.rejected_429 += 1


def _route(path: str, endpoint: Endpoint, method: str, operation: Operation) -> Route:
    with_body = method == "POST"

    async def handler(request: Request) -> Response:
        world = _world(request)
        arrived_s = world.clock.monotonic()
        world.tick()
        world.stats.requests_total += 1
        try:
            status, body = await _answer(world, request, endpoint, operation, with_body)
        except AgoraError as exc:
            status, body = exc.status, exc.body()
        _record(world, arrived_s, request, endpoint, status, body)
        return JSONResponse(body, status_code=status)

    return Route(path, handler, methods=[method], name=str(endpoint))


def _mode(request: Request) -> Mode:
    try:
        return Mode(request.path_params["mode"])
    except ValueError:
        raise AgoraError(404, message=NO_ROUTE) from None


def _task_keys(request: Request) -> tuple[str, str, Mode]:
    params = request.path_params
    return params["resourceid"], params["sid"], _mode(request)


async def _unknown(request: Request) -> Response:
    """Anything else: Agora's gateway 404 (logged as a REST call), or an admin 404."""
    if request.url.path.startswith("/_sandbox/"):
        return JSONResponse({"error": f"no admin call {request.url.path}"}, status_code=404)
    world = _world(request)
    arrived_s = world.clock.monotonic()
    world.stats.requests_total += 1
    body = {"message": NO_ROUTE}
    _record(world, arrived_s, request, Endpoint.UNKNOWN, 404, body)
    return JSONResponse(body, status_code=404)


def agora_routes() -> list[Route]:
    """The Agora endpoints, in matching order (the catch-all comes last)."""
    return [
        _route(
            f"{_RECORDING}/acquire",
            Endpoint.ACQUIRE,
            "POST",
            lambda w, r, b: endpoints.acquire(w, b),
        ),
        _route(
            f"{_RECORDING}/resourceid/{{resourceid}}/mode/{{mode}}/start",
            Endpoint.START,
            "POST",
            lambda w, r, b: endpoints.start(w, r.path_params["resourceid"], _mode(r), b),
        ),
        _route(
            f"{_TASK}/query",
            Endpoint.QUERY,
            "GET",
            lambda w, r, b: endpoints.query(w, *_task_keys(r)),
        ),
        _route(
            f"{_TASK}/update",
            Endpoint.UPDATE,
            "POST",
            lambda w, r, b: endpoints.update(w, *_task_keys(r), b),
        ),
        _route(
            f"{_TASK}/updateLayout",
            Endpoint.UPDATE_LAYOUT,
            "POST",
            lambda w, r, b: endpoints.update_layout(w, *_task_keys(r), b),
        ),
        _route(
            f"{_TASK}/stop",
            Endpoint.STOP,
            "POST",
            lambda w, r, b: endpoints.stop(w, *_task_keys(r), b),
        ),
        _route(
            "/dev/v1/channel/user/{appid}/{channel}",
            Endpoint.USER_LIST,
            "GET",
            lambda w, r, b: endpoints.user_list(
                w, r.path_params["channel"], hosts_only="hosts_only" in r.query_params
            ),
        ),
        _route(
            "/dev/v1/channel/{appid}",
            Endpoint.CHANNEL_LIST,
            "GET",
            lambda w, r, b: endpoints.channel_list(
                w, r.query_params.get("page_no"), r.query_params.get("page_size")
            ),
        ),
        _route("/v1/ncs/ip", Endpoint.NCS_IP, "GET", lambda w, r, b: endpoints.ncs_ips()),
        _route("/v2/ncs/ip", Endpoint.NCS_IP, "GET", lambda w, r, b: endpoints.ncs_ips()),
    ]


def catch_all_route() -> Route:
    """The gateway's 404 for every other method and path."""
    methods = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]
    return Route("/{path:path}", _unknown, methods=methods)
