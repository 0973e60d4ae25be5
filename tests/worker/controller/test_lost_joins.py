"""Lost joins are found from Agora's channel list and healed from the user list; recording
channels get the user-list budget first."""

from __future__ import annotations

import dataclasses
import time

import pytest

from sandbox.faults import FaultRule
from sandbox.models import Profile
from sandbox.models import Role as SandboxRole
from tests.support.controller import Stack
from tests.support.waiting import eventually
from worker import keys
from worker.controller import lost_joins, user_list_round
from worker.controller.effects import Effects
from worker.controller.heal import HealOutcome
from worker.controller.sweep import sweep
from worker.state.reconcile_queue import reconcile_job_id
from worker.state.sessions import SessionState

pytestmark = pytest.mark.parametrize(
    "policy_text",
    [
        """
[[rule]]
match = "quiet-*"
record = false
[[rule]]
match = "pair-*"
min_users = 2
[[rule]]
match = "stage-*"
count_audience = true
"""
    ],
)


def join_unheard(stack: Stack, channel: str, uid: int, *, role: str = "communication") -> None:
    """A user joins at Agora and every notification of it is lost."""
    if role == "communication":
        stack.world.join(
            channel, uid, role=SandboxRole.HOST, profile=Profile.COMMUNICATION, platform=7
        )
    else:
        stack.world.join(channel, uid, role=SandboxRole(role), profile=Profile.LIVE, platform=7)


def user_list_calls(stack: Stack, channel: str) -> int:
    return sum(
        1
        for call in stack.world.calls
        if call.endpoint == "user_list" and call.path.endswith(f"/{channel}")
    )


async def desired(stack: Stack, channel: str) -> bytes | None:
    value: bytes | None = await stack.arq.hget(keys.channel(channel), "desired")
    return value


async def test_a_channel_agora_lists_occupied_gets_its_unheard_users_and_a_reconcile(
    stack: Stack,
) -> None:
    join_unheard(stack, "lost-1", 11)
    join_unheard(stack, "lost-1", 12)
    report = await sweep(stack.effects)
    assert report.listed == 1
    assert report.healed == {"lost-1": HealOutcome.ADDED}
    assert await desired(stack, "lost-1") == b"1"
    gen = int(await stack.arq.hget(keys.channel("lost-1"), "gen") or 0)
    assert await stack.arq.exists(f"arq:job:{reconcile_job_id('lost-1', gen)}") == 1


async def test_a_channel_whose_joins_were_lost_starts_recording_after_one_pass(
    stack: Stack,
) -> None:
    join_unheard(stack, "lost-1", 11)
    await sweep(stack.effects)
    await stack.start_worker()

    async def recording() -> bool:
        return len(stack.running("lost-1")) == 1

    await eventually(recording, what="a recording of the channel whose joins were lost")


async def test_a_channel_we_already_count_is_not_looked_up_again_as_a_lost_join(
    stack: Stack,
) -> None:
    await stack.join("known-1", 11)
    report = await sweep(stack.effects)
    assert report.listed == 1
    assert report.healed == {}
    assert user_list_calls(stack, "known-1") == 1  # only the round robin of occupied channels


async def test_our_own_recorders_in_a_listed_channel_are_never_counted(stack: Stack) -> None:
    recorder = stack.deps.config.uids("lone-1").backup
    join_unheard(stack, "lone-1", recorder)
    report = await sweep(stack.effects)
    assert report.checked == ["lone-1"]
    assert report.healed == {}
    assert await desired(stack, "lone-1") in (None, b"0")


async def test_an_audience_alone_does_not_make_a_live_channel_wanted(stack: Stack) -> None:
    join_unheard(stack, "show-1", 21, role="audience")
    report = await sweep(stack.effects)
    assert report.checked == ["show-1"]
    assert report.healed == {}
    assert await desired(stack, "show-1") in (None, b"0")


async def test_an_audience_counts_where_the_policy_counts_the_audience(stack: Stack) -> None:
    join_unheard(stack, "stage-1", 21, role="audience")
    report = await sweep(stack.effects)
    assert report.healed == {"stage-1": HealOutcome.ADDED}
    assert await desired(stack, "stage-1") == b"1"


async def test_a_channel_the_policy_does_not_record_costs_no_user_list(stack: Stack) -> None:
    join_unheard(stack, "quiet-1", 11)
    report = await sweep(stack.effects)
    assert report.listed == 1
    assert report.checked == []
    assert user_list_calls(stack, "quiet-1") == 0


async def test_a_channel_with_fewer_members_than_the_policy_needs_costs_no_user_list(
    stack: Stack,
) -> None:
    join_unheard(stack, "pair-1", 11)
    report = await sweep(stack.effects)
    assert report.checked == []
    join_unheard(stack, "pair-1", 12)
    report = await sweep(stack.effects)
    assert report.healed == {"pair-1": HealOutcome.ADDED}


