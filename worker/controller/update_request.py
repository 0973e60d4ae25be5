"""How a change of a running recording becomes an Agora request (pure, no I/O): whether the
session allows it (`refusal`), the `updateLayout`/`update` request it makes, and the outcome
of a failed call. worker/controller/update.py does the I/O.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Final, TypeVar

from pydantic import ValidationError

from worker.agora import AgoraHTTPError, Endpoint
from worker.agora.models import UpdateClientRequest, UpdateLayoutClientRequest
from worker.agora.wire import validation_error
from worker.policies.enums import Mode
from worker.state.changes import (
    AgoraAnswer,
    ChangeGroup,
    InvalidChange,
    LayoutChange,
    RecordingChange,
    SubscribeChange,
    UpdateOutcome,
    outcome,
)
from worker.state.sessions import Session, SessionState

#: Session states in which a task runs with a known sid (start answered, or confirmed).
UPDATABLE: Final = frozenset({SessionState.STARTED, SessionState.RUNNING})
#: Request fields (snake_case) whose change field has another name.
_RENAMED: Final = {
    "subscribe_audio_uids": "audio_uids",
    "subscribe_video_uids": "video_uids",
    "audio_uid_list": "audio_uids",
    "video_uid_list": "video_uids",
    "onhold": "on_hold",
}
#: Request objects that have no counterpart in a change (their fields sit in the group).
_CONTAINERS: Final = frozenset({"client_request", "stream_subscribe", "web_recording_config"})
_UID_LISTS: Final = frozenset({"audio_uid_list", "video_uid_list"})
_CAMEL_HUMP: Final = re.compile(r"(?<!^)(?=[A-Z])")

_Request = TypeVar("_Request", UpdateClientRequest, UpdateLayoutClientRequest)


def refusal(channel: str, session: Session | None, change: RecordingChange) -> UpdateOutcome | None:
    """The `conflict` outcome when `change` cannot apply to the channel's session now (no
    recording with a sid runs, or its mode does not allow the change); None when it can."""
    if session is None or session.sid is None or session.resource_id is None:
        return outcome("conflict", error=f"no recording runs in {channel}")
    if session.state not in UPDATABLE:
        return outcome("conflict", error=f"no recording runs in {channel}")
    mode = session.mode
    group = change.group
    if group == "layout" and mode is not Mode.MIX:
        problem = f"a layout applies to mix recordings; {channel} records in {mode} mode"
    elif group == "subscribe" and mode is Mode.WEB:
        problem = (
            f"subscriptions apply to individual and mix recordings; {channel} records web pages"
        )
    elif group == "web" and mode is not Mode.WEB:
        problem = f"web changes apply to web page recordings; {channel} records in {mode} mode"
    else:
        return None
    return outcome("conflict", error=problem, field=group)


def layout_request(layout: LayoutChange) -> UpdateLayoutClientRequest:
    """The `updateLayout` request of a layout change (InvalidChange if Agora's rules refuse it)."""
    return _build(UpdateLayoutClientRequest, "layout", layout.model_dump(exclude_none=True))


def update_request(change: RecordingChange) -> UpdateClientRequest:
    """The `update` request of a subscription or web change (InvalidChange if refused)."""
    if change.subscribe is not None:
        return _build(UpdateClientRequest, "subscribe", _stream_subscribe(change.subscribe))
    if change.web is not None:
        wire = {"web_recording_config": {"onhold": change.web.on_hold}}
        return _build(UpdateClientRequest, "web", wire)
    raise InvalidChange(change.group, "is not sent with update (use updateLayout)")


def _stream_subscribe(subscribe: SubscribeChange) -> dict[str, object]:
    lists: dict[str, object] = {}
    audio = {
        "subscribe_audio_uids": subscribe.audio_uids,
        "unsubscribe_audio_uids": subscribe.unsubscribe_audio_uids,
    }
    video = {
        "subscribe_video_uids": subscribe.video_uids,
        "unsubscribe_video_uids": subscribe.unsubscribe_video_uids,
    }
    for name, pair in (("audio_uid_list", audio), ("video_uid_list", video)):
        given = {key: uids for key, uids in pair.items() if uids is not None}
        if given:
            lists[name] = given
    return {"stream_subscribe": lists}


def _build(model: type[_Request], group: ChangeGroup, wire: Mapping[str, object]) -> _Request:
    try:
        return model.model_validate(wire)
    except ValidationError as exc:
        endpoint = Endpoint.UPDATE_LAYOUT if group == "layout" else Endpoint.UPDATE
        problem = validation_error(endpoint, exc)
        raise InvalidChange(change_field(group, problem.field), problem.problem) from None


def change_field(group: ChangeGroup, wire_field: str) -> str:
    """The change's field for a field of the Agora request, in its wire (camelCase) or
    Python (snake_case) spelling: `layoutConfig[0].x_axis` → `layout.layout_config[0].x_axis`,
    `…audioUidList.subscribeAudioUids` → `subscribe.audio_uids`."""
    parts = wire_field.split(".")
    names: list[str] = [group]
    for position, part in enumerate(parts):
        wire_name, bracket, index = part.partition("[")
        name = _CAMEL_HUMP.sub("_", wire_name).lower()
        if name in _CONTAINERS or (name in _UID_LISTS and position < len(parts) - 1):
            continue
        names.append(_RENAMED.get(name, name) + bracket + index)
    return ".".join(names)


def failure_outcome(exc: Exception) -> UpdateOutcome:
    """The `agora_error` outcome of a call that failed: Agora's status, code and (redacted)
    reason when it answered; else only the error (no connection, no request permit)."""
    answer: AgoraAnswer | None = None
    if isinstance(exc, AgoraHTTPError):
        answer = {"status": exc.status, "code": exc.code, "reason": exc.reason}
    return outcome("agora_error", error=str(exc)[:300], agora=answer)
