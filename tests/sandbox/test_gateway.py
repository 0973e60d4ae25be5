"""Gateway behaviour in front of every endpoint: Basic auth, App ID, routes, JSON bodies."""

from __future__ import annotations

import httpx
from starlette.applications import Starlette

from sandbox.config import SandboxConfig
from tests.support.sandbox import Agora


def _unauthenticated(
    app: Starlette,
    auth: tuple[str, str] | None = None,
    headers: dict[str, str] | None = None,
) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app), base_url="http://sandbox", auth=auth, headers=headers
    )


async def test_missing_authorization_answers_401_unauthorized(app: Starlette, agora: Agora) -> None:
    async with _unauthenticated(app) as client:
        response = await client.post(f"{agora.base}/acquire", json={})
    assert (response.status_code, response.json()) == (401, {"message": "Unauthorized"})


async def test_wrong_credentials_answer_401_invalid_credentials(
    app: Starlette, agora: Agora, config: SandboxConfig
) -> None:
    async with _unauthenticated(app, auth=(config.customer_id, "wrong")) as client:
        response = await client.post(f"{agora.base}/acquire", json={})
    assert response.status_code == 401
    assert response.json() == {"message": "Invalid authentication credentials"}


async def test_non_basic_scheme_is_refused(app: Starlette, agora: Agora) -> None:
    headers = {"Authorization": "Bearer abc"}
    async with _unauthenticated(app, headers=headers) as client:
        response = await client.get(f"{agora.base}/resourceid/r/sid/s/mode/mix/query")
    assert response.json() == {"message": "Invalid authentication credentials"}


async def test_foreign_app_id_answers_400_appid_is_invalid(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/apps/" + "0" * 32 + "/cloud_recording/acquire", json={})
    assert (response.status_code, response.json()) == (400, {"message": "appid is invalid"})


async def test_unknown_path_answers_the_gateway_404(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/apps/x/cloud_recording/nothing")
    assert response.status_code == 404
    assert response.json() == {"message": "no Route matched with those values"}


async def test_wrong_method_answers_the_gateway_404(agora: Agora) -> None:
    response = await agora.client.get(f"{agora.base}/acquire")
    assert response.json() == {"message": "no Route matched with those values"}


async def test_unknown_mode_answers_the_gateway_404(agora: Agora) -> None:
    response = await agora.client.get(f"{agora.base}/resourceid/r/sid/s/mode/audio/query")
    assert response.status_code == 404


async def test_body_that_is_not_json_answers_code_2(agora: Agora) -> None:
    response = await agora.client.post(
        f"{agora.base}/acquire", content=b"{nope", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["code"] == 2


async def test_body_without_json_content_type_answers_code_8(agora: Agora) -> None:
    response = await agora.client.post(f"{agora.base}/acquire", content=b"{}")
    assert (response.status_code, response.json()["code"]) == (400, 8)


async def test_ncs_ip_list_names_loopback(client: httpx.AsyncClient) -> None:
    response = await client.get("/v2/ncs/ip")
    assert response.json() == {"data": {"service": {"hosts": [{"primaryIP": "127.0.0.1"}]}}}
