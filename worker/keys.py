"""Redis key names: the data model shared by the webhook edge and the worker.

Everything of ours lives under `autorec:`; arq keeps its default `arq:*` keys so arq tools
keep working. Channel names go into keys with `%` and `:` escaped (`channel_part`), so a
channel named `a:m` can never collide with a key of channel `a`.
"""

from __future__ import annotations

from typing import Final

PREFIX: Final = "autorec:"

#: Consumer group of the worker pool on the events stream.
CONSUMER_GROUP: Final = "autorec-workers"

#: Stream entry fields (design §4): `event` holds an app event JSON body, `ncs` a raw Agora
#: NCS body. The webhook edge adds `src` (`agora` | `events`) and `rx_ms` (receive time).
FIELD_EVENT: Final = "event"
FIELD_NCS: Final = "ncs"
FIELD_SOURCE: Final = "src"
FIELD_RECEIVED_MS: Final = "rx_ms"


def dedupe(source: str, event_id: str) -> str:
    """String set once per accepted event id of one sender (`agora`: NCS `noticeId`;
    `events`: `webhook-id`). Each sender picks its ids alone, so each has its own namespace."""
    return f"{PREFIX}seen:{source}:{event_id}"


def dead_letter(stream: str) -> str:
    """Stream that receives entries delivered too many times."""
    return f"{stream}:dead"


def channel_part(name: str) -> str:
    """A channel name as one key segment: `%` → `%25`, `:` → `%3A` (Agora allows `:`)."""
    return name.replace("%", "%25").replace(":", "%3A")


def channel(name: str) -> str:
    """Hash: one channel's occupancy and desired recording state."""
    return f"{PREFIX}ch:{channel_part(name)}"


def channel_members(name: str) -> str:
    """Hash: uid → membership record (ordering sequence, present/left, role, left-at)."""
    return f"{PREFIX}ch:{channel_part(name)}:m"


def channel_tombstones(name: str) -> str:
    """Sorted set: uids that left the channel → when (ms), for the lazy tombstone sweep."""
    return f"{PREFIX}ch:{channel_part(name)}:t"


def channel_recorders(name: str) -> str:
    """Sorted set: uids known to be recorders in the channel → remembered until (ms)."""
    return f"{PREFIX}ch:{channel_part(name)}:r"


#: Sorted set of channels we track (member = channel, score = last change, ms).
CHANNELS: Final = f"{PREFIX}channels"


def session(name: str) -> str:
    """Hash: the channel's current recording session (uid, resourceId, sid, mode, status)."""
    return f"{PREFIX}rec:{channel_part(name)}"


def history(name: str) -> str:
    """List: the channel's past recording sessions, newest first (JSON records)."""
    return f"{PREFIX}hist:{channel_part(name)}"


#: Sorted set of recording slot leases: member = channel, score = lease expiry (ms, Redis TIME).
SLOTS: Final = f"{PREFIX}slots"
#: Sorted set of channels waiting for a slot: member = channel, score = arrival sequence.
WAITING: Final = f"{PREFIX}wait"
#: Counter that orders arrivals into WAITING.
WAITING_SEQ: Final = f"{PREFIX}wait:seq"
#: Sorted set of recent Agora request stamps for the shared sliding-window rate limit.
RATE_LIMIT: Final = f"{PREFIX}qps"


def rate_limit_seq(log: str) -> str:
    """Counter that keeps the permit members of a rate-limit log (e.g. RATE_LIMIT) unique."""
    return f"{log}:seq"


def jobs_wake(queue_name: str) -> str:
    """List of wake-up tokens of an arq queue: pushed with every job the service queues,
    taken by idle workers blocked on it (worker/state/job_wake.py). Short: a token only says
    "look at the queue"."""
    return f"{PREFIX}jobs:wake:{queue_name}"


#: Sorted set: channel → the gen of a desired-state flip whose reconcile job may not be
#: enqueued yet (worker/state/reconcile_queue.py).
RECONCILE_DUE: Final = f"{PREFIX}reconcile:due"


def recording_event_seen(sid: str) -> str:
    """Set: sequence numbers of recording events (NCS productId 3) already applied for a sid."""
    return f"{PREFIX}recev:{sid}"


