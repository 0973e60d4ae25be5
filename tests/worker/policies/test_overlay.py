"""A manual override's per-recording fields laid over a channel's policy."""

from __future__ import annotations

import pytest

from worker.policies import Mode, Policy, Streams
from worker.policies.overlay import OverlayError, overlay

MIX = Policy()
WEB = Policy(mode=Mode.WEB, web_url="https://example.com/{channel}")


def test_no_fields_leave_the_policy_as_it_is() -> None:
    assert overlay(MIX, {}) is MIX


def test_mode_and_streams_replace_the_policys() -> None:
    policy = overlay(MIX, {"mode": "individual", "streams": "audio"})
    assert (policy.mode, policy.streams) == (Mode.INDIVIDUAL, Streams.AUDIO)
    assert policy.transcoding is None


def test_a_web_policy_can_be_overridden_to_record_the_channel_in_mix() -> None:
    policy = overlay(WEB, {"mode": "mix"})
    assert policy.mode is Mode.MIX
    assert policy.transcoding is not None


@pytest.mark.parametrize(
    ("fields", "field", "words"),
    [
        ({"mode": "karaoke"}, "mode", "mix"),
        ({"streams": "smell"}, "streams", "audio"),
        ({"mode": "web"}, "web_url", "required"),
        ({"mode": "individual", "transcoding": {}}, "transcoding", "does not apply"),
        ({"max_duration_s": -1}, "max_duration_s", "greater"),
        ({"record": False}, "record", "not a per-recording"),
        ({"grace_s": 3}, "grace_s", "not a per-recording"),
    ],
)
def test_fields_that_do_not_fit_name_the_field_and_the_reason(
    fields: dict[str, object], field: str, words: str
) -> None:
    with pytest.raises(OverlayError) as caught:
        overlay(MIX, fields)
    assert caught.value.field == field
    assert words in caught.value.reason
    assert "pydantic" not in str(caught.value)
