"""The admin API (`/_sandbox/...`, JSON, no auth): simulate channel traffic, inspect tasks,
stats, calls and NCS events, inject faults, kill or fail over recordings, reset."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sandbox.channels import ChannelError
from sandbox.faults import FaultRule
from sandbox.fields import UID_MAX
from sandbox.models import JsonObject, Profile, Role
from sandbox.world import Sandbox

ModelT = TypeVar("ModelT", bound=BaseModel)
Handler = Callable[[Request, Sandbox], Awaitable[JsonObject | list[JsonObject]]]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class JoinBody(_Body):
    """`POST /_sandbox/channels/{channel}/join`."""

    uid: int = Field(ge=1, le=UID_MAX)
    role: Role = Role.HOST
    profile: Profile = Profile.COMMUNICATION
    platform: int = Field(default=7, ge=0, le=255)


class LeaveBody(_Body):
    """`POST /_sandbox/channels/{channel}/leave`."""

    uid: int = Field(ge=1, le=UID_MAX)
    reason: int = Field(default=1, ge=0, le=999)


class RoleBody(_Body):
    """`POST /_sandbox/channels/{channel}/role`."""

    uid: int = Field(ge=1, le=UID_MAX)
    role: Role


class FailoverBody(_Body):
    """`POST /_sandbox/recordings/{sid}/failover`."""

    not_found_s: float = Field(default=0.0, ge=0)


class AdminError(Exception):
    """A bad admin call; answered as `{"error": ...}` with `status`."""

    def __init__(self, status: int, message: str) -> None:
        self.status = status
        super().__init__(message)


async def _parse(request: Request, model: type[ModelT]) -> ModelT:
    raw = await request.body()
    try:
        return model.model_validate_json(raw or b"{}")
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'body'}: {err['msg']}"
            for err in exc.errors()
        )
        raise AdminError(400, problems) from exc


async def _join(request: Request, world: Sandbox) -> JsonObject:
    body = await _parse(request, JoinBody)
    channel = request.path_params["channel"]
    world.join(channel, body.uid, role=body.role, profile=body.profile, platform=body.platform)
    return _channel_view(world, channel)


async def _leave(request: Request, world: Sandbox) -> JsonObject:
    body = await _parse(request, LeaveBody)
    channel = request.path_params["channel"]
    world.leave(channel, body.uid, body.reason)
    return _channel_view(world, channel)


async def _role(request: Request, world: Sandbox) -> JsonObject:
    body = await _parse(request, RoleBody)
    channel = request.path_params["channel"]
    world.set_role(channel, body.uid, body.role)
    return _channel_view(world, channel)


def _channel_view(world: Sandbox, name: str) -> JsonObject:
    channel = world.channels.get(name)
    if channel is None:
        return {"channel": name, "profile": None, "members": []}
    return channel.summary()


async def _channels(request: Request, world: Sandbox) -> list[JsonObject]:
    return [channel.summary() for channel in world.channels.channels.values()]


async def _channel(request: Request, world: Sandbox) -> JsonObject:
    return _channel_view(world, request.path_params["channel"])


async def _recordings(request: Request, world: Sandbox) -> list[JsonObject]:
    now_s, scale = world.clock.monotonic(), world.config.time_scale
    return [task.summary(now_s, scale) for task in world.tasks.values()]


async def _kill(request: Request, world: Sandbox) -> JsonObject:
    world.kill(request.path_params["sid"])
    return {"ok": True}


async def _failover(request: Request, world: Sandbox) -> JsonObject:
    body = await _parse(request, FailoverBody)
    return {"new_uid": world.failover(request.path_params["sid"], body.not_found_s)}


async def _backup(request: Request, world: Sandbox) -> JsonObject:
    world.mark_backup(request.path_params["sid"])
    return {"ok": True}


async def _stats(request: Request, world: Sandbox) -> JsonObject:
    return world.stats_view()


async def _calls(request: Request, world: Sandbox) -> list[JsonObject]:
    return [call.as_dict() for call in world.calls]


async def _ncs(request: Request, world: Sandbox) -> list[JsonObject]:
    return [event.summary() for event in world.ncs_events]


async def _add_fault(request: Request, world: Sandbox) -> JsonObject:
    rule = await _parse(request, FaultRule)
    return {"id": world.faults.add(rule)}


async def _faults(request: Request, world: Sandbox) -> list[JsonObject]:
    return world.faults.listing()


async def _clear_faults(request: Request, world: Sandbox) -> JsonObject:
    world.faults.clear()
    return {"ok": True}


async def _reset(request: Request, world: Sandbox) -> JsonObject:
    world.reset()
    return {"ok": True}


def _admin(path: str, handler: Handler, method: str) -> Route:
    async def endpoint(request: Request) -> Response:
        world: Sandbox = request.app.state.sandbox
        world.tick()
        try:
            result = await handler(request, world)
        except (AdminError, ChannelError) as exc:
            return JSONResponse({"error": str(exc)}, status_code=exc.status)
        return JSONResponse(result)

    return Route(f"/_sandbox{path}", endpoint, methods=[method])


def admin_routes() -> list[Route]:
    """Every admin call."""
    return [
        _admin("/channels", _channels, "GET"),
        _admin("/channels/{channel}", _channel, "GET"),
        _admin("/channels/{channel}/join", _join, "POST"),
        _admin("/channels/{channel}/leave", _leave, "POST"),
        _admin("/channels/{channel}/role", _role, "POST"),
        _admin("/recordings", _recordings, "GET"),
        _admin("/recordings/{sid}/kill", _kill, "POST"),
        _admin("/recordings/{sid}/failover", _failover, "POST"),
        _admin("/recordings/{sid}/backup", _backup, "POST"),
        _admin("/stats", _stats, "GET"),
        _admin("/calls", _calls, "GET"),
        _admin("/ncs", _ncs, "GET"),
        _admin("/faults", _add_fault, "POST"),
        _admin("/faults", _faults, "GET"),
        _admin("/faults", _clear_faults, "DELETE"),
        _admin("/reset", _reset, "POST"),
    ]
