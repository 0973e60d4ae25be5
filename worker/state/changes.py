"""A change of a running recording (`RecordingChange`) and the edge's way to ask for it.

The app-facing API's `PATCH /api/v1/channels/{channel}/recording` changes one of three
things of a recording that runs:

- `layout`: the mixed-video layout of a mix recording (Agora `updateLayout`; each call
  replaces the whole layout: fields left out go back to Agora's defaults);
- `subscribe`: whose audio and video the recorder takes (Agora `update`, individual and mix);
- `web`: pause or resume a web page recording (Agora `update`, `onhold`).

The HTTP edge never calls Agora: `request_update` enqueues the arq job `update_recording`
(worker/functions/update_recording.py) and awaits its `UpdateOutcome`. This module is shared
by both sides, so it imports neither the Agora client, the controller nor the jobs: the job
is named by the string `UPDATE_FUNCTION`, and the outcome is a plain dict (arq pickles job
results; a reader without this package still unpickles them).
"""

from __future__ import annotations

import secrets
from typing import Annotated, Any, Final, Literal, Self, TypedDict, cast

from arq.connections import ArqRedis
from arq.worker import JobExecutionFailed
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)

from worker import keys
from worker.state.job_wake import wake_worker

#: The arq function name of the job that applies a change.
UPDATE_FUNCTION: Final = "update_recording"
#: A subscribe list of only this entry means every user's stream.
ALL_STREAMS: Final = "#allstream#"
#: How often `request_update` looks for the job's result.
RESULT_POLL_S: Final = 0.05

_UID_MAX: Final = 2**32 - 1
_MAX_LAYOUT_REGIONS: Final = 17
_HEX_COLOR: Final = r"^#[0-9A-Fa-f]{6}$"
_HTTP_URL: Final = r"^https?://\S+$"
_HTTPS_URL: Final = r"^https://\S+$"
_GROUPS: Final = ("layout", "subscribe", "web")

ChangeGroup = Literal["layout", "subscribe", "web"]
"""Which of the three kinds of change a `RecordingChange` makes."""


class InvalidChange(ValueError):
    """A change that cannot be sent: `field` is its path in the change
    (`layout.layout_config[0].x_axis`), None when no single field is at fault."""

    def __init__(self, field: str | None, problem: str) -> None:
        super().__init__(f"{field}: {problem}" if field else problem)
        self.field = field
        self.problem = problem


class _RuleError(ValueError):
    """A cross-field rule broken inside one model; `field` is relative to that model."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem


def _int_to_str(value: object) -> object:
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


def _check_uid(text: str) -> str:
    if not (text.isascii() and text.isdigit()) or str(int(text)) != text:
        raise ValueError("must be a decimal integer string without leading zeros")
    if not 1 <= int(text) <= _UID_MAX:
        raise ValueError(f"must be in 1..{_UID_MAX}")
    return text


def _check_stream_uid(text: str) -> str:
    return text if text == ALL_STREAMS else _check_uid(text)


Uid = Annotated[str, BeforeValidator(_int_to_str), AfterValidator(_check_uid)]
"""A user id: a decimal string in 1..2^32-1 (an integer is accepted and turned into one)."""
StreamUid = Annotated[str, BeforeValidator(_int_to_str), AfterValidator(_check_stream_uid)]
"""A subscribe-list entry: a user id or `#allstream#`."""


class _ChangeModel(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", hide_input_in_errors=True)


class LayoutRegion(_ChangeModel):
    """One region of a custom layout (Agora `layoutConfig[]`); coordinates are fractions."""

    uid: Uid | None = None
    """The user shown here; regions without a uid are filled in join order."""
    x_axis: float = Field(ge=0, le=1)
    y_axis: float = Field(ge=0, le=1)
    width: float = Field(ge=0, le=1)
    height: float = Field(ge=0, le=1)
    alpha: float | None = Field(default=None, ge=0, le=1)
    render_mode: int | None = Field(default=None, ge=0, le=1)
    """0 cropped, 1 fit."""


class UserBackground(_ChangeModel):
    """A user's background image (Agora `backgroundConfig[]`)."""

    uid: Uid
    image_url: str = Field(pattern=_HTTPS_URL)
    render_mode: int | None = Field(default=None, ge=0, le=1)