async def test_every_page_of_the_channel_list_is_read(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(lost_joins, "CHANNEL_LIST_PAGE_SIZE", 2)
    for n in range(5):
        join_unheard(stack, f"lost-{n}", 11)
    report = await sweep(stack.effects)
    assert report.listed == 5
    assert sorted(report.healed) == [f"lost-{n}" for n in range(5)]
    assert sum(1 for call in stack.world.calls if call.endpoint == "channel_list") == 3


async def test_a_long_channel_list_is_read_on_over_several_passes(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(lost_joins, "CHANNEL_LIST_PAGE_SIZE", 2)
    monkeypatch.setattr(user_list_round, "MAX_CHANNEL_LIST_PAGES", 1)
    for n in range(5):
        join_unheard(stack, f"lost-{n}", 11)
    healed: list[str] = []
    for expected_next_page in (b"1", b"2", b"0"):
        report = await sweep(stack.effects)
        healed += report.healed
        assert await stack.arq.get(keys.CHANNEL_LIST_PAGE) == expected_next_page
    assert sorted(healed) == [f"lost-{n}" for n in range(5)]


async def test_without_the_channel_list_recently_active_channels_are_looked_up(
    stack: Stack,
) -> None:
    await stack.join("again-1", 11)
    await stack.leave("again-1", 11)
    join_unheard(stack, "again-1", 12)  # a new user right after, whose join was lost
    stack.world.faults.add(FaultRule(endpoint="*", status=401, count=1))  # the list fails
    report = await sweep(stack.effects)
    assert report.listed == 0
    assert report.healed == {"again-1": HealOutcome.ADDED}


async def test_recording_channels_get_the_user_list_budget_first(stack: Stack) -> None:
    for channel in ("rec-a", "rec-b"):
        await stack.join(channel, 11)
        await stack.until_state(channel, SessionState.RUNNING)
        stack.world.leave(channel, 11)  # the leave notification never arrives
    for n in range(3):
        await stack.join(f"quiet-{n}", 11)  # occupied, never recorded; first by name
    # Three requests beyond the two sessions' queries: a round robin by name would spend
    # them on quiet-0..2 and leave both leaks running.
    stack.deps.config = dataclasses.replace(
        stack.deps.config, max_api_qps=1.0, reconcile_interval_s=10.0
    )
    report = await sweep(stack.effects)
    assert report.checked[:2] == ["rec-a", "rec-b"]
    assert report.healed == {"rec-a": HealOutcome.CLEARED, "rec-b": HealOutcome.CLEARED}
    assert report.checked[2:] == ["quiet-0"]
    assert report.listed == 0  # no room for a page and a user list after them


async def test_recording_channels_are_checked_every_pass(stack: Stack) -> None:
    for channel in ("rec-a", "rec-b", "rec-c"):
        await stack.join(channel, 11)
        await stack.until_state(channel, SessionState.RUNNING)
    stack.deps.config = dataclasses.replace(
        stack.deps.config, max_api_qps=1.0, reconcile_interval_s=2.0
    )
    for _ in range(2):
        report = await sweep(stack.effects)
        assert sorted(report.checked) == ["rec-a", "rec-b", "rec-c"]


async def test_user_lists_wait_for_spare_room_at_the_rate_limit(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    await stack.join("rec-a", 11)
    await stack.until_state("rec-a", SessionState.RUNNING)
    answers = iter([False, False])  # busy twice (starts going out), then spare room

    async def busy_at_first(self: Effects) -> bool:
        return next(answers, True)

    monkeypatch.setattr(Effects, "spare_api_capacity", busy_at_first)
    report = await sweep(stack.effects)
    assert report.checked[0] == "rec-a"


async def test_a_busy_rate_limit_ends_the_user_lists_within_half_an_interval(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    await stack.join("rec-a", 11)
    await stack.until_state("rec-a", SessionState.RUNNING)

    async def always_busy(self: Effects) -> bool:
        return False

    monkeypatch.setattr(Effects, "spare_api_capacity", always_busy)
    stack.deps.config = dataclasses.replace(stack.deps.config, reconcile_interval_s=0.4)
    before = user_list_calls(stack, "rec-a")
    started_s = time.monotonic()
    report = await sweep(stack.effects)
    assert time.monotonic() - started_s < 0.4
    assert report.checked == []
    assert user_list_calls(stack, "rec-a") == before


async def test_a_listed_channel_with_nobody_who_counts_is_not_asked_again_each_pass(
    stack: Stack,
) -> None:
    join_unheard(stack, "show-1", 21, role="audience")
    first = await sweep(stack.effects)
    second = await sweep(stack.effects)
    assert (first.checked, second.checked) == (["show-1"], [])
    assert user_list_calls(stack, "show-1") == 1


async def test_a_listed_channel_is_asked_again_once_its_member_count_changes(
    stack: Stack,
) -> None:
    join_unheard(stack, "show-1", 21, role="audience")
    await sweep(stack.effects)
    join_unheard(stack, "show-1", 22, role="host")
    report = await sweep(stack.effects)
    assert report.healed == {"show-1": HealOutcome.ADDED}
    assert await desired(stack, "show-1") == b"1"


async def test_a_listed_channel_whose_users_we_hold_as_left_is_asked_again_next_pass(
    stack: Stack,
) -> None:
    await stack.join("back-1", 11)
    await stack.apply_leave_only("back-1", 11)  # we heard a leave; Agora still lists the user
    first = await sweep(stack.effects)
    second = await sweep(stack.effects)
    assert first.checked == ["back-1"]
    assert second.checked == ["back-1"]  # no memo: the user counts, only our record is stale


async def test_a_remembered_channel_is_forgotten_once_the_list_no_longer_names_it(
    stack: Stack,
) -> None:
    join_unheard(stack, "show-1", 21, role="audience")
    await sweep(stack.effects)
    assert await stack.arq.hkeys(keys.LISTED_NOBODY) == [b"show-1"]
    stack.world.leave("show-1", 21)
    await sweep(stack.effects)
    assert await stack.arq.hkeys(keys.LISTED_NOBODY) == []