#: List of recent failures shown by `autorec status` (JSON records, newest first, capped).
FAILURES: Final = f"{PREFIX}failures"


#: Sorted set of channels with a current recording session (member = channel, score = ms).
SESSIONS: Final = f"{PREFIX}sessions"
#: Sorted set of channels with recording history (member = channel, score = last end, ms).
HISTORY_INDEX: Final = f"{PREFIX}hist:index"


def lock(name: str) -> str:
    """String: the per-channel controller lock (a random token, PX above the job timeout)."""
    return f"{PREFIX}lock:{channel_part(name)}"


def recorder_sightings(name: str) -> str:
    """Hash: recorder uid → sid announced by recording event 40 in the channel."""
    return f"{PREFIX}rec40:{channel_part(name)}"


def start_backoff(name: str) -> str:
    """String with PX: no new start for the channel until it expires (after a hard failure)."""
    return f"{PREFIX}backoff:{channel_part(name)}"


#: String: the round-robin cursor of the periodic user-list check (a channel name).
HEAL_CURSOR: Final = f"{PREFIX}heal:cursor"
#: String: the round-robin cursor of the user-list check of recording channels (a channel).
HEAL_RECORDING_CURSOR: Final = f"{PREFIX}heal:recording_cursor"
#: String: the channel-list page the next periodic pass reads first (a page number).
CHANNEL_LIST_PAGE: Final = f"{PREFIX}heal:channel_page"
#: Hash: channel → `<user_count>:<ms>`, a listed channel whose user list showed nobody who
#: counts (audience only, recorders) at that member count and time; not asked again soon.
LISTED_NOBODY: Final = f"{PREFIX}heal:listed_nobody"
#: String: where in the list of old channels the next idle-channel sweep continues (an offset).
IDLE_CURSOR: Final = f"{PREFIX}idle:cursor"


def override(name: str) -> str:
    """Hash: a manual override of the channel's desired state (worker/state/overrides.py)."""
    return f"{PREFIX}ovr:{channel_part(name)}"


#: Sorted set of channels with a manual override (member = channel, score = set at, ms).
OVERRIDES: Final = f"{PREFIX}ovr:index"
#: Sorted set: the recording catalog, recording id → when it began (ms).
CATALOG: Final = f"{PREFIX}catalog"
#: Hash: recording id → its channel (to find a recording of the catalog by id).
CATALOG_CHANNELS: Final = f"{PREFIX}catalog:ch"


def notification(message_id: str) -> str:
    """Hash: one outgoing notification (type, body, and per endpoint its delivery state)."""
    return f"{PREFIX}ntf:m:{message_id}"


def notification_queue(endpoint: str) -> str:
    """Sorted set: an endpoint's notifications still to deliver, by order of writing."""
    return f"{PREFIX}ntf:q:{endpoint}"


def notification_wake(endpoint: str) -> str:
    """List: pushed to when an endpoint has a new notification (its deliverer waits on it)."""
    return f"{PREFIX}ntf:wake:{endpoint}"


def notification_lock(endpoint: str) -> str:
    """String: the worker delivering to an endpoint (one at a time keeps the order)."""
    return f"{PREFIX}ntf:lock:{endpoint}"


def notification_guard(name: str) -> str:
    """String: set once a notification that must be sent once (e.g. `uploaded:<sid>`) was."""
    return f"{PREFIX}ntf:once:{name}"


#: Counter that orders notifications.
NOTIFICATION_SEQ: Final = f"{PREFIX}ntf:seq"
#: Sorted sets of notifications by outcome (member = id, score = when, ms), trimmed.
NOTIFICATIONS_DELIVERED: Final = f"{PREFIX}ntf:delivered"
NOTIFICATIONS_FAILED: Final = f"{PREFIX}ntf:failed"
#: Sorted set of every notification still pending somewhere (member = id, score = order).
NOTIFICATIONS_PENDING: Final = f"{PREFIX}ntf:pending"
#: The stream apps may consume instead of (or beside) webhooks.
NOTIFICATIONS_STREAM: Final = f"{PREFIX}notifications"
