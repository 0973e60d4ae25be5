"""Recording events (NCS productId 3) → the session or its history entry.

The events consumer calls `RecordingEventHandler.handle` for each recording event and acks
it afterwards (at-least-once). Duplicates are dropped by (sid, sequence) in
`keys.recording_event_seen(sid)`; events of a sid that is no longer the channel's current
session (after a restart) only amend that recording's history entry (Agora: "same-sid
31/32/11 after you already restarted = stale"). The controller stays the only writer of the
session's state: events set facts on it (event sid, leave code, exit status, failover uid,
files, upload status) and wake the channel's reconcile when a fact needs a decision.
"""

from __future__ import annotations

import logging
from typing import Final

from worker import keys
from worker.controller.effects import Effects
from worker.events import RecordingEvent, RecordingEventType
from worker.state.files import RecordingFile
from worker.state.sessions import RecordingFacts

logger = logging.getLogger(__name__)

#: How long (sid, sequence) pairs are remembered: beyond NCS's retry horizon.
SEEN_TTL_S: Final = 4 * 24 * 3600
#: How long a recorder's (uid → sid) announced by event 40 is remembered (a task's resource
#: cannot be used longer than 72 hours).
SIGHTING_TTL_S: Final = 72 * 3600

_UPLOAD_STATUS: Final = {
    RecordingEventType.UPLOADED: "uploaded",
    RecordingEventType.BACKUPED: "backuped",
}


class RecordingEventHandler:
    """Applies recording events for one worker process (see the module docstring)."""

    def __init__(self, effects: Effects) -> None:
        self.effects = effects
        self.deps = effects.deps

    async def handle(self, event: RecordingEvent) -> None:
        """Apply one event, idempotently."""
        seen_key = keys.recording_event_seen(event.sid)
        if await self.deps.redis.sismember(seen_key, str(event.sequence)):
            logger.info(
                "recording event %d duplicate channel=%r sid=%s seq=%d",
                event.event_type,
                event.channel,
                event.sid,
                event.sequence,
            )
            return
        await self._apply(event)
        async with self.deps.redis.pipeline(transaction=True) as pipe:
            pipe.sadd(seen_key, str(event.sequence))
            pipe.expire(seen_key, SEEN_TTL_S)
            await pipe.execute()

    async def _apply(self, event: RecordingEvent) -> None:
        kind = event.event_type
        channel = event.channel
        session = await self.deps.sessions.get(channel)
        current = session is not None and session.sid == event.sid
        logger.info(
            "recording event %d (%s) channel=%r uid=%d sid=%s seq=%d current=%s",
            kind,
            event.msg_name or kind.name.lower(),
            channel,
            event.uid,
            event.sid,
            event.sequence,
            current,
        )
        if kind is RecordingEventType.RECORDER_STARTED:
            await self._recorder_started(event)
        elif kind is RecordingEventType.RECORDER_LEAVE and event.details.leave_code is not None:
            await self._note(event, current, RecordingFacts(leave_code=event.details.leave_code))
            if current:
                # The recorder left: proof the task is gone, also inside a failover window.
                await self._wake(channel)
        elif kind is RecordingEventType.SESSION_EXIT:
            status = event.details.exit_status if event.details.exit_status is not None else 0
            await self._note(event, current, RecordingFacts(exit_status=status))
            if current:
                await self._wake(channel)
        elif kind is RecordingEventType.SESSION_FAILOVER and event.details.new_uid is not None:
            facts = RecordingFacts(failover_uid=event.details.new_uid)
            await self._note(event, current, facts)
        elif kind in _UPLOAD_STATUS or kind is RecordingEventType.WEB_RECORDER_STOPPED:
            files = tuple(map(RecordingFile.from_event, event.details.file_list))
            facts = RecordingFacts(uploading_status=_UPLOAD_STATUS.get(kind), files=files or None)
            await self._note(event, current, facts)

    async def _recorder_started(self, event: RecordingEvent) -> None:
        """Event 40: remember (uid → sid); a session waiting for its sid adopts it."""
        sightings = keys.recorder_sightings(event.channel)
        async with self.deps.redis.pipeline(transaction=True) as pipe:
            pipe.hset(sightings, str(event.uid), event.sid)
            pipe.expire(sightings, SIGHTING_TTL_S)
            await pipe.execute()
        session = await self.deps.sessions.get(event.channel)
        if session is not None and session.sid is None and session.uid == event.uid:
            await self.deps.sessions.note(event.channel, RecordingFacts(event_sid=event.sid))
            await self._wake(event.channel)

    async def _note(self, event: RecordingEvent, current: bool, facts: RecordingFacts) -> None:
        """Store facts on the current session, or on the recording's history entry."""
        if not facts.reported():
            return
        if current and await self.deps.sessions.note(event.channel, facts):
            return
        if await self.deps.history.amend(event.channel, event.sid, facts) and (
            facts.uploading_status is not None
        ):
            # The files of a recording that has ended are complete: tell the app (once).
            entry = await self.deps.history.find(event.channel, event.sid)
            if entry is not None:
                await self.deps.notifier.uploaded(entry, await self.effects.now_ms())

    async def _wake(self, channel: str) -> None:
        now = await self.effects.now_ms()
        await self.effects.wake(channel, now, now_ms=now)
