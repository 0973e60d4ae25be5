"""`/api/v1/channels`: tracked channels, and manual control of one channel's recording.

Manual control writes the channel's override of desired state and wakes its reconcile job
(`worker/state/manual.py`); the controller does the rest under the limit, the queue and the
request rate. Changing a running recording is a job too (`update_recording`), awaited here.
Nothing in this module calls Agora.
"""

from __future__ import annotations

from datetime import datetime
from typing import Final

from starlette.responses import Response

from webhooks.api import params
from webhooks.api.control import control, refusals
from webhooks.api.errors import ApiError
from webhooks.api.models import (
    ChannelOut,
    ChannelPage,
    ErrorOut,
    OverrideRequest,
    PatchRecordingRequest,
    RecordingOut,
    RecordRequest,
)
from webhooks.api.operation import ApiCall, Operation, json_reply
from webhooks.api.params import QueryParam
from worker.state.changes import request_update
from worker.state.overrides import Record
from worker.state.views import ChannelView

#: How long a change of a running recording may take (its job waits for the channel lock
#: and the shared request rate).
UPDATE_TIMEOUT_S: Final = 20.0

STATE: Final = QueryParam(
    "state",
    "Only channels in this state: idle, waiting, starting, recording or stopping.",
    {"type": "string", "enum": ["idle", "waiting", "starting", "recording", "stopping"]},
)
_STATES: Final = frozenset(STATE.schema["enum"])


def _ms(moment: datetime | None) -> int | None:
    return None if moment is None else int(moment.timestamp() * 1000)


def _channel_out(view: ChannelView | None, channel: str) -> ChannelOut:
    if view is None:
        raise ApiError(404, f"channel {channel!r} is not known", "channel")
    return ChannelOut.model_validate(view)


async def _current(call: ApiCall, channel: str) -> ChannelOut:
    return _channel_out(await control(call).reader.channel(channel), channel)


async def record_channel(call: ApiCall) -> Response:
    """Record now: the channel records whatever its occupancy (override `always`) until it is
    stopped, set back to automatic, or `expires_at` passes. The per-recording fields are
    validated like a policy rule. Answers 200 once it records (`?wait_s=` waits up to 30 s
    for that, with the sid), else 202 (starting, or waiting for a slot: see
    `waiting_position`)."""
    body = await call.body(RecordRequest)
    channel = call.path("channel")
    wait = params.wait_s(call.request)
    manual = control(call)
    await refusals(
        manual.record(channel, fields=body.policy_overrides(), expires_at_ms=_ms(body.expires_at))
    )
    if wait > 0:
        view = await manual.wait_recording(channel, wait)
    else:
        view = await manual.reader.channel(channel)
    out = _channel_out(view, channel)
    recording = out.recording is not None and out.recording.state == "recording"
    return json_reply(out, 200 if recording else 202)


async def stop_channel(call: ApiCall) -> Response:
    """Stop now, without grace (override `never`) until the channel is next empty — the next
    meeting records automatically — or `expires_at`. With `?wait_s=` waits for the stop's
    answer and returns the finished recording (200, with files and upload status); otherwise
    (or if it has not ended in time) answers 202 with the channel."""
    channel = call.path("channel")
    wait = params.wait_s(call.request)
    manual = control(call)
    before = await manual.reader.channel(channel)
    running = before.recording.id if before is not None and before.recording else None
    await refusals(manual.stop(channel))
    if wait > 0 and running is not None:
        finished = await manual.wait_stopped(channel, running, wait)
        if finished is not None:
            return json_reply(RecordingOut.model_validate(finished), 200)
    view = await manual.reader.channel(channel)
    if view is None:  # never seen: the override alone made it known, and it is spent
        return Response(status_code=204)
    return json_reply(_channel_out(view, channel), 202)


async def put_override(call: ApiCall) -> ChannelOut:
    """Set the channel's override in full: `record` `always` or `never`, `until_empty`,
    `expires_at`, and (with `always`) the per-recording policy fields."""
    body = await call.body(OverrideRequest)
    channel = call.path("channel")
    await refusals(
        control(call).set_override(
            channel,
            Record(body.record),
            until_empty=body.until_empty,
            expires_at_ms=_ms(body.expires_at),
            fields=body.policy_overrides(),
        )
    )
    view = await control(call).reader.channel(channel)
    return _channel_out(view, channel)


async def delete_override(call: ApiCall) -> ChannelOut:
    """Back to automatic now: the channel records when its occupancy says so."""
    channel = call.path("channel")
    manual = control(call)
    if not await manual.automatic(channel):
        view = await manual.reader.channel(channel)
        if view is None:
            raise ApiError(404, f"channel {channel!r} is not known", "channel")
    return await _current(call, channel)


