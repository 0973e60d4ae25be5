"""The Cloud Recording operations on the world: acquire, start, query, update, updateLayout,
stop, the channel user list and the channel list, each returning a 200 body or raising
AgoraError."""

from __future__ import annotations

import secrets

from sandbox.fields import InvalidParameter
from sandbox.models import AgoraError, JsonObject, Mode, Phase, worker_not_found
from sandbox.recordings import Resource, Task, query_body, stop_body
from sandbox.start_spec import START_FIELDS, parse_start
from sandbox.validation import (
    Identity,
    check_scene,
    parse_acquire,
    parse_stop,
    parse_update,
    parse_update_layout,
    read_identity,
)
from sandbox.world import Sandbox

#: Bytes of randomness in a resource ID (Agora's are long opaque URL-safe strings).
RESOURCE_ID_BYTES = 96


def _vendor_over_load() -> AgoraError:
    return AgoraError(400, code=406, reason="vendor_over_load")


def acquire(world: Sandbox, body: object) -> JsonObject:
    """Reserve a resource ID for one recording; 400/406 when running tasks are at the cap."""
    request = parse_acquire(body)
    if world.active >= world.config.max_concurrent:
        world.stats.rejected_406 += 1
        raise _vendor_over_load()
    resource_id = secrets.token_urlsafe(RESOURCE_ID_BYTES)
    world.resources[resource_id] = Resource(
        resource_id=resource_id,
        cname=request.cname,
        uid=request.uid,
        scene=request.scene,
        expires_at_s=world.clock.monotonic() + world.config.agora_s(world.config.resource_ttl_s),
        resource_expired_hour=request.resource_expired_hour,
        start_parameter=request.start_parameter,
    )
    return {"cname": request.cname, "uid": request.uid, "resourceId": resource_id}


def start(world: Sandbox, resource_id: str, mode: Mode, body: object) -> JsonObject:
    """Start a recording on a fresh resource (201/7 on a repeat, 400/53 on a busy uid)."""
    ident = read_identity(body, START_FIELDS, web=mode is Mode.WEB)
    resource = world.resources.get(resource_id)
    if resource is None:
        raise AgoraError(400, code=1001, reason="failed to parse resource ID")
    if (resource.cname, resource.uid) != (ident.cname, ident.uid):
        raise AgoraError(400, code=432, reason="cname or uid does not match the resource ID")
    now_s = world.clock.monotonic()
    if resource.sid is not None:
        if world.tasks[resource.sid].phase is not Phase.EXITED:
            raise AgoraError(201, code=7, reason="already started")
        raise AgoraError(400, code=433, reason="resource ID was already used; acquire a new one")
    if now_s >= resource.expires_at_s:
        raise AgoraError(400, code=433, reason="resource ID has expired; acquire a new one")
    check_scene(mode, resource.scene)
    spec = parse_start(mode, ident.request)
    if resource.start_parameter is not None and resource.start_parameter != ident.request.data:
        raise InvalidParameter("clientRequest", "differs from the startParameter of acquire")
    for task in world.tasks.values():
        if task.phase is Phase.RUNNING and (task.cname, task.uid) == (ident.cname, ident.uid):
            raise AgoraError(400, code=53, reason="task conflict")
    if world.active >= world.config.max_concurrent:
        world.stats.limit_violations += 1
        raise _vendor_over_load()
    sid = secrets.token_hex(16)
    resource.sid = sid
    task = Task(
        sid=sid,
        resource_id=resource_id,
        cname=ident.cname,
        uid=ident.uid,
        mode=mode,
        spec=spec,
        started_at_s=now_s,
        started_at_ms=int(world.clock.time() * 1000),
        api_until_s=now_s + world.config.agora_s(resource.resource_expired_hour * 3600),
        recorder_uid=int(ident.uid),
        onhold=spec.onhold,
        rtmp_urls=spec.rtmp_urls,
        audio=spec.audio,
        video=spec.video,
    )
    world.launch(task)
    return {"cname": ident.cname, "uid": ident.uid, "resourceId": resource_id, "sid": sid}


