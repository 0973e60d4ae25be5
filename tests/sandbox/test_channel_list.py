"""The channel-management channel list: channels with members, paged, with user counts."""

from __future__ import annotations

import httpx
from starlette.applications import Starlette

from sandbox.config import SandboxConfig
from tests.support.sandbox import Agora


async def _join(client: httpx.AsyncClient, channel: str, uid: int, **body: object) -> None:
    response = await client.post(f"/_sandbox/channels/{channel}/join", json={"uid": uid, **body})
    response.raise_for_status()


async def _leave(client: httpx.AsyncClient, channel: str, uid: int) -> None:
    response = await client.post(f"/_sandbox/channels/{channel}/leave", json={"uid": uid})
    response.raise_for_status()


async def _page(
    client: httpx.AsyncClient, config: SandboxConfig, **params: object
) -> httpx.Response:
    return await client.get(f"/dev/v1/channel/{config.app_id}", params=params)


async def test_the_channel_list_names_each_channel_with_members_and_its_user_count(
    client: httpx.AsyncClient, config: SandboxConfig
) -> None:
    await _join(client, "room-a", 1)
    await _join(client, "room-a", 2)
    await _join(client, "show", 3, role="audience", profile="live")
    response = await _page(client, config)
    assert response.status_code == 200
    assert response.json() == {
        "success": True,
        "data": {
            "channels": [
                {"channel_name": "room-a", "user_count": 2},
                {"channel_name": "show", "user_count": 1},
            ],
            "total_size": 2,
        },
    }


async def test_a_channel_everyone_left_is_not_listed(
    client: httpx.AsyncClient, config: SandboxConfig
) -> None:
    await _join(client, "room-a", 1)
    await _leave(client, "room-a", 1)
    data = (await _page(client, config)).json()["data"]
    assert data == {"channels": [], "total_size": 0}


async def test_the_recorder_counts_as_a_user_of_its_channel(
    agora: Agora, config: SandboxConfig
) -> None:
    await _join(agora.client, "room1", 42)
    await agora.begin("mix")
    channels = (await _page(agora.client, config)).json()["data"]["channels"]
    assert channels == [{"channel_name": "room1", "user_count": 2}]


async def test_pages_split_the_list_and_every_page_tells_the_total(
    client: httpx.AsyncClient, config: SandboxConfig
) -> None:
    for n in range(5):
        await _join(client, f"room-{n}", 1)
    pages = [
        (await _page(client, config, page_no=page_no, page_size=2)).json()["data"]
        for page_no in range(4)
    ]
    names = [[c["channel_name"] for c in page["channels"]] for page in pages]
    assert names == [["room-0", "room-1"], ["room-2", "room-3"], ["room-4"], []]
    assert {page["total_size"] for page in pages} == {5}


async def test_a_channel_closing_between_pages_shifts_the_next_page(
    client: httpx.AsyncClient, config: SandboxConfig
) -> None:
    for n in range(4):
        await _join(client, f"room-{n}", 1)
    first = (await _page(client, config, page_no=0, page_size=2)).json()["data"]["channels"]
    await _leave(client, "room-0", 1)
    second = (await _page(client, config, page_no=1, page_size=2)).json()["data"]["channels"]
    seen = [c["channel_name"] for c in first + second]
    assert seen == ["room-0", "room-1", "room-3"]  # room-2 moved to page 0: missed


async def test_a_page_size_outside_one_to_five_hundred_is_refused(
    client: httpx.AsyncClient, config: SandboxConfig
) -> None:
    for size in (0, 501, "many"):
        response = await _page(client, config, page_size=size)
        assert response.status_code == 400
        assert response.json() == {"message": "invalid page_size"}
    assert (await _page(client, config, page_size=500)).status_code == 200


async def test_a_negative_page_number_is_refused(
    client: httpx.AsyncClient, config: SandboxConfig
) -> None:
    response = await _page(client, config, page_no=-1)
    assert response.status_code == 400
    assert response.json() == {"message": "invalid page_no"}


async def test_the_channel_list_of_another_app_id_is_refused(client: httpx.AsyncClient) -> None:
    response = await client.get("/dev/v1/channel/0123456789abcdef0123456789abcdef")
    assert response.status_code == 400
    assert response.json() == {"message": "invalid appid"}


async def test_the_channel_list_needs_the_customer_credentials(
    app: Starlette, config: SandboxConfig
) -> None:
    transport = httpx.ASGITransport(app)
    async with httpx.AsyncClient(transport=transport, base_url="http://sandbox") as anonymous:
        response = await anonymous.get(f"/dev/v1/channel/{config.app_id}")
    assert response.status_code == 401


async def test_the_channel_list_is_logged_as_its_own_endpoint(
    client: httpx.AsyncClient, config: SandboxConfig
) -> None:
    await _page(client, config)
    calls = (await client.get("/_sandbox/calls")).json()
    assert [call["endpoint"] for call in calls] == ["channel_list"]
