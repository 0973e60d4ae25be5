"""Agora AccessToken2 ("007") RTC tokens for recorders, as AgoraIO/Tools builds them.

Layout (agora-facts §6.2), little-endian throughout:
`"007" + base64(zlib(packString(signature) + signing_info))` where
`signing_info = packString(app_id) + u32(issue_ts) + u32(expire) + u32(salt) + u16(1) + rtc`,
`rtc = u16(1) + map_u32(privileges) + packString(channel) + packString(uid or "")` and
`signature = HMAC-SHA256(HMAC-SHA256(u32(salt), HMAC-SHA256(u32(issue_ts), certificate)),
signing_info)`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import struct
import time
import zlib
from enum import IntEnum

VERSION = "007"
SERVICE_RTC = 1
_UINT32_MAX = 2**32 - 1
_SALT_MAX = 99_999_999
_HEX32 = re.compile(r"[0-9a-fA-F]{32}")


class RtcRole(IntEnum):
    """Role of an RTC token (RtcTokenBuilder2)."""

    PUBLISHER = 1
    """May join and publish audio, video and data streams."""
    SUBSCRIBER = 2
    """May join; differs from a publisher only with co-host authentication enabled."""


class RtcPrivilege(IntEnum):
    """Privilege keys of the RTC service."""

    JOIN_CHANNEL = 1
    PUBLISH_AUDIO_STREAM = 2
    PUBLISH_VIDEO_STREAM = 3
    PUBLISH_DATA_STREAM = 4


def build_rtc_token(
    app_id: str,
    app_certificate: str,
    channel_name: str,
    uid: int | str,
    role: RtcRole | int,
    token_expire_s: int,
    privilege_expire_s: int,
    *,
    issue_ts: int | None = None,
    salt: int | None = None,
) -> str:
    """Build an AccessToken2 RTC token.

    `uid` is an integer uid (0 = any uid) or a user account string; an integer and its decimal
    string give the same token. Expiries are seconds after `issue_ts` (default: now); `salt`
    defaults to a random 1..99999999. Raises ValueError naming the bad argument (never its
    value for the certificate).
    """
    if not _HEX32.fullmatch(app_id):
        raise ValueError("app_id must be 32 hexadecimal characters")
    if not _HEX32.fullmatch(app_certificate):
        raise ValueError("app_certificate must be 32 hexadecimal characters")
    role = _check_role(role)
    uid_bytes = _uid_bytes(uid)
    channel_bytes = channel_name.encode("utf-8")
    if not channel_bytes or len(channel_bytes) > 0xFFFF:
        raise ValueError("channel_name must be a non-empty string")
    _check_uint32("token_expire_s", token_expire_s)
    _check_uint32("privilege_expire_s", privilege_expire_s)
    issue_ts = int(time.time()) if issue_ts is None else issue_ts
    _check_uint32("issue_ts", issue_ts)
    salt = secrets.randbelow(_SALT_MAX) + 1 if salt is None else salt
    _check_uint32("salt", salt)

    privileges = {RtcPrivilege.JOIN_CHANNEL: privilege_expire_s}
    if role is RtcRole.PUBLISHER:
        privileges[RtcPrivilege.PUBLISH_AUDIO_STREAM] = privilege_expire_s
        privileges[RtcPrivilege.PUBLISH_VIDEO_STREAM] = privilege_expire_s
        privileges[RtcPrivilege.PUBLISH_DATA_STREAM] = privilege_expire_s
    rtc_service = (
        _u16(SERVICE_RTC)
        + _pack_privileges(privileges)
        + _pack_bytes(channel_bytes)
        + _pack_bytes(uid_bytes)
    )
    signing_info = (
        _pack_bytes(app_id.encode("ascii"))
        + _u32(issue_ts)
        + _u32(token_expire_s)
        + _u32(salt)
        + _u16(1)
        + rtc_service
    )
    signing_key = _signing_key(app_certificate.encode("ascii"), issue_ts, salt)
    signature = hmac.new(signing_key, signing_info, hashlib.sha256).digest()
    compressed = zlib.compress(_pack_bytes(signature) + signing_info)
    return VERSION + base64.b64encode(compressed).decode("ascii")


def _signing_key(app_certificate: bytes, issue_ts: int, salt: int) -> bytes:
    key = hmac.new(_u32(issue_ts), app_certificate, hashlib.sha256).digest()
    return hmac.new(_u32(salt), key, hashlib.sha256).digest()


def _check_role(role: RtcRole | int) -> RtcRole:
    try:
        return RtcRole(role)
    except ValueError:
        raise ValueError("role must be 1 (publisher) or 2 (subscriber)") from None


def _uid_bytes(uid: int | str) -> bytes:
    if isinstance(uid, bool):
        raise ValueError("uid must be an integer or a user account string")
    if isinstance(uid, int):
        if not 0 <= uid <= _UINT32_MAX:
            raise ValueError(f"uid must be in 0..{_UINT32_MAX}")
        return b"" if uid == 0 else str(uid).encode("ascii")
    account = uid.encode("utf-8")
    if len(account) > 255:
        raise ValueError("uid as a user account must be at most 255 bytes")
    return account


def _check_uint32(name: str, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= _UINT32_MAX:
        raise ValueError(f"{name} must be an integer in 0..{_UINT32_MAX}")


def _u16(value: int) -> bytes:
    return struct.pack("<H", value)


def _u32(value: int) -> bytes:
    return struct.pack("<I", value)


def _pack_bytes(value: bytes) -> bytes:
    return _u16(len(value)) + value


def _pack_privileges(privileges: dict[RtcPrivilege, int]) -> bytes:
    packed = _u16(len(privileges))
    for key in sorted(privileges):
        packed += _u16(key) + _u32(privileges[key])
    return packed