def _find(world: Sandbox, resource_id: str, sid: str, mode: Mode) -> Task:
    """The task behind (resourceId, sid), or 404 when unknown, expired or failing over."""
    task = world.tasks.get(sid)
    if task is None or task.resource_id != resource_id:
        raise worker_not_found()
    if task.mode is not mode:
        raise InvalidParameter("mode", f"does not match the recording's mode {task.mode}")
    now_s = world.clock.monotonic()
    if now_s >= task.api_until_s or now_s < task.unavailable_until_s:
        raise worker_not_found()
    return task


def _check_identity(task: Task, ident: Identity) -> None:
    if (ident.cname, ident.uid) != (task.cname, task.uid):
        raise InvalidParameter("cname", "and uid do not match the recording")


def query(world: Sandbox, resource_id: str, sid: str, mode: Mode) -> JsonObject:
    """Status and files of a running task; 404 once it is stopping or gone."""
    task = _find(world, resource_id, sid, mode)
    if task.phase is not Phase.RUNNING:
        raise worker_not_found()
    return query_body(task, world.clock.monotonic(), world.config.time_scale)


def update(world: Sandbox, resource_id: str, sid: str, mode: Mode, body: object) -> JsonObject:
    """Change subscriptions (individual/mix) or onhold/RTMP outputs (web) of a running task."""
    task = _find(world, resource_id, sid, mode)
    if task.phase is not Phase.RUNNING:
        raise worker_not_found()
    ident, change = parse_update(body, mode, task.spec)
    _check_identity(task, ident)
    task.audio = change.audio or task.audio
    task.video = change.video or task.video
    task.onhold = task.onhold if change.onhold is None else change.onhold
    task.rtmp_urls = task.rtmp_urls if change.rtmp_urls is None else change.rtmp_urls
    return task.identity()


def update_layout(
    world: Sandbox, resource_id: str, sid: str, mode: Mode, body: object
) -> JsonObject:
    """Replace the layout of a running mix task."""
    if mode is not Mode.MIX:
        raise InvalidParameter("mode", "must be mix for updateLayout")
    task = _find(world, resource_id, sid, mode)
    if task.phase is not Phase.RUNNING:
        raise worker_not_found()
    _check_identity(task, parse_update_layout(body))
    return task.identity()


def stop(world: Sandbox, resource_id: str, sid: str, mode: Mode, body: object) -> JsonObject:
    """Stop a running task: 200 with its files, 206/435 if nothing was recorded, 400/49 while
    it is already exiting, 404 once it is gone."""
    task = _find(world, resource_id, sid, mode)
    ident, _async_stop = parse_stop(body, web=mode is Mode.WEB)
    _check_identity(task, ident)
    if task.phase is Phase.EXITING:
        raise AgoraError(400, code=49, reason="invalid operation")
    if task.phase is Phase.EXITED:
        raise worker_not_found()
    try:
        answer = stop_body(task)
    finally:
        world.stop_task(task)
    return answer


def user_list(world: Sandbox, channel: str, *, hosts_only: bool) -> JsonObject:
    """The channel-management user list, recorders included."""
    return world.channels.user_list(channel, hosts_only=hosts_only)


#: The channel list's page size bounds and default (agora-facts §5).
PAGE_SIZE_MAX = 500
PAGE_SIZE_DEFAULT = 100


def _page_param(raw: str | None, name: str, default: int, lowest: int, highest: int) -> int:
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise AgoraError(400, message=f"invalid {name}") from None
    if not lowest <= value <= highest:
        raise AgoraError(400, message=f"invalid {name}")
    return value


def channel_list(world: Sandbox, page_no: str | None, page_size: str | None) -> JsonObject:
    """One page of the channels with members (`page_no` from 0, `page_size` 1..500)."""
    number = _page_param(page_no, "page_no", 0, 0, 2**31 - 1)
    size = _page_param(page_size, "page_size", PAGE_SIZE_DEFAULT, 1, PAGE_SIZE_MAX)
    return world.channels.channel_list(page_no=number, page_size=size)


def ncs_ips() -> JsonObject:
    """The NCS source IP list (the sandbox sends from loopback)."""
    return {"data": {"service": {"hosts": [{"primaryIP": "127.0.0.1"}]}}}
