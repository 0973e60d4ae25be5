"""Find lost joins: channels Agora reports occupied that we believe empty (NCS is best effort).

A channel whose join notifications were all lost has no occupancy of ours, so neither the
consumer nor the user-list check of occupied channels ever looks at it. Two sources name
the channels worth a user list:

- Agora's channel list (`GET /dev/v1/channel/{appid}`, `CHANNEL_LIST_PAGE_SIZE` channels a
  page): every channel with members and its `user_count`. Pages are read from where the
  previous pass stopped (`autorec:heal:channel_page`), so a long list is covered over a few
  passes and one pass never spends more than its budget on it.
- Channels with an event in the last `RECENT_ACTIVITY_MS` that we believe empty, when the
  list could not be read whole in this pass (an error, the budget, or several pages: Agora
  warns that paging a changing list may miss a channel).

A candidate is believed empty (occupancy 0, not wanted, no session), its policy records
(`record = true`), and the list's `user_count` (recorders included) reaches the policy's
`min_users`: fewer members cannot make it wanted. The user list (`heal.heal_channel`)
then decides, counting neither recorders nor, unless the policy says so, the audience. A
listed channel found with nobody who counts is not asked again for `NOBODY_RECHECK_MS`
while its member count stays the same (`autorec:heal:listed_nobody`).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Final

from worker import keys
from worker.agora import AgoraError
from worker.agora.models.common import channel_name_problem
from worker.controller.deps import ControllerDeps

logger = logging.getLogger(__name__)

#: Channels asked for per channel-list page (Agora's largest page: fewest requests).
CHANNEL_LIST_PAGE_SIZE: Final = 500
#: A channel with an event this recent that we believe empty is a candidate while the
#: channel list is unavailable (a minute: a tombstone's life, so a lost rejoin of a new uid
#: right after a leave is looked for).
RECENT_ACTIVITY_MS: Final = 60_000
#: A listed channel whose user list showed nobody who counts (an audience without hosts,
#: a recorder still leaving) is not asked again for this long while its member count stays
#: the same, so such channels do not take the budget of every pass.
NOBODY_RECHECK_MS: Final = 300_000


@dataclass(slots=True)
class ListedChannels:
    """What this pass read of Agora's channel list."""

    user_counts: dict[str, int] = field(default_factory=dict)
    """Channel → members (recorders included), for the channels the pages named."""
    pages: int = 0
    """Pages read (each one request)."""
    whole: bool = False
    """The whole list was read in one page in this pass, so a channel it does not name has
    no members (up to Agora's own delay)."""


async def read_channel_list(
    deps: ControllerDeps, *, max_pages: int, may_send: Callable[[], Awaitable[bool]]
) -> ListedChannels:
    """Read up to `max_pages` pages of the channel list, from where the last pass stopped.

    `may_send` is awaited before each page (the caller's rate and budget check); a failed
    page ends the reading and the next pass starts that page again.
    """
    listed = ListedChannels()
    raw = await deps.redis.get(keys.CHANNEL_LIST_PAGE)
    page_no = int(raw) if raw is not None else 0
    first_page = page_no
    while listed.pages < max_pages and await may_send():
        try:
            page = await deps.agora.channel_list(page_no=page_no, page_size=CHANNEL_LIST_PAGE_SIZE)
        except AgoraError as exc:
            logger.warning("reconcile_all: channel list page %d unavailable: %s", page_no, exc)
            break
        listed.pages += 1
        for entry in page.channels:
            listed.user_counts[entry.channel_name] = entry.user_count
        page_no += 1
        if page_no * CHANNEL_LIST_PAGE_SIZE >= page.total_size or not page.channels:
            listed.whole = first_page == 0 and listed.pages == 1
            page_no = 0
            break
    await deps.redis.set(keys.CHANNEL_LIST_PAGE, page_no)
    return listed


async def _believed_empty(deps: ControllerDeps, channels: list[str]) -> list[str]:
    """The channels among `channels` we count nobody in and do not want recorded."""
    if not channels:
        return []
    async with deps.redis.pipeline(transaction=False) as pipe:
        for channel in channels:
            pipe.hmget(keys.channel(channel), "occupancy", "desired")
        rows = await pipe.execute()
    return [
        channel
        for channel, (occupancy, desired) in zip(channels, rows, strict=True)
        if occupancy in (None, b"0") and desired != b"1"
    ]


def _worth_a_look(deps: ControllerDeps, channel: str, user_count: int | None) -> bool:
    """Whether a user list of `channel` could make it wanted (policy, size, a valid name)."""
    if channel_name_problem(channel, None) is not None:
        return False  # no recording could be started for it either
    policy = deps.policies.match(channel)
    if not policy.record:
        return False
    return user_count is None or user_count >= policy.min_users


async def _not_known_empty(
    deps: ControllerDeps, channels: list[str], user_counts: dict[str, int], now_ms: int
) -> list[str]:
    """`channels` less those whose user list recently showed nobody who counts at the same
    member count."""
    if not channels:
        return []
    seen = await deps.redis.hmget(keys.LISTED_NOBODY, channels)
    kept = []
    for channel, raw in zip(channels, seen, strict=True):
        if raw is not None:
            count, _, at_ms = raw.decode().partition(":")
            if int(count) == user_counts[channel] and now_ms - int(at_ms) < NOBODY_RECHECK_MS:
                continue
        kept.append(channel)
    return kept


async def _prune_nobody(deps: ControllerDeps, listed: ListedChannels, now_ms: int) -> None:
    """Drop remembered channels past their recheck time, and, after a whole list, those it
    no longer names, so the hash holds at most the last few minutes' channels."""
    remembered = await deps.redis.hgetall(keys.LISTED_NOBODY)
    gone = [
        channel.decode()
        for channel, raw in remembered.items()
        if now_ms - int(raw.decode().partition(":")[2]) >= NOBODY_RECHECK_MS
        or (listed.whole and channel.decode() not in listed.user_counts)
    ]
    if gone:
        await deps.redis.hdel(keys.LISTED_NOBODY, *gone)


async def note_nobody_counts(
    deps: ControllerDeps, channel: str, user_count: int, *, now_ms: int
) -> None:
    """Remember that `channel`, listed with `user_count` members, has nobody who counts."""
    await deps.redis.hset(keys.LISTED_NOBODY, channel, f"{user_count}:{now_ms}")


async def lost_join_candidates(
    deps: ControllerDeps,
    listed: ListedChannels,
    *,
    now_ms: int,
    exclude: Iterable[str],
) -> list[str]:
    """Channels to read the user list of: listed ones first (most members first), then
    recently active ones when the list was not read whole; none in `exclude`."""
    skip = set(exclude)
    from_list = sorted(
        (c for c in listed.user_counts if c not in skip),
        key=lambda c: (-listed.user_counts[c], c),
    )
    from_list = [
        c
        for c in await _believed_empty(deps, from_list)
        if _worth_a_look(deps, c, listed.user_counts[c])
    ]
    from_list = await _not_known_empty(deps, from_list, listed.user_counts, now_ms)
    await _prune_nobody(deps, listed, now_ms)
    if listed.whole:
        return from_list
    recent_raw = await deps.redis.zrangebyscore(keys.CHANNELS, now_ms - RECENT_ACTIVITY_MS, "+inf")
    recent = sorted({r.decode() for r in recent_raw} - skip - listed.user_counts.keys())
    recent = [c for c in await _believed_empty(deps, recent) if _worth_a_look(deps, c, None)]
    return from_list + recent
