"""AccessToken2 RTC tokens: the official vector byte for byte, and tokens that verify."""

from __future__ import annotations

import base64
import hashlib
import hmac
import struct
import time
import zlib
from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from worker.agora.token import RtcRole, build_rtc_token

APP_ID = "970CA35de60c44645bbae8a215061b33"
APP_CERT = "5CFd2fd1755d40ecb72977518be15d3b"
CHANNEL = "7d72365eb983485397e3e3f9d460bdda"
UID = 2882341273
OFFICIAL = (
    "007eJxTYBBbsMMnKq7p9Hf/HcIX5kce9b518kCiQgSr5Zrp4X1Tu6UUGCzNDZwdjU1TUs0Mkk1MzExMk5ISUy0Sj"
    "QxNDcwMk4yN3b8IMEQwMTAwMoAwBIL4CgzmKeZGxmamqUmWFsYmFqbGluapxqnGaZYpJmYGSSkpiVwMRhYWRsYmhk"
    "bmxgDCaiTj"
)
OFFICIAL_PAYLOAD_HEX = (
    "2000"
    "16a0b84c5a5e82cbf74fb813d09f59c54bdac9c06120580539ac97578e958b1a"
    "2000393730434133356465363063343436343562626165386132313530363162333347f4100058020000010000"
    "00010001000100010058020000200037643732333635656239383334383533393765336533663964343630626464"
    "610a0032383832333431323733"
)


@dataclass(frozen=True)
class Parsed:
    """A token taken apart by this test's own reader (independent of the builder)."""

    app_id: str
    issue_ts: int
    expire_s: int
    salt: int
    privileges: dict[int, int]
    channel: str
    uid: str
    signature_ok: bool


def parse(token: str, app_certificate: str) -> Parsed:
    assert token.startswith("007")
    raw = zlib.decompress(base64.b64decode(token[3:]))
    pos = 0

    def take(fmt: str) -> int:
        nonlocal pos
        (value,) = struct.unpack_from(fmt, raw, pos)
        pos += struct.calcsize(fmt)
        return int(value)

    def take_bytes() -> bytes:
        nonlocal pos
        size = take("<H")
        value = raw[pos : pos + size]
        pos += size
        return value

    signature = take_bytes()
    signed_from = pos
    app_id = take_bytes().decode()
    issue_ts, expire_s, salt = take("<I"), take("<I"), take("<I")
    assert take("<H") == 1  # one service
    assert take("<H") == 1  # RTC
    privileges = {take("<H"): take("<I") for _ in range(take("<H"))}
    channel, uid = take_bytes().decode(), take_bytes().decode()
    assert pos == len(raw)
    key = hmac.new(struct.pack("<I", issue_ts), app_certificate.encode(), hashlib.sha256).digest()
    key = hmac.new(struct.pack("<I", salt), key, hashlib.sha256).digest()
    expected = hmac.new(key, raw[signed_from:], hashlib.sha256).digest()
    return Parsed(
        app_id,
        issue_ts,
        expire_s,
        salt,
        privileges,
        channel,
        uid,
        hmac.compare_digest(signature, expected),
    )


def official(uid: int | str = UID, role: RtcRole = RtcRole.SUBSCRIBER) -> str:
    return build_rtc_token(APP_ID, APP_CERT, CHANNEL, uid, role, 600, 600, issue_ts=1111111, salt=1)


def test_the_official_vector_is_reproduced_byte_for_byte() -> None:
    assert official() == OFFICIAL


def test_the_official_vector_decompresses_to_the_documented_payload() -> None:
    assert zlib.decompress(base64.b64decode(official()[3:])).hex() == OFFICIAL_PAYLOAD_HEX


def test_a_numeric_uid_and_its_account_string_give_the_same_token() -> None:
    assert official(str(UID)) == official(UID)


def test_uid_zero_is_written_as_an_empty_uid() -> None:
    assert parse(official(0), APP_CERT).uid == ""


def test_account_zero_is_written_as_the_string_zero() -> None:
    assert parse(official("0"), APP_CERT).uid == "0"


def test_a_subscriber_may_only_join() -> None:
    assert parse(official(role=RtcRole.SUBSCRIBER), APP_CERT).privileges == {1: 600}


