"""The body of a notification (pure): `{"type", "timestamp", "data": <recording object>}`.

The recording object is the API's (`worker.state.views.RecordingView`), times RFC 3339 UTC
with a `Z`, exactly as `GET /api/v1/recordings/{id}` shows it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Final

import orjson

from worker.state.outbox import NotificationType
from worker.state.views import RecordingView

_OPTIONS: Final = orjson.OPT_UTC_Z


def notification_body(kind: NotificationType, recording: RecordingView, at_ms: int) -> bytes:
    """The JSON body of one notification about `recording`, at `at_ms` (Unix ms)."""
    return orjson.dumps(
        {
            "type": kind.value,
            "timestamp": datetime.fromtimestamp(at_ms / 1000, tz=UTC),
            "data": recording,
        },
        option=_OPTIONS,
    )
