"""The sandbox's AccessToken2 parser, verifier and signer, checked against Agora's vector."""

from __future__ import annotations

import hashlib
import hmac
import struct

import pytest

from sandbox.tokens import (
    PRIVILEGE_JOIN_CHANNEL,
    TokenError,
    build_rtc_token,
    parse_token,
    verify_rtc_token,
)

# AgoraIO/Tools DynamicKey/AgoraDynamicKey/python3/test/AccessToken2Test.py (agora-facts §6.2)
APP_ID = "970CA35de60c44645bbae8a215061b33"
CERT = "5CFd2fd1755d40ecb72977518be15d3b"
CHANNEL = "7d72365eb983485397e3e3f9d460bdda"
UID = 2882341273
ISSUE_TS = 1111111
VECTOR = (
    "007eJxTYBBbsMMnKq7p9Hf/HcIX5kce9b518kCiQgSr5Zrp4X1Tu6UUGCzNDZwdjU1TUs0Mkk1MzExMk5ISUy0SjQxNDcw"
    "Mk4yN3b8IMEQwMTAwMoAwBIL4CgzmKeZGxmamqUmWFsYmFqbGluapxqnGaZYpJmYGSSkpiVwMRhYWRsYmhkbmxgDCaiTj"
)


def _verify(token: str, *, now_s: float = ISSUE_TS + 10, **overrides: str) -> float:
    args = {"app_id": APP_ID, "certificate": CERT, "channel": CHANNEL, "uid": str(UID)}
    args.update(overrides)
    return verify_rtc_token(token, now_s=now_s, **args)


def test_official_vector_parses_to_its_documented_fields() -> None:
    token = parse_token(VECTOR)
    assert (token.app_id, token.issue_ts, token.expire_s, token.salt) == (APP_ID, ISSUE_TS, 600, 1)
    rtc = token.rtc()
    assert (rtc.channel_name, rtc.uid, rtc.privileges) == (CHANNEL, str(UID), {1: 600})
    assert token.signature.hex() == (
        "16a0b84c5a5e82cbf74fb813d09f59c54bdac9c06120580539ac97578e958b1a"
    )


def test_official_vector_signature_is_the_hmac_of_its_signing_info() -> None:
    token = parse_token(VECTOR)
    k1 = hmac.new(struct.pack("<I", ISSUE_TS), CERT.encode(), hashlib.sha256).digest()
    signing = hmac.new(struct.pack("<I", 1), k1, hashlib.sha256).digest()
    expected = hmac.new(signing, token.signing_info, hashlib.sha256).digest()
    assert hmac.compare_digest(expected, token.signature)


def test_official_vector_verifies_until_its_expiry() -> None:
    assert _verify(VECTOR) == ISSUE_TS + 600


def test_signer_reproduces_the_official_vector_byte_for_byte() -> None:
    token = build_rtc_token(
        app_id=APP_ID,
        certificate=CERT,
        channel=CHANNEL,
        uid=UID,
        expire_s=600,
        issue_ts=ISSUE_TS,
        salt=1,
    )
    assert token == VECTOR


def test_token_signed_with_another_certificate_is_rejected() -> None:
    with pytest.raises(TokenError, match="signature"):
        _verify(VECTOR, certificate="0" * 32)


def test_expired_token_is_rejected() -> None:
    with pytest.raises(TokenError, match="expired"):
        _verify(VECTOR, now_s=ISSUE_TS + 600)


def test_join_privilege_shorter_than_the_token_bounds_validity() -> None:
    token = build_rtc_token(
        app_id=APP_ID,
        certificate=CERT,
        channel=CHANNEL,
        uid=UID,
        expire_s=600,
        issue_ts=ISSUE_TS,
        salt=5,
        privileges={PRIVILEGE_JOIN_CHANNEL: 60},
    )
    with pytest.raises(TokenError, match="expired"):
        _verify(token, now_s=ISSUE_TS + 61)


def test_token_for_another_channel_is_rejected() -> None:
    with pytest.raises(TokenError, match="channel"):
        _verify(VECTOR, channel="other")


def test_token_for_another_uid_is_rejected() -> None:
    with pytest.raises(TokenError, match="uid"):
        _verify(VECTOR, uid="1")


def test_token_for_another_app_is_rejected() -> None:
    with pytest.raises(TokenError, match="App ID"):
        _verify(VECTOR, app_id="0" * 32)


def test_wildcard_uid_token_admits_any_uid() -> None:
    token = build_rtc_token(
        app_id=APP_ID,
        certificate=CERT,
        channel=CHANNEL,
        uid=0,
        expire_s=600,
        issue_ts=ISSUE_TS,
        salt=9,
    )
    assert _verify(token, uid="123") == ISSUE_TS + 600


def test_token_without_join_privilege_is_rejected() -> None:
    token = build_rtc_token(
        app_id=APP_ID,
        certificate=CERT,
        channel=CHANNEL,
        uid=UID,
        expire_s=600,
        issue_ts=ISSUE_TS,
        salt=2,
        privileges={2: 600},
    )
    with pytest.raises(TokenError, match="joinChannel"):
        _verify(token)


@pytest.mark.parametrize("garbage", ["006abcdefgh", "007!!!!!!!!", "007QUJDREVG", VECTOR[:-8]])
def test_malformed_token_is_rejected_without_echoing_it(garbage: str) -> None:
    with pytest.raises(TokenError) as caught:
        parse_token(garbage)
    assert garbage[3:] not in str(caught.value)
