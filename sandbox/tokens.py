"""AccessToken2 ("007"): the sandbox's own parser and verifier, and a signer for its tests.

Format (agora-facts §6): `"007" + base64(zlib(packString(signature) + signing_info))`, with
`signing_info = packString(app_id) + u32 issue_ts + u32 expire + u32 salt + u16 n + services`
(little-endian); `signature = HMAC-SHA256(HMAC-SHA256(u32 salt, HMAC-SHA256(u32 issue_ts,
certificate)), signing_info)`. Expiries are seconds relative to `issue_ts`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import struct
import zlib
from dataclasses import dataclass

VERSION = "007"
SERVICE_RTC = 1
SERVICE_RTM = 2
PRIVILEGE_JOIN_CHANNEL = 1
PRIVILEGE_PUBLISH_AUDIO = 2
PRIVILEGE_PUBLISH_VIDEO = 3
PRIVILEGE_PUBLISH_DATA = 4


class TokenError(Exception):
    """A token that cannot be used; the message never contains the token or the certificate."""


@dataclass(frozen=True)
class TokenService:
    """One service of a token: type, privileges (id → seconds after issue), and its tail."""

    service_type: int
    privileges: dict[int, int]
    channel_name: str = ""
    uid: str = ""


@dataclass(frozen=True)
class AccessToken:
    """A parsed AccessToken2 (its signature not yet checked)."""

    signature: bytes
    app_id: str
    issue_ts: int
    expire_s: int
    salt: int
    services: tuple[TokenService, ...]
    signing_info: bytes

    def rtc(self) -> TokenService:
        """The RTC service, or TokenError when the token has none."""
        for service in self.services:
            if service.service_type == SERVICE_RTC:
                return service
        raise TokenError("token has no RTC service")


class _Reader:
    """Little-endian reads over a byte string, with clear errors on truncation."""

    def __init__(self, data: bytes) -> None:
        self._data = data
        self.offset = 0

    def _take(self, size: int) -> bytes:
        end = self.offset + size
        if end > len(self._data):
            raise TokenError("token is truncated")
        chunk = self._data[self.offset : end]
        self.offset = end
        return chunk

    def u16(self) -> int:
        value: int = struct.unpack("<H", self._take(2))[0]
        return value

    def u32(self) -> int:
        value: int = struct.unpack("<I", self._take(4))[0]
        return value

    def raw(self) -> bytes:
        return self._take(self.u16())

    def text(self) -> str:
        try:
            return self.raw().decode("utf-8")
        except UnicodeDecodeError as exc:
            raise TokenError("token holds a string that is not UTF-8") from exc

    def rest(self) -> bytes:
        return self._data[self.offset :]


def parse_token(token: str) -> AccessToken:
    """Decode an AccessToken2 string into its fields (no signature check)."""
    if not token.startswith(VERSION):
        raise TokenError("token is not an AccessToken2 (must start with 007)")
    try:
        packed = zlib.decompress(base64.b64decode(token[len(VERSION) :], validate=True))
    except (binascii.Error, zlib.error, ValueError) as exc:
        raise TokenError("token is not base64 of a zlib stream") from exc
    reader = _Reader(packed)
    signature = reader.raw()
    signing_info = reader.rest()
    info = _Reader(signing_info)
    app_id = info.text()
    issue_ts, expire_s, salt = info.u32(), info.u32(), info.u32()
    services = tuple(_read_service(info) for _ in range(info.u16()))
    if info.rest():
        raise TokenError("token has trailing bytes")
    return AccessToken(signature, app_id, issue_ts, expire_s, salt, services, signing_info)


def _read_service(info: _Reader) -> TokenService:
    service_type = info.u16()
    privileges = {info.u16(): info.u32() for _ in range(info.u16())}
    if service_type == SERVICE_RTC:
        return TokenService(service_type, privileges, channel_name=info.text(), uid=info.text())
    if service_type == SERVICE_RTM:
        return TokenService(service_type, privileges, uid=info.text())
    raise TokenError(f"token holds service type {service_type}, which the sandbox cannot read")


def _signing_key(certificate: str, issue_ts: int, salt: int) -> bytes:
    first = hmac.new(struct.pack("<I", issue_ts), certificate.encode(), hashlib.sha256).digest()
    return hmac.new(struct.pack("<I", salt), first, hashlib.sha256).digest()


def verify_rtc_token(
    token: str, *, app_id: str, certificate: str, channel: str, uid: str, now_s: float
) -> float:
    """Check a recorder's RTC token; return the Unix second it stops granting join.

    Raises TokenError when the token is malformed, signed with another certificate, issued
    for another app, channel or uid (uid "" is the wildcard), or already expired.
    """
    parsed = parse_token(token)
    expected = hmac.new(
        _signing_key(certificate, parsed.issue_ts, parsed.salt),
        parsed.signing_info,
        hashlib.sha256,
    ).digest()
    if not hmac.compare_digest(expected, parsed.signature):
        raise TokenError("token signature does not match the app certificate")
    if parsed.app_id != app_id:
        raise TokenError("token was issued for another App ID")
    rtc = parsed.rtc()
    if rtc.channel_name != channel:
        raise TokenError("token was issued for another channel")
    if rtc.uid not in ("", uid):
        raise TokenError("token was issued for another uid")
    if PRIVILEGE_JOIN_CHANNEL not in rtc.privileges:
        raise TokenError("token does not grant joinChannel")
    valid_until_s = parsed.issue_ts + min(parsed.expire_s, rtc.privileges[PRIVILEGE_JOIN_CHANNEL])
    if now_s >= valid_until_s:
        raise TokenError("token has expired")
    return float(valid_until_s)


def _pack_text(value: str | bytes) -> bytes:
    raw = value.encode() if isinstance(value, str) else value
    return struct.pack("<H", len(raw)) + raw


def build_rtc_token(
    *,
    app_id: str,
    certificate: str,
    channel: str,
    uid: int | str,
    expire_s: int,
    issue_ts: int,
    salt: int,
    privileges: dict[int, int] | None = None,
) -> str:
    """Sign an AccessToken2 with one RTC service (for the sandbox's own tests and demos).

    `uid` 0 (or "") is the wildcard; `privileges` default to joinChannel for `expire_s`.
    """
    granted = privileges if privileges is not None else {PRIVILEGE_JOIN_CHANNEL: expire_s}
    uid_str = "" if uid in (0, "") else str(uid)
    service = struct.pack("<HH", SERVICE_RTC, len(granted))
    service += b"".join(struct.pack("<HI", key, granted[key]) for key in sorted(granted))
    service += _pack_text(channel) + _pack_text(uid_str)
    signing_info = _pack_text(app_id) + struct.pack("<IIIH", issue_ts, expire_s, salt, 1) + service
    signature = hmac.new(
        _signing_key(certificate, issue_ts, salt), signing_info, hashlib.sha256
    ).digest()
    packed = zlib.compress(_pack_text(signature) + signing_info)
    return VERSION + base64.b64encode(packed).decode()
