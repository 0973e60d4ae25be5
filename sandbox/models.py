"""The sandbox's vocabulary: enums, the Agora error answer, NCS events, calls and stats."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import IntEnum, StrEnum
from typing import Any

JsonObject = dict[str, Any]


class Mode(StrEnum):
    """Cloud Recording mode, the `{mode}` path segment."""

    INDIVIDUAL = "individual"
    MIX = "mix"
    WEB = "web"


class Profile(StrEnum):
    """RTC channel profile."""

    COMMUNICATION = "communication"
    LIVE = "live"


class Role(StrEnum):
    """A member's role in a live-profile channel."""

    HOST = "host"
    AUDIENCE = "audience"


class Phase(StrEnum):
    """Life of a recording task: running, exiting (recorder gone, files uploading), exited."""

    RUNNING = "running"
    EXITING = "exiting"
    EXITED = "exited"


class ExitReason(StrEnum):
    """Why a task left the running phase."""

    STOPPED = "stopped"
    IDLE = "idle"
    KILLED = "killed"
    TOKEN_REJECTED = "token_rejected"  # noqa: S105 - a reason, not a secret
    TOKEN_EXPIRED = "token_expired"  # noqa: S105 - a reason, not a secret
    UID_CONFLICT = "uid_conflict"
    MAX_RECORDING_HOUR = "max_recording_hour"
    FAILOVER_LIMIT = "failover_limit"


class Endpoint(StrEnum):
    """REST endpoint names used by the calls log and fault rules."""

    ACQUIRE = "acquire"
    START = "start"
    QUERY = "query"
    UPDATE = "update"
    UPDATE_LAYOUT = "updateLayout"
    STOP = "stop"
    USER_LIST = "user_list"
    CHANNEL_LIST = "channel_list"
    NCS_IP = "ncs_ip"
    UNKNOWN = "unknown"


class ProductId(IntEnum):
    """NCS productId."""

    RTC = 1
    CLOUD_RECORDING = 3


class AgoraError(Exception):
    """A non-200 answer of an Agora endpoint: HTTP `status` plus `code`/`reason` or `message`."""

    def __init__(
        self,
        status: int,
        *,
        code: int | None = None,
        reason: str | None = None,
        message: str | None = None,
        extra: JsonObject | None = None,
    ) -> None:
        self.status = status
        self.code = code
        self.reason = reason
        self.message = message
        self.extra = extra or {}
        super().__init__(f"HTTP {status} code={code} reason={reason!r} message={message!r}")

    def body(self) -> JsonObject:
        """The JSON body Agora sends with this answer."""
        if self.code is None:
            return {"message": self.message or ""}
        return {**self.extra, "code": self.code, "reason": self.reason or ""}


def worker_not_found() -> AgoraError:
    """404 `failed to find worker`: the task does not exist, has exited, or is failing over."""
    return AgoraError(404, code=404, reason="failed to find worker")


@dataclass
class NcsEvent:
    """One NCS notification as emitted, plus what became of its delivery."""

    notice_id: str
    product_id: ProductId
    event_type: int
    payload: JsonObject
    emitted_at_s: float
    #: POST attempts made (first try, retries and duplicates).
    attempts: int = 0
    #: Attempts the receiver answered with 200.
    delivered: int = 0
    dropped: bool = False
    duplicated: bool = False
    last_status: int | None = None
    #: Every attempt: when it was sent (clock monotonic s) and the status (None: no answer).
    answers: list[tuple[float, int | None]] = field(default_factory=list)

    def body(self, notify_ms: int) -> JsonObject:
        """The NCS body sent on one attempt (`notifyMs` changes on every resend)."""
        return {
            "noticeId": self.notice_id,
            "productId": int(self.product_id),
            "eventType": self.event_type,
            "notifyMs": notify_ms,
            "payload": self.payload,
        }

    def summary(self) -> JsonObject:
        """JSON view for the admin API."""
        return {
            "noticeId": self.notice_id,
            "productId": int(self.product_id),
            "eventType": self.event_type,
            "payload": self.payload,
            "attempts": self.attempts,
            "delivered": self.delivered,
            "dropped": self.dropped,
            "duplicated": self.duplicated,
            "last_status": self.last_status,
            "emitted_at_s": self.emitted_at_s,
            "answers": [[sent_at_s, status] for sent_at_s, status in self.answers],
        }


@dataclass(frozen=True)
class CallRecord:
    """One REST call: arrival time (clock monotonic seconds, unscaled), where, and the answer."""

    t: float
    method: str
    path: str
    endpoint: Endpoint
    status: int
    code: int | None

    def as_dict(self) -> JsonObject:
        """JSON view for the admin API."""
        return {**asdict(self), "endpoint": str(self.endpoint)}


@dataclass
class Stats:
    """Counters tests check limits with."""

    peak_active: int = 0
    started_total: int = 0
    #: Starts refused because they would have pushed running tasks over `max_concurrent`.
    limit_violations: int = 0
    requests_total: int = 0
    rejected_429: int = 0
    rejected_406: int = 0

    def as_dict(self) -> dict[str, int]:
        """The counters by name."""
        return asdict(self)
