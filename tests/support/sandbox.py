"""Helpers for the sandbox's own tests: request bodies, an Agora caller, an NCS receiver."""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from sandbox.config import SandboxConfig

#: An App certificate the sandbox checks recorder tokens against.
CERTIFICATE = "5CFd2fd1755d40ecb72977518be15d3b"
RECORDER_UID = "4200000001"
STORAGE = {"vendor": 1, "region": 0, "bucket": "bucket", "accessKey": "ak", "secretKey": "sk"}


def mix_request(**overrides: Any) -> dict[str, Any]:
    """A valid mix-mode start clientRequest (hls), with top-level keys overridden."""
    request: dict[str, Any] = {
        "storageConfig": copy.deepcopy(STORAGE),
        "recordingConfig": {"channelType": 0, "maxIdleTime": 30},
        "recordingFileConfig": {"avFileType": ["hls"]},
    }
    request.update(overrides)
    return request


def individual_request(**overrides: Any) -> dict[str, Any]:
    """A valid individual-mode start clientRequest."""
    request = mix_request()
    request["recordingConfig"] = {"channelType": 0, "subscribeUidGroup": 0, "maxIdleTime": 30}
    request.update(overrides)
    return request


def web_request(**overrides: Any) -> dict[str, Any]:
    """A valid web-mode start clientRequest (maxRecordingHour 1)."""
    service = {
        "serviceName": "web_recorder_service",
        "errorHandlePolicy": "error_abort",
        "serviceParam": {
            "url": "https://example.com/room",
            "audioProfile": 0,
            "videoWidth": 1280,
            "videoHeight": 720,
            "maxRecordingHour": 1,
        },
    }
    request: dict[str, Any] = {
        "storageConfig": copy.deepcopy(STORAGE),
        "recordingFileConfig": {"avFileType": ["hls"]},
        "extensionServiceConfig": {
            "errorHandlePolicy": "error_abort",
            "extensionServices": [service],
        },
    }
    request.update(overrides)
    return request


@dataclass
class Recording:
    """A started recording's keys."""

    cname: str
    uid: str
    mode: str
    resource_id: str
    sid: str


class Agora:
    """Calls the sandbox's Agora endpoints the way a client would."""

    def __init__(self, client: httpx.AsyncClient, config: SandboxConfig) -> None:
        self.client = client
        self.base = f"/v1/apps/{config.app_id}/cloud_recording"

    async def acquire(
        self, cname: str = "room1", uid: str = RECORDER_UID, **request: Any
    ) -> httpx.Response:
        """POST acquire."""
        body = {"cname": cname, "uid": uid, "clientRequest": request}
        return await self.client.post(f"{self.base}/acquire", json=body)

    async def start(
        self,
        resource_id: str,
        mode: str,
        request: dict[str, Any],
        cname: str = "room1",
        uid: str = RECORDER_UID,
    ) -> httpx.Response:
        """POST start."""
        body = {"cname": cname, "uid": uid, "clientRequest": request}
        return await self.client.post(
            f"{self.base}/resourceid/{resource_id}/mode/{mode}/start", json=body
        )

    async def begin(
        self,
        mode: str = "mix",
        request: dict[str, Any] | None = None,
        cname: str = "room1",
        uid: str = RECORDER_UID,
    ) -> Recording:
        """acquire + start; asserts both succeed."""
        scene = 1 if mode == "web" else 0
        acquired = await self.acquire(cname, uid, scene=scene)
        assert acquired.status_code == 200, acquired.text
        resource_id = acquired.json()["resourceId"]
        if request is None:
            request = {"mix": mix_request, "individual": individual_request}.get(
                mode, web_request
            )()
        started = await self.start(resource_id, mode, request, cname, uid)
        assert started.status_code == 200, started.text
        return Recording(cname, uid, mode, resource_id, started.json()["sid"])

    def _task_url(self, rec: Recording, op: str) -> str:
        return f"{self.base}/resourceid/{rec.resource_id}/sid/{rec.sid}/mode/{rec.mode}/{op}"

    async def query(self, rec: Recording) -> httpx.Response:
        """GET query."""
        return await self.client.get(self._task_url(rec, "query"))

    async def stop(self, rec: Recording, **request: Any) -> httpx.Response:
        """POST stop."""
        body = {"cname": rec.cname, "uid": rec.uid, "clientRequest": request}
        return await self.client.post(self._task_url(rec, "stop"), json=body)

    async def update(self, rec: Recording, op: str, request: dict[str, Any]) -> httpx.Response:
        """POST update or updateLayout."""
        body = {"cname": rec.cname, "uid": rec.uid, "clientRequest": request}
        return await self.client.post(self._task_url(rec, op), json=body)


@dataclass
class Received:
    """One request the NCS receiver got."""

    body: bytes
    headers: dict[str, str]


@dataclass
class NcsReceiver:
    """A Starlette app that records NCS posts and answers with `statuses` (then 200)."""

    statuses: list[int] = field(default_factory=list)
    received: list[Received] = field(default_factory=list)
    on_receive: Callable[[Received], None] | None = None

    def app(self) -> Starlette:
        """The receiving app, to mount with `httpx.ASGITransport`."""

        async def receive(request: Request) -> JSONResponse:
            got = Received(await request.body(), dict(request.headers))
            self.received.append(got)
            if self.on_receive is not None:
                self.on_receive(got)
            status = self.statuses.pop(0) if self.statuses else 200
            return JSONResponse({"ok": status == 200}, status_code=status)

        return Starlette(routes=[Route("/ncs", receive, methods=["POST"])])