class LayoutChange(_ChangeModel):
    """A mix recording's new layout, the fields of Agora's `updateLayout` in snake_case.

    Agora replaces the whole layout: a field left out goes back to its default. The rules
    between fields (a custom layout needs `layout_config`, a vertical one
    `max_resolution_uid`) are checked when the request is built (outcome `invalid`)."""

    mixed_video_layout: int | None = Field(default=None, ge=0, le=3)
    """0 floating, 1 best fit, 2 vertical, 3 custom (`layout_config`)."""
    max_resolution_uid: Uid | None = None
    """The large window of the vertical layout."""
    background_color: str | None = Field(default=None, pattern=_HEX_COLOR)
    background_image: str | None = Field(default=None, pattern=_HTTP_URL)
    default_user_background_image: str | None = Field(default=None, pattern=_HTTP_URL)
    layout_config: list[LayoutRegion] | None = Field(
        default=None, min_length=1, max_length=_MAX_LAYOUT_REGIONS
    )
    background_config: list[UserBackground] | None = Field(default=None, min_length=1)


_SUBSCRIBE_PAIRS: Final = (
    ("audio_uids", "unsubscribe_audio_uids"),
    ("video_uids", "unsubscribe_video_uids"),
)


class SubscribeChange(_ChangeModel):
    """Whose streams the recorder takes from now on (Agora `update.streamSubscribe`).

    Per media, either the uids to record or the uids not to record, never both; a list of
    only `#allstream#` means everyone."""

    audio_uids: list[StreamUid] | None = Field(default=None, min_length=1)
    video_uids: list[StreamUid] | None = Field(default=None, min_length=1)
    unsubscribe_audio_uids: list[StreamUid] | None = Field(default=None, min_length=1)
    unsubscribe_video_uids: list[StreamUid] | None = Field(default=None, min_length=1)

    @model_validator(mode="after")
    def _lists(self) -> Self:
        if all(getattr(self, name) is None for pair in _SUBSCRIBE_PAIRS for name in pair):
            raise _RuleError(
                "audio_uids",
                "set at least one of audio_uids, video_uids, unsubscribe_audio_uids, "
                "unsubscribe_video_uids",
            )
        for subscribe, unsubscribe in _SUBSCRIBE_PAIRS:
            if getattr(self, subscribe) is not None and getattr(self, unsubscribe) is not None:
                raise _RuleError(unsubscribe, f"set {subscribe} or {unsubscribe}, not both")
        for pair in _SUBSCRIBE_PAIRS:
            for name in pair:
                uids = getattr(self, name)
                if uids is not None and ALL_STREAMS in uids and len(uids) > 1:
                    raise _RuleError(name, f"{ALL_STREAMS} must be the only entry")
        return self


class WebChange(_ChangeModel):
    """Pause (`on_hold` true) or resume a web page recording (Agora `webRecordingConfig`)."""

    on_hold: bool = Field(strict=True)


class RecordingChange(_ChangeModel):
    """One change of a running recording: exactly one of `layout`, `subscribe`, `web`."""

    layout: LayoutChange | None = None
    subscribe: SubscribeChange | None = None
    web: WebChange | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Self:
        given = [name for name in _GROUPS if getattr(self, name) is not None]
        if not given:
            raise _RuleError("layout", "give one of layout, subscribe, web")
        if len(given) > 1:
            raise _RuleError(given[1], "give only one of layout, subscribe, web")
        return self

    @property
    def group(self) -> ChangeGroup:
        """The kind of change."""
        if self.layout is not None:
            return "layout"
        return "subscribe" if self.subscribe is not None else "web"

    def job_argument(self) -> dict[str, Any]:
        """The change as the job's argument: plain JSON types (arq pickles job arguments)."""
        return self.model_dump(mode="json", exclude_none=True)


