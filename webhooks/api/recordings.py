"""`/api/v1/recordings`: the recording catalog (finished recordings, newest first) and any
recording by id (Agora's sid once known), current ones included."""

from __future__ import annotations

from datetime import datetime
from typing import Final

from webhooks.api import params
from webhooks.api.control import control
from webhooks.api.errors import ApiError
from webhooks.api.models import ErrorOut, RecordingOut, RecordingPage
from webhooks.api.operation import ApiCall, Operation
from webhooks.api.params import QueryParam

CHANNEL: Final = QueryParam(
    "channel", "Only recordings of this channel.", {"type": "string", "maxLength": 64}
)


def _ms(moment: datetime | None) -> int | None:
    return None if moment is None else int(moment.timestamp() * 1000)


async def list_recordings(call: ApiCall) -> RecordingPage:
    """The catalog, newest first: finished recordings with outcome, stop reason, files and
    upload status; filter by `channel` and by when they began (`since`, `until`)."""
    request = call.request
    channel = request.query_params.get("channel") or None
    if channel is not None:
        params.check_channel(channel)
    limit = params.limit(request)
    views = await control(call).reader.recordings(
        channel=channel,
        since_ms=_ms(params.since(request)),
        until_ms=_ms(params.until(request)),
        after=params.cursor(request),
        limit=limit + 1,
    )
    page = [RecordingOut.model_validate(view) for view in views[:limit]]
    more = len(views) > limit
    return RecordingPage(recordings=page, next_cursor=page[-1].id if more and page else None)


async def get_recording(call: ApiCall) -> RecordingOut:
    """One recording by id: the Agora sid once known (a start that never got a sid has an id
    of the form `r<ms>-<uid>`, as listed)."""
    recording = call.path("recording")
    view = await control(call).reader.recording(recording)
    if view is None:
        raise ApiError(404, f"no recording {recording!r}", "recording")
    return RecordingOut.model_validate(view)


OPERATIONS: Final = (
    Operation(
        "GET",
        "/recordings",
        list_recordings,
        summary="The recording catalog",
        query=(CHANNEL, params.SINCE, params.UNTIL, params.LIMIT, params.CURSOR),
        tags=("recordings",),
        responses={200: RecordingPage},
    ),
    Operation(
        "GET",
        "/recordings/{recording}",
        get_recording,
        summary="One recording",
        tags=("recordings",),
        responses={200: RecordingOut, 404: ErrorOut},
    ),
)
