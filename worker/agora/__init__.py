"""Agora Cloud Recording client, error classification, retry policy and recorder tokens."""

from __future__ import annotations

from worker.agora.classify import Endpoint, ErrorClass, classify
from worker.agora.client import AgoraClient
from worker.agora.errors import (
    AgoraAlreadyStopped,
    AgoraAuthError,
    AgoraBadResponse,
    AgoraConflict,
    AgoraError,
    AgoraHTTPError,
    AgoraInvalidRequest,
    AgoraNoCapacity,
    AgoraNotFound,
    AgoraRateLimited,
    AgoraRetryableError,
    AgoraStartUncertain,
    AgoraTransportError,
    AgoraValidationError,
)
from worker.agora.requester import RateLimiter
from worker.agora.results import StartResult, StopOutcome, StopResult
from worker.agora.retry import RetryPolicy
from worker.agora.token import RtcRole, build_rtc_token

__all__ = [
    "AgoraAlreadyStopped",
    "AgoraAuthError",
    "AgoraBadResponse",
    "AgoraClient",
    "AgoraConflict",
    "AgoraError",
    "AgoraHTTPError",
    "AgoraInvalidRequest",
    "AgoraNoCapacity",
    "AgoraNotFound",
    "AgoraRateLimited",
    "AgoraRetryableError",
    "AgoraStartUncertain",
    "AgoraTransportError",
    "AgoraValidationError",
    "Endpoint",
    "ErrorClass",
    "RateLimiter",
    "RetryPolicy",
    "RtcRole",
    "StartResult",
    "StopOutcome",
    "StopResult",
    "build_rtc_token",
    "classify",
]