async def change_recording(call: ApiCall) -> ChannelOut:
    """Change the running recording: `layout` (mix: Agora's updateLayout, which replaces the
    whole layout), `subscribe` (individual and mix: whose audio and video are recorded) or
    `web` (web mode: pause or resume). Done by a worker's job and awaited; 409 when nothing
    records or the mode does not allow the change, 502 with Agora's answer when Agora
    refused it, 504 when no worker answered in time."""
    change = await call.body(PatchRecordingRequest)
    channel = call.path("channel")
    view = await control(call).reader.channel(channel)
    if view is None or view.recording is None or view.recording.state != "recording":
        raise ApiError(409, f"no recording runs in {channel!r}")
    outcome = await request_update(control(call).arq, channel, change, timeout_s=UPDATE_TIMEOUT_S)
    result = outcome["result"]
    if result == "ok":
        return await _current(call, channel)
    error = outcome["error"] or result
    if result == "conflict":
        raise ApiError(409, error, outcome["field"])
    if result == "invalid":
        raise ApiError(400, error, outcome["field"] or change.group)
    if result == "timeout":
        raise ApiError(504, "no worker answered in time; the change may still be applied")
    agora = outcome["agora"]
    if agora is not None:
        error = f"Agora answered {agora['status']} code {agora['code']}: {agora['reason']}"
    raise ApiError(502, error)


async def list_channels(call: ApiCall) -> ChannelPage:
    """Tracked channels (seen, recording, waiting or overridden) by name, optionally only
    those in one `state`; page with `limit` and `cursor`."""
    wanted = call.request.query_params.get("state") or None
    if wanted is not None and wanted not in _STATES:
        raise ApiError(400, f"state: must be one of {', '.join(sorted(_STATES))}", "state")
    limit = params.limit(call.request)
    after = params.cursor(call.request)
    reader = control(call).reader
    found: list[ChannelOut] = []
    more = False
    while True:
        names = await reader.channels(after=after, limit=limit)
        for name in names:
            view = await reader.channel(name)
            if view is None or (wanted is not None and view.state != wanted):
                continue
            if len(found) == limit:
                more = True
                break
            found.append(ChannelOut.model_validate(view))
        if more or len(names) < limit:
            break
        after = names[-1]
    return ChannelPage(channels=found, next_cursor=found[-1].channel if more and found else None)


async def get_channel(call: ApiCall) -> ChannelOut:
    """One channel: its state, occupancy, override, place in line and recording (404 if it
    was never seen and has no override)."""
    return await _current(call, call.path("channel"))


_CHANNEL: Final = "/channels/{channel}"

OPERATIONS: Final = (
    Operation(
        "GET",
        "/channels",
        list_channels,
        summary="List tracked channels",
        query=(STATE, params.LIMIT, params.CURSOR),
        tags=("channels",),
        responses={200: ChannelPage},
    ),
    Operation(
        "GET",
        _CHANNEL,
        get_channel,
        summary="One channel",
        tags=("channels",),
        responses={200: ChannelOut, 404: ErrorOut},
    ),
    Operation(
        "POST",
        f"{_CHANNEL}/recording",
        record_channel,
        summary="Record now",
        request=RecordRequest,
        query=(params.WAIT_S,),
        tags=("channels",),
        responses={200: ChannelOut, 202: ChannelOut, 409: ErrorOut},
    ),
    Operation(
        "DELETE",
        f"{_CHANNEL}/recording",
        stop_channel,
        summary="Stop now",
        query=(params.WAIT_S,),
        tags=("channels",),
        responses={200: RecordingOut, 202: ChannelOut, 204: None},
    ),
    Operation(
        "PATCH",
        f"{_CHANNEL}/recording",
        change_recording,
        summary="Change the running recording (layout, subscriptions, web pause)",
        request=PatchRecordingRequest,
        tags=("channels",),
        responses={200: ChannelOut, 409: ErrorOut, 502: ErrorOut, 504: ErrorOut},
    ),
    Operation(
        "PUT",
        f"{_CHANNEL}/override",
        put_override,
        summary="Set the channel's override",
        request=OverrideRequest,
        tags=("channels",),
        responses={200: ChannelOut, 409: ErrorOut},
    ),
    Operation(
        "DELETE",
        f"{_CHANNEL}/override",
        delete_override,
        summary="Back to automatic",
        tags=("channels",),
        responses={200: ChannelOut, 404: ErrorOut},
    ),
)