def test_a_publisher_may_join_and_publish_audio_video_and_data() -> None:
    parsed = parse(official(role=RtcRole.PUBLISHER), APP_CERT)
    assert parsed.privileges == {1: 600, 2: 600, 3: 600, 4: 600}


def test_role_given_as_a_plain_integer_is_accepted() -> None:
    assert official(role=1) == official(role=RtcRole.PUBLISHER)  # type: ignore[arg-type]


def test_token_expiry_and_privilege_expiry_are_written_separately() -> None:
    token = build_rtc_token(APP_ID, APP_CERT, CHANNEL, UID, RtcRole.PUBLISHER, 86400, 3600)
    parsed = parse(token, APP_CERT)
    assert (parsed.expire_s, set(parsed.privileges.values())) == (86400, {3600})


def test_issue_time_defaults_to_now() -> None:
    before = int(time.time())
    parsed = parse(build_rtc_token(APP_ID, APP_CERT, CHANNEL, UID, 1, 600, 600), APP_CERT)
    assert before <= parsed.issue_ts <= int(time.time())


def test_salt_defaults_to_a_random_value_in_agoras_range() -> None:
    salts = {
        parse(build_rtc_token(APP_ID, APP_CERT, CHANNEL, UID, 1, 600, 600), APP_CERT).salt
        for _ in range(5)
    }
    assert len(salts) > 1
    assert all(1 <= salt <= 99_999_999 for salt in salts)


def test_a_token_does_not_verify_under_another_certificate() -> None:
    assert not parse(official(), "0" * 32).signature_ok


@settings(max_examples=60)
@given(
    channel=st.text(
        alphabet=st.characters(min_codepoint=32, max_codepoint=126), min_size=1, max_size=63
    ),
    uid=st.integers(min_value=0, max_value=2**32 - 1),
    role=st.sampled_from(list(RtcRole)),
    expire_s=st.integers(min_value=0, max_value=2**32 - 1),
    issue_ts=st.integers(min_value=0, max_value=2**32 - 1),
    salt=st.integers(min_value=1, max_value=99_999_999),
)
def test_every_token_verifies_and_carries_what_it_was_built_with(
    channel: str, uid: int, role: RtcRole, expire_s: int, issue_ts: int, salt: int
) -> None:
    token = build_rtc_token(
        APP_ID, APP_CERT, channel, uid, role, expire_s, expire_s, issue_ts=issue_ts, salt=salt
    )
    parsed = parse(token, APP_CERT)
    assert parsed.signature_ok
    assert (parsed.app_id, parsed.channel, parsed.uid) == (APP_ID, channel, str(uid or ""))
    assert (parsed.issue_ts, parsed.expire_s, parsed.salt) == (issue_ts, expire_s, salt)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"app_id": "not-hex"}, "app_id"),
        ({"app_certificate": "short"}, "app_certificate"),
        ({"channel_name": ""}, "channel_name"),
        ({"uid": -1}, "uid"),
        ({"uid": 2**32}, "uid"),
        ({"uid": "a" * 256}, "uid"),
        ({"role": 3}, "role"),
        ({"token_expire_s": -1}, "token_expire_s"),
        ({"privilege_expire_s": 2**32}, "privilege_expire_s"),
        ({"issue_ts": -5}, "issue_ts"),
        ({"salt": 2**32}, "salt"),
    ],
)
def test_bad_arguments_are_refused_by_name(kwargs: dict[str, object], field: str) -> None:
    arguments: dict[str, object] = {
        "app_id": APP_ID,
        "app_certificate": APP_CERT,
        "channel_name": CHANNEL,
        "uid": UID,
        "role": RtcRole.PUBLISHER,
        "token_expire_s": 600,
        "privilege_expire_s": 600,
        **kwargs,
    }
    with pytest.raises(ValueError, match=field):
        build_rtc_token(**arguments)  # type: ignore[arg-type]


def test_a_malformed_certificate_is_not_echoed_in_the_error() -> None:
    certificate = "secret-certificate-value"
    with pytest.raises(ValueError, match="app_certificate") as caught:
        build_rtc_token(APP_ID, certificate, CHANNEL, UID, 1, 600, 600)
    assert certificate not in str(caught.value)