def parse_change(data: object) -> RecordingChange:
    """Validate a change (a JSON object); raise `InvalidChange` naming the first bad field."""
    try:
        return RecordingChange.model_validate(data)
    except ValidationError as exc:
        raise _invalid(exc) from None


def _invalid(exc: ValidationError) -> InvalidChange:
    error = exc.errors(include_input=False, include_url=False)[0]
    parts: list[str] = []
    for part in error["loc"]:
        if isinstance(part, int):
            parts[-1:] = [f"{parts[-1]}[{part}]"] if parts else [f"[{part}]"]
        else:
            parts.append(part)
    cause = (error.get("ctx") or {}).get("error")
    if isinstance(cause, _RuleError):
        return InvalidChange(".".join([*parts, cause.field]), cause.problem)
    problem = str(error["msg"]).removeprefix("Value error, ")
    return InvalidChange(".".join(parts) or None, problem)


UpdateResult = Literal["ok", "conflict", "agora_error", "invalid", "timeout"]
"""`ok` applied; `conflict` nothing runs, or its mode does not allow the change (409);
`agora_error` Agora refused or could not be reached; `invalid` the change cannot be sent
(400); `timeout` no answer in time, the change may still be applied (504)."""


class AgoraAnswer(TypedDict):
    """What Agora answered to a refused change (no secret: reasons are redacted)."""

    status: int | None
    code: int | None
    reason: str | None


class UpdateOutcome(TypedDict):
    """The result of one change, as the job returns it and the edge reads it."""

    result: UpdateResult
    error: str | None
    """What went wrong, one line (None for `ok`)."""
    field: str | None
    """The change's field at fault, when one is (`layout`, `subscribe.audio_uids`, …)."""
    agora: AgoraAnswer | None
    """Agora's status, code and reason for an `agora_error` that Agora answered."""


def outcome(
    result: UpdateResult,
    *,
    error: str | None = None,
    field: str | None = None,
    agora: AgoraAnswer | None = None,
) -> UpdateOutcome:
    """An `UpdateOutcome`."""
    return {"result": result, "error": error, "field": field, "agora": agora}


def update_job_id(channel: str) -> str:
    """A fresh arq job id for one change request of `channel`."""
    return f"update:{keys.channel_part(channel)}:{secrets.token_hex(8)}"


async def request_update(
    arq: ArqRedis, channel: str, change: RecordingChange, *, timeout_s: float
) -> UpdateOutcome:
    """Enqueue the `update_recording` job for `change` and await its outcome.

    A job no worker has started within `timeout_s` is never run (it expires). Without an
    answer within `timeout_s` — or when the job ended without one (a worker died during it)
    — the outcome is `timeout`: the change may or may not have been applied. An exception
    the job raised (e.g. Redis failing under it) is raised here.
    """
    job = await arq.enqueue_job(
        UPDATE_FUNCTION,
        channel,
        change.job_argument(),
        _job_id=update_job_id(channel),
        _expires=timeout_s,
    )
    if job is None:  # only if the random job id was taken
        raise RuntimeError(f"the update of {channel!r} could not be enqueued")
    await wake_worker(arq)
    try:
        answer = await job.result(timeout=timeout_s, poll_delay=RESULT_POLL_S)
    except TimeoutError:
        return outcome(
            "timeout",
            error=f"no answer to the change of {channel} within {timeout_s:g} s; "
            "it may still be applied",
        )
    except JobExecutionFailed as exc:
        return outcome(
            "timeout",
            error=f"the change of {channel} ended without an answer ({exc}); "
            "it may or may not be applied",
        )
    return cast("UpdateOutcome", answer)
