"""Fuzzed webhook bodies: mutations of valid NCS and app-event bodies, byte-level and
structural, that never announce a user joining (a fuzzed join would start a real recording
for a channel nobody is in, which is not the fault under test)."""

from __future__ import annotations

import json
import random
from typing import Any

#: Channel events that add a user (or make one a host).
JOIN_TYPES = frozenset({101, 103, 105, 107, 111})
_ODD_VALUES: list[Any] = [
    None, True, -1, 0, 2**64, 1e308, "", "x" * 300, [], {}, [1, 2], "\u0000", "\ud7ff\u00e9",
    "../../etc", {"$gt": ""}, float("1e-300"),
]  # fmt: skip


def _templates(rng: random.Random, n: int) -> list[dict[str, Any]]:
    channel = f"fuzz-{n % 7}"
    uid = rng.randint(1, 10_000)
    return [
        {"noticeId": f"fuzz-{n}", "productId": 1, "eventType": 108, "notifyMs": 1,
         "payload": {"channelName": channel, "uid": uid, "platform": 7, "clientSeq": n,
                     "reason": 1, "ts": 1_700_000_000, "duration": 5}},
        {"noticeId": f"fuzz-{n}", "productId": 1, "eventType": 102, "notifyMs": 1,
         "payload": {"channelName": channel, "lastUid": uid, "ts": 1_700_000_000}},
        {"noticeId": f"fuzz-{n}", "productId": 3, "eventType": rng.choice([11, 12, 31, 40, 41]),
         "notifyMs": 1, "payload": {"cname": channel, "uid": str(uid), "sid": "f" * 32,
                                    "sequence": n, "sendts": 1, "serviceType": 0,
                                    "details": {"msgName": "x", "leaveCode": 4}}},
    ]  # fmt: skip


def _mutate_structure(rng: random.Random, body: dict[str, Any]) -> Any:
    choice = rng.randrange(6)
    if choice == 0:  # an odd value somewhere in the payload
        payload = body["payload"]
        payload[rng.choice(list(payload))] = rng.choice(_ODD_VALUES)
    elif choice == 1:  # a field missing
        payload = body["payload"]
        del payload[rng.choice(list(payload))]
    elif choice == 2:  # the payload replaced
        body["payload"] = rng.choice(_ODD_VALUES)
    elif choice == 3:  # an odd envelope value (never a join type)
        key = rng.choice(["productId", "eventType", "notifyMs"])
        body[key] = rng.choice(_ODD_VALUES)
    elif choice == 4:  # deep nesting
        nested: Any = 0
        for _ in range(rng.randint(50, 400)):
            nested = [nested]
        body["payload"]["details"] = nested
    else:  # not an object at all
        return rng.choice([[body], "text", 12, None])
    return body


def _mutate_bytes(rng: random.Random, raw: bytes) -> bytes:
    data = bytearray(raw)
    for _ in range(rng.randint(1, 8)):
        kind = rng.randrange(3)
        at = rng.randrange(len(data)) if data else 0
        if kind == 0 and data:
            data[at] = rng.randrange(256)
        elif kind == 1:
            data[at:at] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 4)))
        elif data:
            del data[at : at + rng.randint(1, 16)]
    if rng.random() < 0.2:
        data = data[: rng.randrange(len(data) + 1)]
    return bytes(data)


def _announces_a_join(raw: bytes) -> bool:
    try:
        parsed = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return False
    if not isinstance(parsed, dict):
        return False
    kind = parsed.get("eventType", parsed.get("type"))
    # A string type may be coerced by a lenient reader: refuse the join ones in any form.
    return str(kind).strip() in {str(t) for t in JOIN_TYPES} | {"user.joined"}


def ncs_body(rng: random.Random, n: int) -> bytes:
    """One fuzzed NCS body (its noticeId, when it still has one, is unique per `n`)."""
    while True:
        body = rng.choice(_templates(rng, n))
        if rng.random() < 0.5:
            raw = json.dumps(_mutate_structure(rng, body)).encode()
        else:
            raw = _mutate_bytes(rng, json.dumps(body, separators=(",", ":")).encode())
        if not _announces_a_join(raw):
            return raw


def app_event_body(rng: random.Random, n: int) -> bytes:
    """One fuzzed app event body (`/webhooks/events`), never a join."""
    while True:
        event: dict[str, Any] = {
            "id": f"fuzz-app-{n}", "type": rng.choice(["user.left", "channel.closed"]),
            "channel": f"fuzz-{n % 7}", "uid": rng.randint(1, 10_000),
            "ts_ms": 1_700_000_000_000, "seq": n,
        }  # fmt: skip
        if rng.random() < 0.5:
            event[rng.choice(["uid", "ts_ms", "seq", "role", "channel"])] = rng.choice(_ODD_VALUES)
            raw = json.dumps(event).encode()
        else:
            raw = _mutate_bytes(rng, json.dumps(event).encode())
        if not _announces_a_join(raw):
            return raw
