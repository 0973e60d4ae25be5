"""Signature verification is a pure function of body, headers, secret and time."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from webhooks.signatures import (
    SignatureError,
    Webhook,
    agora_signature,
    verify_agora_signature,
)

# Agora's published example (older NCS docs): secret, exact body, HMAC-SHA256 hex.
AGORA_EXAMPLE_BODY = (
    b'{"eventMs":1560408533119,"eventType":10,"noticeId":"4eb720f0-8da7-11e9-a43e-53f411c2761f",'
    b'"notifyMs":1560408533119,"payload":{"a":"1","b":2},"productId":1}'
)
AGORA_EXAMPLE_V2 = "6d3320c60b11101395b7fc8f9068748808a0aa1bfa064438e39d1bc2c7d74d99"

# The Standard Webhooks reference libraries' test vector.
SW_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SW_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
SW_TS = datetime.fromtimestamp(1614265330, UTC)
SW_BODY = b'{"test": 2432232314}'
SW_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="

bodies = st.binary(max_size=2048)
secrets_ = st.binary(min_size=1, max_size=64)
msg_ids = st.text(
    alphabet=st.characters(min_codepoint=33, max_codepoint=126), min_size=1, max_size=64
)


def _sw_headers(signature: str = SW_SIGNATURE, ts: datetime = SW_TS) -> dict[str, str]:
    return {
        "webhook-id": SW_ID,
        "webhook-timestamp": str(int(ts.timestamp())),
        "webhook-signature": signature,
    }


# --- Agora-Signature-V2 ---------------------------------------------------------------------


def test_agora_published_example_verifies() -> None:
    assert agora_signature(AGORA_EXAMPLE_BODY, b"secret") == AGORA_EXAMPLE_V2
    verify_agora_signature(AGORA_EXAMPLE_BODY, AGORA_EXAMPLE_V2, b"secret")


def test_agora_signature_in_upper_case_hex_verifies() -> None:
    verify_agora_signature(AGORA_EXAMPLE_BODY, AGORA_EXAMPLE_V2.upper(), b"secret")


@given(body=bodies, secret=secrets_)
def test_agora_signature_of_any_body_verifies(body: bytes, secret: bytes) -> None:
    verify_agora_signature(body, agora_signature(body, secret), secret)


@given(body=bodies.filter(bool), secret=secrets_, data=st.data())
def test_agora_signature_rejects_any_changed_byte(
    body: bytes, secret: bytes, data: st.DataObject
) -> None:
    at = data.draw(st.integers(min_value=0, max_value=len(body) - 1))
    flip = data.draw(st.integers(min_value=1, max_value=255))
    tampered = body[:at] + bytes([body[at] ^ flip]) + body[at + 1 :]
    with pytest.raises(SignatureError, match="does not match"):
        verify_agora_signature(tampered, agora_signature(body, secret), secret)


@given(body=bodies, secret=secrets_, other=secrets_)
def test_agora_signature_with_another_secret_is_rejected(
    body: bytes, secret: bytes, other: bytes
) -> None:
    assume(other != secret)
    with pytest.raises(SignatureError, match="does not match"):
        verify_agora_signature(body, agora_signature(body, other), secret)


@pytest.mark.parametrize("header", [None, ""])
def test_agora_missing_signature_is_rejected(header: str | None) -> None:
    with pytest.raises(SignatureError, match="missing Agora-Signature-V2"):
        verify_agora_signature(AGORA_EXAMPLE_BODY, header, b"secret")


@given(header=st.text(max_size=80))
def test_agora_garbage_header_is_a_mismatch_not_a_crash(header: str) -> None:
    assume(header.strip().lower() != AGORA_EXAMPLE_V2)
    with pytest.raises(SignatureError):
        verify_agora_signature(AGORA_EXAMPLE_BODY, header, b"secret")


def test_agora_error_never_contains_the_expected_signature() -> None:
    with pytest.raises(SignatureError) as caught:
        verify_agora_signature(AGORA_EXAMPLE_BODY, "00", b"secret")
    assert AGORA_EXAMPLE_V2 not in str(caught.value)
    assert "secret" not in str(caught.value)


# --- Standard Webhooks ----------------------------------------------------------------------


def test_standard_webhooks_test_vector_signs_and_verifies() -> None:
    webhook = Webhook(SW_SECRET)
    assert webhook.sign(SW_ID, SW_TS, SW_BODY) == SW_SIGNATURE
    assert webhook.verify(_sw_headers(), SW_BODY, SW_TS) == SW_ID


def test_secret_without_prefix_is_read_as_base64() -> None:
    webhook = Webhook(SW_SECRET.removeprefix("whsec_"))
    assert webhook.sign(SW_ID, SW_TS, SW_BODY) == SW_SIGNATURE


def test_raw_key_bytes_are_used_as_is() -> None:
    key = base64.b64decode(SW_SECRET.removeprefix("whsec_"))
    assert Webhook(key).sign(SW_ID, SW_TS, SW_BODY) == SW_SIGNATURE


@pytest.mark.parametrize("secret", ["whsec_not base64!", "whsec_", b""])
def test_unusable_secret_is_refused(secret: str | bytes) -> None:
    with pytest.raises(ValueError, match="webhook secret"):
        Webhook(secret)


@given(msg_id=msg_ids, body=bodies, key=secrets_, ts_s=st.integers(0, 2**33))
def test_any_signed_message_verifies(msg_id: str, body: bytes, key: bytes, ts_s: int) -> None:
    webhook = Webhook(key)
    ts = datetime.fromtimestamp(ts_s, UTC)
    assert webhook.verify(webhook.headers(msg_id, ts, body), body, ts) == msg_id


@given(body=bodies, extra=st.binary(min_size=1, max_size=8))
def test_a_changed_body_is_rejected(body: bytes, extra: bytes) -> None:
    webhook = Webhook(SW_SECRET)
    headers = webhook.headers(SW_ID, SW_TS, body)
    with pytest.raises(SignatureError, match="no webhook-signature matches"):
        webhook.verify(headers, body + extra, SW_TS)


def test_a_changed_id_is_rejected() -> None:
    headers = {**_sw_headers(), "webhook-id": SW_ID + "x"}
    with pytest.raises(SignatureError, match="no webhook-signature matches"):
        Webhook(SW_SECRET).verify(headers, SW_BODY, SW_TS)


def test_a_signature_with_another_secret_is_rejected() -> None:
    other = Webhook(b"another key")
    headers = _sw_headers(other.sign(SW_ID, SW_TS, SW_BODY))
    with pytest.raises(SignatureError, match="no webhook-signature matches"):
        Webhook(SW_SECRET).verify(headers, SW_BODY, SW_TS)


def test_one_valid_signature_among_several_is_enough() -> None:
    rotated = f"v1,bm90IGl0 v1a,c29tZXRoaW5n {SW_SIGNATURE} v2,eHl6"
    assert Webhook(SW_SECRET).verify(_sw_headers(rotated), SW_BODY, SW_TS) == SW_ID


def test_a_valid_digest_under_another_version_is_rejected() -> None:
    headers = _sw_headers(SW_SIGNATURE.replace("v1,", "v1a,"))
    with pytest.raises(SignatureError, match="no webhook-signature matches"):
        Webhook(SW_SECRET).verify(headers, SW_BODY, SW_TS)


@pytest.mark.parametrize("offset_s", [-300, 300])
def test_timestamp_at_the_tolerance_edge_is_accepted(offset_s: int) -> None:
    now = SW_TS + timedelta(seconds=offset_s)
    assert Webhook(SW_SECRET).verify(_sw_headers(), SW_BODY, now) == SW_ID


def test_timestamp_older_than_tolerance_is_rejected() -> None:
    now = SW_TS + timedelta(seconds=301)
    with pytest.raises(SignatureError, match="too old"):
        Webhook(SW_SECRET).verify(_sw_headers(), SW_BODY, now)


def test_timestamp_newer_than_tolerance_is_rejected() -> None:
    now = SW_TS - timedelta(seconds=301)
    with pytest.raises(SignatureError, match="too new"):
        Webhook(SW_SECRET).verify(_sw_headers(), SW_BODY, now)


@pytest.mark.parametrize("name", ["webhook-id", "webhook-timestamp", "webhook-signature"])
def test_each_missing_header_is_named(name: str) -> None:
    headers = _sw_headers()
    del headers[name]
    with pytest.raises(SignatureError, match=f"missing {name} header"):
        Webhook(SW_SECRET).verify(headers, SW_BODY, SW_TS)


def test_non_integer_timestamp_is_rejected() -> None:
    headers = {**_sw_headers(), "webhook-timestamp": "2021-02-25T15:02:10Z"}
    with pytest.raises(SignatureError, match="not an integer"):
        Webhook(SW_SECRET).verify(headers, SW_BODY, SW_TS)


def test_naive_time_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        Webhook(SW_SECRET).verify(_sw_headers(), SW_BODY, datetime(2021, 2, 25))


@given(header=st.text(max_size=120))
def test_garbage_signature_header_is_a_mismatch_not_a_crash(header: str) -> None:
    assume(header and SW_SIGNATURE not in header.split())
    with pytest.raises(SignatureError):
        Webhook(SW_SECRET).verify(_sw_headers(header), SW_BODY, SW_TS)
