"""The channel list (channel management API): typed pages, checked page parameters."""

from __future__ import annotations

import pytest

from tests.support.agora.builders import mix_start
from tests.support.agora.harness import APP_ID, Harness, join, start_recording
from worker.agora import AgoraAuthError, AgoraBadResponse, AgoraClient, AgoraValidationError
from worker.agora.calls import RecordingPaths, channel_list_call
from worker.agora.models import ChannelListEntry, ChannelListPage, RecordingMode


def test_a_channel_list_call_asks_for_one_page_of_the_app_ids_channels() -> None:
    call = channel_list_call(RecordingPaths(APP_ID), page_no=2, page_size=500)
    assert (call.method, call.path) == ("GET", f"/dev/v1/channel/{APP_ID}")
    assert call.params == {"page_no": "2", "page_size": "500"}


@pytest.mark.parametrize(
    ("page_no", "page_size", "field"),
    [(-1, 100, "page_no"), (0, 0, "page_size"), (0, 501, "page_size")],
)
def test_page_parameters_outside_agoras_bounds_are_refused_before_sending(
    page_no: int, page_size: int, field: str
) -> None:
    with pytest.raises(AgoraValidationError) as caught:
        channel_list_call(RecordingPaths(APP_ID), page_no=page_no, page_size=page_size)
    assert caught.value.field == field


async def test_the_channel_list_names_the_channels_with_users_and_their_counts(
    harness: Harness, agora: AgoraClient
) -> None:
    await join(harness, 11, channel="room-a")
    await join(harness, 12, channel="room-a")
    await join(harness, 13, channel="room-b")
    page = await agora.channel_list()
    assert page == ChannelListPage(
        channels=[
            ChannelListEntry(channel_name="room-a", user_count=2),
            ChannelListEntry(channel_name="room-b", user_count=1),
        ],
        total_size=2,
    )


async def test_the_channel_list_is_read_page_by_page(harness: Harness, agora: AgoraClient) -> None:
    for n in range(3):
        await join(harness, 11, channel=f"room-{n}")
    pages = [await agora.channel_list(page_no=n, page_size=2) for n in range(2)]
    assert [[c.channel_name for c in page.channels] for page in pages] == [
        ["room-0", "room-1"],
        ["room-2"],
    ]
    assert [page.total_size for page in pages] == [3, 3]
    sent = await harness.calls("channel_list")
    assert [call["path"] for call in sent] == [f"/dev/v1/channel/{APP_ID}"] * 2


async def test_a_channel_with_only_our_recorder_is_listed_with_it_counted(
    harness: Harness, agora: AgoraClient
) -> None:
    await start_recording(agora, RecordingMode.MIX, mix_start())
    page = await agora.channel_list()
    assert [(c.channel_name, c.user_count) for c in page.channels] == [("room-1", 1)]


async def test_no_channel_with_users_is_an_empty_page(agora: AgoraClient) -> None:
    page = await agora.channel_list()
    assert page == ChannelListPage(channels=[], total_size=0)


async def test_the_channel_list_of_an_unknown_app_id_is_an_auth_error(harness: Harness) -> None:
    agora = harness.make_client(app_id="0" * 32)
    with pytest.raises(AgoraAuthError, match="invalid appid"):
        await agora.channel_list()


async def test_an_answer_without_success_is_a_bad_response(
    harness: Harness, agora: AgoraClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    failed = {"success": False, "data": {"channels": [], "total_size": 0}}
    monkeypatch.setattr(harness.world.channels, "channel_list", lambda **_: failed)
    with pytest.raises(AgoraBadResponse, match="success"):
        await agora.channel_list()
