"""Reading answers: typed bodies, start and stop results, the "start may have happened" error."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from worker.agora.classify import Endpoint, ErrorClass
from worker.agora.errors import (
    AgoraBadResponse,
    AgoraHTTPError,
    AgoraRateLimited,
    AgoraStartUncertain,
    AgoraTransportError,
)
from worker.agora.models.responses import StartResponse, StopResponse
from worker.agora.requester import Answer
from worker.agora.results import StartResult, StopOutcome, StopResult

_Model = TypeVar("_Model", bound=BaseModel)


def parse_answer(
    endpoint: Endpoint, answer: Answer, model: type[_Model], redact: Callable[[str], str]
) -> _Model:
    """The answer's body as `model`, or AgoraBadResponse naming what did not fit."""
    try:
        return model.model_validate(answer.payload)
    except ValidationError as exc:
        error = exc.errors(include_input=False, include_url=False)[0]
        where = ".".join(str(part) for part in error["loc"]) or "body"
        raise bad_response(endpoint, answer, redact(f"{where}: {error['msg']}")) from None


def bad_response(endpoint: Endpoint, answer: Answer, problem: str) -> AgoraBadResponse:
    """The error for a success status whose body is not what Agora documents."""
    rid = f" [request id {answer.request_id}]" if answer.request_id else ""
    return AgoraBadResponse(
        f"{endpoint}: HTTP {answer.status} with an unexpected body ({problem}){rid}",
        endpoint=endpoint,
        request_id=answer.request_id,
        status=answer.status,
        code=answer.error.code,
        reason=problem,
        error_class=ErrorClass.INVALID,
        base_url=answer.base_url,
        attempts=answer.attempts,
        resource_id=answer.error.resource_id,
        sid=answer.error.sid,
    )


def parse_lenient(answer: Answer, model: type[_Model]) -> _Model | None:
    """The answer's body as `model`, or None if it does not fit."""
    try:
        return model.model_validate(answer.payload)
    except ValidationError:
        return None


def stop_outcome(answer: Answer) -> StopOutcome:
    """The terminal outcome of a stop answer (200 or an absorbed already-stopped class)."""
    if answer.error_class is None:
        return StopOutcome.STOPPED
    if answer.error.code == 435:
        return StopOutcome.NO_RECORDED_DATA
    if answer.status == 404:
        return StopOutcome.NOT_FOUND
    return StopOutcome.ALREADY_STOPPING


def start_result(resource_id: str, answer: Answer, redact: Callable[[str], str]) -> StartResult:
    """The result of a start answer: 200 with a sid, or an absorbed 201/code 7.

    A 200 whose body has no sid raises AgoraBadResponse.
    """
    if answer.error_class is ErrorClass.ALREADY_STARTED:
        started = parse_lenient(answer, StartResponse)
        sid = (started.sid if started else None) or answer.error.sid or None
        return StartResult(
            resource_id=resource_id,
            sid=sid,
            already_started=True,
            request_id=answer.request_id,
        )
    response = parse_answer(Endpoint.START, answer, StartResponse, redact)
    if not response.sid:
        raise bad_response(Endpoint.START, answer, "200 without a sid")
    return StartResult(
        resource_id=resource_id,
        sid=response.sid,
        already_started=False,
        request_id=answer.request_id,
    )


def stop_result(answer: Answer) -> StopResult:
    """The result of a stop answer (200 or an absorbed already-stopped class)."""
    return StopResult(
        outcome=stop_outcome(answer),
        status=answer.status,
        code=answer.error.code,
        response=parse_lenient(answer, StopResponse) if answer.status in (200, 206) else None,
        request_id=answer.request_id,
    )


def may_have_started(exc: AgoraTransportError | AgoraHTTPError) -> bool:
    """Whether a failed start may still have started the task at Agora."""
    if isinstance(exc, AgoraTransportError):
        return exc.delivered
    return not isinstance(exc, AgoraRateLimited)


def start_uncertain(
    resource_id: str, exc: AgoraTransportError | AgoraHTTPError
) -> AgoraStartUncertain:
    """The error for a start that failed after it may have reached Agora."""
    status: int | None = None
    code: int | None = None
    reason: str | None = None
    sid: str | None = None
    what = "no answer after the request was sent"
    if isinstance(exc, AgoraHTTPError):
        status, code, reason, sid = exc.status, exc.code, exc.reason, exc.sid
        what = f"HTTP {status}" + (f" code {code}" if code is not None else "")
    return AgoraStartUncertain(
        f"start: outcome unknown ({what}); the task may be running on resource "
        f"{resource_id}: call start again with retry_same_resource=True, or give it up",
        resource_id=resource_id,
        request_id=exc.request_id,
        status=status,
        code=code,
        reason=reason,
        sid=sid,
    )
