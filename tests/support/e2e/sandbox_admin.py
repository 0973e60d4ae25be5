"""The sandbox as the test's oracle: its admin API over HTTP, typed just enough to assert on.

The same client serves the in-process and the process flavours of the stack.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx


@dataclass(frozen=True)
class Recording:
    """One recording task as the sandbox (Agora) sees it."""

    sid: str
    resource_id: str
    cname: str
    uid: str
    phase: str
    started_at_ms: int
    ended_at_ms: int | None
    exit_reason: str | None

    @property
    def running(self) -> bool:
        """From a successful start until stopped, idled out or dead."""
        return self.phase == "running"


@dataclass(frozen=True)
class Call:
    """One REST call the sandbox answered: arrival (monotonic s), endpoint and answer."""

    t: float
    method: str
    path: str
    endpoint: str
    status: int
    code: int | None


class SandboxAdmin:
    """`/_sandbox/...` calls; admin calls neither count against the QPS limit nor get logged."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self._http = httpx.AsyncClient(base_url=base_url, timeout=10.0)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _post(self, path: str, body: dict[str, Any] | None = None) -> Any:
        response = await self._http.post(path, json=body or {})
        response.raise_for_status()
        return response.json()

    async def _get(self, path: str) -> Any:
        response = await self._http.get(path)
        response.raise_for_status()
        return response.json()

    async def join(
        self, channel: str, uid: int, *, role: str = "host", profile: str = "communication"
    ) -> None:
        """A user joins (NCS 101 if first, then 107 / 103 / 105)."""
        await self._post(
            f"/_sandbox/channels/{channel}/join", {"uid": uid, "role": role, "profile": profile}
        )

    async def leave(self, channel: str, uid: int) -> None:
        """A user leaves (NCS 108 / 104 / 106, 102 when the channel is empty)."""
        await self._post(f"/_sandbox/channels/{channel}/leave", {"uid": uid})

    async def members(self, channel: str) -> list[dict[str, Any]]:
        """The channel's members, recorders included."""
        view = await self._get(f"/_sandbox/channels/{channel}")
        members: list[dict[str, Any]] = view["members"]
        return members

    async def recordings(self) -> list[Recording]:
        """Every task since the start, in start order."""
        rows = await self._get("/_sandbox/recordings")
        tasks = [
            Recording(
                sid=row["sid"],
                resource_id=row["resource_id"],
                cname=row["cname"],
                uid=str(row["uid"]),
                phase=row["phase"],
                started_at_ms=int(row["started_at_ms"]),
                ended_at_ms=None if row["ended_at_ms"] is None else int(row["ended_at_ms"]),
                exit_reason=row["exit_reason"],
            )
            for row in rows
        ]
        return sorted(tasks, key=lambda task: task.started_at_ms)

    async def running(self) -> dict[str, list[Recording]]:
        """Running tasks by channel."""
        by_channel: dict[str, list[Recording]] = {}
        for task in await self.recordings():
            if task.running:
                by_channel.setdefault(task.cname, []).append(task)
        return by_channel

    async def stats(self) -> dict[str, int]:
        """`active`, `peak_active`, `limit_violations`, `rejected_429`, ..."""
        stats: dict[str, int] = await self._get("/_sandbox/stats")
        return stats

    async def calls(self) -> list[Call]:
        """Every REST call, in arrival order."""
        rows = await self._get("/_sandbox/calls")
        calls = [
            Call(
                t=float(row["t"]),
                method=row["method"],
                path=row["path"],
                endpoint=row["endpoint"],
                status=int(row["status"]),
                code=row["code"],
            )
            for row in rows
        ]
        return sorted(calls, key=lambda call: call.t)

    async def ncs(self) -> list[dict[str, Any]]:
        """Every NCS event emitted, with its delivery record."""
        events: list[dict[str, Any]] = await self._get("/_sandbox/ncs")
        return events

    async def add_fault(self, **rule: Any) -> int:
        """Add a fault rule (docs/sandbox.md, Faults); returns its id."""
        answer = await self._post("/_sandbox/faults", rule)
        return int(answer["id"])

    async def faults(self) -> list[dict[str, Any]]:
        """Live fault rules (a rule whose count is used up is gone)."""
        rules: list[dict[str, Any]] = await self._get("/_sandbox/faults")
        return rules

    async def fault_fired(self, rule_id: int) -> bool:
        """Whether a rule with a count has been applied that many times."""
        return all(rule["id"] != rule_id for rule in await self.faults())

    async def clear_faults(self) -> None:
        response = await self._http.delete("/_sandbox/faults")
        response.raise_for_status()

    async def kill(self, sid: str) -> None:
        """The task dies at Agora (NCS 41 + 11 exitStatus 1)."""
        await self._post(f"/_sandbox/recordings/{sid}/kill")

    async def failover(self, sid: str, *, not_found_s: float) -> None:
        """HA failover of a task: NCS 12, a new recorder uid, 404 for `not_found_s`."""
        await self._post(f"/_sandbox/recordings/{sid}/failover", {"not_found_s": not_found_s})
