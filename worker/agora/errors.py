"""The Agora client's exception tree; every error carries the endpoint and request context.

```
AgoraError                      endpoint, request_id
├── AgoraValidationError        (also ValueError) bad input, caught before any request: field
├── AgoraTransportError         no HTTP answer (connect, timeout, protocol): base_url, attempts
├── AgoraStartUncertain         a start on a fresh resource may or may not have begun:
│                               resource_id, status/code/reason of the failed attempt
└── AgoraHTTPError              Agora answered and it was not a success: status, code, reason,
    │                           error_class, resource_id, sid, base_url, attempts
    ├── AgoraRetryableError     5xx, 206/65, 504/62 — retries are exhausted
    │   └── AgoraRateLimited    429 — retry_after_s when the server said
    ├── AgoraAuthError          401/403, App ID invalid or not enabled, account inactive
    ├── AgoraNoCapacity         acquire 406 vendor_over_load, start 502 no worker
    ├── AgoraConflict           start 53: a task with this (cname, uid) already runs
    ├── AgoraNotFound           404 "failed to find worker": the task is gone (or failing over)
    ├── AgoraAlreadyStopped     49 "invalid operation" outside stop: the task is exiting
    ├── AgoraInvalidRequest     400/2 and other request errors, unknown routes
    └── AgoraBadResponse        a success status whose body cannot be read
```

`stop` never raises for its terminal answers (200, 206/435, 400/49, 404): it returns a
`StopResult` with an outcome. No message ever contains a secret: reasons sent by the server are
passed through the client's redaction before they reach an exception.
"""

from __future__ import annotations

from worker.agora.classify import Endpoint, ErrorClass


class AgoraError(Exception):
    """Base of every error raised by the Agora client."""

    def __init__(self, message: str, *, endpoint: Endpoint, request_id: str | None = None) -> None:
        super().__init__(message)
        self.endpoint = endpoint
        self.request_id = request_id


class AgoraValidationError(AgoraError, ValueError):
    """A request was rejected before anything was sent; `field` is its wire path."""

    def __init__(self, field: str, problem: str, *, endpoint: Endpoint) -> None:
        super().__init__(f"{endpoint}: {field}: {problem}", endpoint=endpoint)
        self.field = field
        self.problem = problem


class AgoraTransportError(AgoraError):
    """No HTTP answer arrived (connection refused, timeout, broken connection)."""

    def __init__(
        self,
        message: str,
        *,
        endpoint: Endpoint,
        base_url: str,
        attempts: int,
        delivered: bool,
    ) -> None:
        super().__init__(message, endpoint=endpoint)
        self.base_url = base_url
        self.attempts = attempts
        #: False when no attempt of the call ever got a connection, so Agora never saw it.
        self.delivered = delivered


class AgoraStartUncertain(AgoraError):
    """A `start` on a fresh resource failed in a way that may still have started the task.

    The client never repeats such a start by itself. The caller may call `start` again with
    `retry_same_resource=True` (Agora answers 201/code 7 if the first one went through), or
    give the resource up. `__cause__` is the underlying transport or HTTP error.
    """

    def __init__(
        self,
        message: str,
        *,
        resource_id: str,
        request_id: str | None,
        status: int | None,
        code: int | None,
        reason: str | None,
        sid: str | None,
    ) -> None:
        super().__init__(message, endpoint=Endpoint.START, request_id=request_id)
        self.resource_id = resource_id
        self.status = status
        self.code = code
        self.reason = reason
        #: A sid the failed answer carried, if any (Agora sometimes sends one with an error).
        self.sid = sid


class AgoraHTTPError(AgoraError):
    """Agora answered with a status that is not a success for this endpoint."""

    def __init__(
        self,
        message: str,
        *,
        endpoint: Endpoint,
        request_id: str | None,
        status: int,
        code: int | None,
        reason: str | None,
        error_class: ErrorClass,
        base_url: str,
        attempts: int,
        resource_id: str | None = None,
        sid: str | None = None,
    ) -> None:
        super().__init__(message, endpoint=endpoint, request_id=request_id)
        self.status = status
        self.code = code
        self.reason = reason
        self.error_class = error_class
        self.base_url = base_url
        self.attempts = attempts
        self.resource_id = resource_id
        self.sid = sid


class AgoraRetryableError(AgoraHTTPError):
    """A transient failure (5xx, 206/65, 504/62) that outlasted the retry policy."""


class AgoraRateLimited(AgoraRetryableError):
    """429: Agora's per-App-ID request rate was exceeded."""

    retry_after_s: float | None = None


class AgoraAuthError(AgoraHTTPError):
    """Credentials, App ID or account are not accepted; fix configuration, don't retry."""


class AgoraNoCapacity(AgoraHTTPError):
    """Agora has no capacity for another task now (quota or workers); try again later."""


class AgoraConflict(AgoraHTTPError):
    """start 400/53: a task with the same (cname, uid) already runs on another resource."""


class AgoraNotFound(AgoraHTTPError):
    """404 "failed to find worker": the task does not exist, has exited, or is failing over."""


class AgoraAlreadyStopped(AgoraHTTPError):
    """400/49 on query/update/updateLayout: the task is already exiting."""


class AgoraInvalidRequest(AgoraHTTPError):
    """The request was refused as malformed or inconsistent; retrying will not help."""


class AgoraBadResponse(AgoraHTTPError):
    """A success status arrived with a body that is not what Agora documents."""


ERROR_FOR_CLASS: dict[ErrorClass, type[AgoraHTTPError]] = {
    ErrorClass.RETRYABLE: AgoraRetryableError,
    ErrorClass.RATE_LIMITED: AgoraRateLimited,
    ErrorClass.AUTH: AgoraAuthError,
    ErrorClass.NO_CAPACITY: AgoraNoCapacity,
    ErrorClass.CONFLICT: AgoraConflict,
    ErrorClass.NOT_FOUND: AgoraNotFound,
    ErrorClass.ALREADY_STOPPED: AgoraAlreadyStopped,
    ErrorClass.INVALID: AgoraInvalidRequest,
    # Only start answers 201/7 and it turns that into a result; elsewhere it is unexpected.
    ErrorClass.ALREADY_STARTED: AgoraInvalidRequest,
}
"""The exception raised for an answer of each class when the endpoint does not absorb it."""
