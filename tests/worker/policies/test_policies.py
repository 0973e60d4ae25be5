"""Recording policies: loading, matching, one-line validation errors, derived Agora values."""

from __future__ import annotations

import re
import string
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from worker.policies import (
    ALL_STREAMS,
    MAX_PREFIX_CHARS,
    FileTypes,
    Layout,
    Mode,
    Policy,
    PolicyError,
    PrefixTemplate,
    Streams,
    builtin_default,
    channel_prefix,
    load_policies,
    parse_policies,
)

DOCS = Path(__file__).resolve().parents[3] / "docs"
AGORA_CHANNEL_CHARS = string.ascii_letters + string.digits + " !#$%&()+-:;<=.>?@[]^_{}|~,"
PREFIX_ELEMENT = re.compile(r"[A-Za-z0-9]+")


def parse(text: str, grace_s: float = 30) -> list[Policy]:
    policies = parse_policies(text, default_grace_s=grace_s)
    return [*policies.rules, policies.default]


def error_of(text: str) -> str:
    with pytest.raises(PolicyError) as info:
        parse_policies(text, default_grace_s=30)
    return str(info.value)


# --- the default ----------------------------------------------------------------------------


def test_without_a_policy_file_every_channel_gets_the_builtin_default() -> None:
    policies = load_policies(None, default_grace_s=30)
    assert policies.match("any channel") == builtin_default(grace_s=30)


def test_the_builtin_default_records_everything_as_mix_audio_video_hls() -> None:
    policy = builtin_default(grace_s=30)
    assert (policy.record, policy.mode, policy.streams, policy.file_types) == (
        True,
        Mode.MIX,
        Streams.BOTH,
        FileTypes.HLS,
    )
    assert (policy.min_users, policy.max_idle_s, policy.grace_s) == (1, 300, 30)


def test_the_builtin_default_keeps_max_idle_above_a_long_grace() -> None:
    assert builtin_default(grace_s=600).max_idle_s == 660


# --- matching and layering ------------------------------------------------------------------


def test_the_first_matching_rule_wins() -> None:
    policies = parse_policies(
        """
        [[rule]]
        match = "class-*"
        mode = "individual"
        [[rule]]
        match = "class-1*"
        mode = "web"
        web_url = "https://example.com/{channel}"
        """,
        default_grace_s=30,
    )
    assert policies.match("class-12").rule_index == 1


def test_a_channel_no_rule_matches_gets_the_default_policy() -> None:
    policies = parse_policies('[[rule]]\nmatch = "class-*"\nrecord = false', default_grace_s=30)
    assert policies.match("meeting-1") is policies.default


def test_matching_is_case_sensitive() -> None:
    policies = parse_policies('[[rule]]\nmatch = "Class-*"\nrecord = false', default_grace_s=30)
    assert policies.match("class-1").record is True


def test_defaults_apply_to_every_rule_and_to_the_default_policy() -> None:
    rule, default = parse('[defaults]\nmin_users = 2\n[[rule]]\nmatch = "a*"')
    assert (rule.min_users, default.min_users) == (2, 2)


def test_a_rule_overrides_the_defaults() -> None:
    (rule, _) = parse('[defaults]\nmin_users = 2\n[[rule]]\nmatch = "a*"\nmin_users = 3')
    assert rule.min_users == 3


def test_grace_defaults_to_the_setting() -> None:
    (rule, default) = parse('[[rule]]\nmatch = "a*"', grace_s=45)
    assert (rule.grace_s, default.grace_s) == (45, 45)


def test_defaults_for_another_mode_are_left_out_of_a_rule() -> None:
    text = """
    [defaults]
    [defaults.transcoding]
    width = 1280
    height = 720
    [[rule]]
    match = "solo-*"
    mode = "individual"
    """
    (rule, default) = parse(text)
    assert rule.transcoding is None
    assert default.transcoding is not None
    assert default.transcoding.width == 1280


def test_transcoding_in_defaults_and_in_a_rule_merge_key_by_key() -> None:
    text = """
    [defaults.transcoding]
    width = 1280
    height = 720
    [[rule]]
    match = "a*"
    [rule.transcoding]
    layout = "floating"
    """
    (rule, _) = parse(text)
    assert rule.transcoding is not None
    assert (rule.transcoding.width, rule.transcoding.layout) == (1280, Layout.FLOATING)


@pytest.mark.parametrize("name", ["stream", "conference"])
def test_the_documented_examples_load(name: str) -> None:
    policies = load_policies(str(DOCS / "examples" / f"{name}.toml"), default_grace_s=30)
    assert policies.rules


def test_the_stream_example_records_every_broadcaster_individually() -> None:
    policies = load_policies(str(DOCS / "examples" / "stream.toml"), default_grace_s=30)
    policy = policies.match("show-42")
    assert (policy.mode, policy.agora_channel_type(), policy.count_audience) == (
        Mode.INDIVIDUAL,
        1,
        False,
    )


def test_the_conference_example_mixes_meetings_in_a_grid_as_hls_and_mp4() -> None:
    policies = load_policies(str(DOCS / "examples" / "conference.toml"), default_grace_s=30)
    policy = policies.match("meeting-7")
    assert policy.transcoding is not None
    assert (policy.mode, policy.transcoding.layout, policy.file_types.agora_av_file_types) == (
        Mode.MIX,
        Layout.BEST_FIT,
        ["hls", "mp4"],
    )
    assert policies.match("lobby").record is False


# --- validation errors ------------------------------------------------------------------------


def test_max_idle_not_above_grace_names_the_rule_and_the_field() -> None:
    text = """
    [[rule]]
    match = "a*"
    [[rule]]
    match = "class-*"
    grace_s = 30
    max_idle_s = 30
    """
    assert error_of(text) == (
        'policy rule 2 (match "class-*"): max_idle_s must be greater than grace_s (30 <= 30)'
    )


def test_an_error_carries_the_rule_and_field_as_attributes() -> None:
    with pytest.raises(PolicyError) as info:
        parse_policies('[[rule]]\nmatch = "x"\nmin_users = 0', default_grace_s=30)
    assert (info.value.rule_index, info.value.match, info.value.field) == (1, "x", "min_users")


def test_an_out_of_range_value_names_the_field_and_value() -> None:
    assert error_of('[[rule]]\nmatch = "x"\nmin_users = 0') == (
        'policy rule 1 (match "x"): min_users: input should be greater than or equal to 1 (got 0)'
    )


def test_an_unknown_field_suggests_the_closest_name() -> None:
    assert error_of('[[rule]]\nmatch = "x"\ngrace = 3') == (
        'policy rule 1 (match "x"): unknown field "grace" (did you mean "grace_s"?)'
    )


def test_an_unknown_transcoding_field_is_named_with_its_table() -> None:
    assert error_of('[[rule]]\nmatch = "x"\n[rule.transcoding]\nbitrate = 900') == (
        'policy rule 1 (match "x"): transcoding.unknown field "bitrate" '
        '(did you mean "bitrate_kbps"?)'
    )


def test_an_unknown_mode_lists_the_allowed_ones() -> None:
    assert error_of('[[rule]]\nmatch = "x"\nmode = "mixed"') == (
        "policy rule 1 (match \"x\"): mode: input should be 'mix', 'individual' or 'web' "
        '(got "mixed")'
    )


def test_a_field_of_another_mode_is_rejected() -> None:
    text = '[[rule]]\nmatch = "x"\nmode = "individual"\n[rule.transcoding]\nwidth = 640'
    assert error_of(text) == (
        'policy rule 1 (match "x"): transcoding does not apply to mode "individual" (only mix)'
    )


def test_web_mode_requires_a_web_url() -> None:
    assert error_of('[[rule]]\nmatch = "x"\nmode = "web"') == (
        'policy rule 1 (match "x"): web_url is required in mode "web"'
    )


def test_a_web_url_with_an_unknown_placeholder_is_rejected() -> None:
    text = '[[rule]]\nmatch = "x"\nmode = "web"\nweb_url = "https://a.example/{room}"'
    assert "web_url supports only the {channel} placeholder" in error_of(text)


def test_mp4_is_rejected_in_individual_mode() -> None:
    text = '[[rule]]\nmatch = "x"\nmode = "individual"\nfile_types = "hls+mp4"'
    assert error_of(text).endswith('file_types "hls+mp4" needs mode "mix" or "web"')


def test_snapshots_only_need_an_interval() -> None:
    text = '[[rule]]\nmatch = "x"\nmode = "individual"\nfile_types = "none"'
    assert "snapshot_interval_s" in error_of(text)


def test_exclusive_subscription_lists_are_rejected() -> None:
    text = (
        '[[rule]]\nmatch = "x"\nmode = "individual"\n'
        "subscribe_audio_uids = [1]\nunsubscribe_audio_uids = [2]"
    )
    assert error_of(text).endswith(
        "subscribe_audio_uids and unsubscribe_audio_uids exclude each other"
    )


def test_a_uid_out_of_range_is_rejected() -> None:
    text = '[[rule]]\nmatch = "x"\nsubscribe_video_uids = [4294967296]'
    assert "subscribe_video_uids uids must be integers from 1 to 4294967295" in error_of(text)


def test_a_mix_canvas_beyond_full_hd_is_rejected() -> None:
    text = '[[rule]]\nmatch = "x"\n[rule.transcoding]\nwidth = 1920\nheight = 1920'
    assert error_of(text) == (
        'policy rule 1 (match "x"): transcoding.width x height must be at most 1920x1080 '
        "pixels, got 1920x1920"
    )


def test_the_vertical_layout_requires_the_large_uid() -> None:
    text = '[[rule]]\nmatch = "x"\n[rule.transcoding]\nlayout = "vertical"'
    assert error_of(text).endswith(
        "transcoding.max_resolution_uid is required by the vertical layout"
    )


def test_a_frame_rate_agora_does_not_support_is_rejected() -> None:
    text = '[[rule]]\nmatch = "x"\n[rule.transcoding]\nfps = 25'
    assert error_of(text).endswith(
        "transcoding.fps must be one of 1, 7, 10, 15, 24, 30, 60, got 25"
    )


def test_a_storage_prefix_with_other_characters_is_rejected() -> None:
    text = '[[rule]]\nmatch = "x"\nstorage_prefix = "my_recordings/{channel}"'
    assert "storage_prefix element 'my_recordings' may contain only A-Z" in error_of(text)


def test_a_storage_prefix_that_may_exceed_agora_s_length_is_rejected() -> None:
    text = f'[[rule]]\nmatch = "x"\nstorage_prefix = "{"a" * 80}/{{channel}}"'
    assert "storage_prefix may expand to 138 characters, Agora allows 128" in error_of(text)


def test_a_rule_without_match_is_rejected() -> None:
    assert error_of("[[rule]]\nmode = 'mix'") == "policy rule 1: match is required"


def test_match_in_defaults_is_rejected() -> None:
    assert error_of('[defaults]\nmatch = "*"') == (
        "policy [defaults]: match belongs in [[rule]] tables"
    )


def test_an_error_in_the_defaults_table_is_reported_there() -> None:
    assert error_of('[defaults]\nstreams = "all"').startswith("policy [defaults]: streams:")


def test_a_single_rule_table_is_rejected_with_the_right_syntax() -> None:
    assert error_of('[rule]\nmatch = "x"') == (
        "rules must be an array of tables: write [[rule]], not [rule]"
    )


def test_an_unknown_top_level_key_is_rejected() -> None:
    assert error_of('[[rules]]\nmatch = "x"').startswith('unknown top-level key "rules"')


def test_invalid_toml_reports_the_line() -> None:
    assert error_of("[[rule]]\nmatch = \nmode = 'mix'") == (
        "invalid TOML: Invalid value (at line 2, column 9)"
    )


@pytest.mark.parametrize(
    "text",
    [
        '[[rule]]\nmatch = "x"\nmode = ["mix"]',
        '[[rule]]\nmatch = "x"\ntranscoding = "big"',
        '[[rule]]\nmatch = 3\nrecord = "sometimes"',
        '[[rule]]\nmatch = "x"\nsubscribe_audio_uids = []',
        "[[rule]]\nmatch = \"x\"\nmode = 'web'\nweb_url = 'ftp://a'",
        '[[rule]]\nmatch = "x"\ngrace_s = nan',
    ],
)
def test_every_error_is_one_line_naming_the_rule(text: str) -> None:
    message = error_of(text)
    assert "\n" not in message
    assert message.startswith("policy rule 1")


def test_a_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "absent.toml"
    with pytest.raises(PolicyError, match=r'^policy file ".*absent\.toml" not found$'):
        load_policies(str(path), default_grace_s=30)


def test_an_unreadable_path_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match=r"^policy file .* cannot be read: Is a directory$"):
        load_policies(str(tmp_path), default_grace_s=30)


def test_a_file_that_is_not_utf8_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "latin1.toml"
    path.write_bytes(b'[[rule]]\nmatch = "caf\xe9"\n')
    with pytest.raises(PolicyError, match=r"is not UTF-8 text$"):
        load_policies(str(path), default_grace_s=30)


def test_an_error_in_a_file_starts_with_its_path(tmp_path: Path) -> None:
    path = tmp_path / "policies.toml"
    path.write_text('[[rule]]\nmatch = "x"\nmin_users = 0\n', encoding="utf-8")
    with pytest.raises(PolicyError) as info:
        load_policies(str(path), default_grace_s=30)
    assert str(info.value).startswith(f'{path}: policy rule 1 (match "x"): min_users:')


# --- values for Agora -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("setting", "observed_live", "agora"),
    [("auto", None, 0), ("auto", True, 1), ("auto", False, 0), ("live", None, 1)],
)
def test_the_channel_type_follows_the_setting_or_the_observed_profile(
    setting: str, observed_live: bool | None, agora: int
) -> None:
    policy = Policy.model_validate({"channel_type": setting})
    assert policy.agora_channel_type(observed_live) == agora


def test_a_subscription_list_for_one_medium_subscribes_all_of_the_other() -> None:
    policy = Policy(mode=Mode.INDIVIDUAL, subscribe_audio_uids=("7",))
    assert policy.subscriptions.subscribe_video_uids == (ALL_STREAMS,)


def test_audio_only_recording_adds_no_video_subscription() -> None:
    policy = Policy(mode=Mode.INDIVIDUAL, streams=Streams.AUDIO, unsubscribe_audio_uids=("7",))
    assert policy.subscriptions.subscribe_video_uids is None


@pytest.mark.parametrize(("users", "group"), [(1, 0), (2, 0), (3, 1), (12, 2), (32, 4), (49, 5)])
def test_the_uid_group_follows_the_expected_users(users: int, group: int) -> None:
    assert Policy(mode=Mode.INDIVIDUAL, expected_users=users).subscribe_uid_group == group


def test_the_uid_group_counts_named_uids_when_no_expectation_is_given() -> None:
    policy = Policy.model_validate(
        {"mode": "individual", "subscribe_audio_uids": [1, 2, 3], "subscribe_video_uids": [3]}
    )
    assert policy.subscribe_uid_group == 1


def test_the_web_page_url_carries_the_encoded_channel() -> None:
    policy = Policy(mode=Mode.WEB, web_url="https://app.example/view?ch={channel}")
    assert policy.web_page_url("a b/ü") == "https://app.example/view?ch=a%20b%2F%C3%BC"


def test_web_recording_hours_round_the_duration_up() -> None:
    assert Policy(max_duration_s=3601).max_recording_hour == 2


def test_the_storage_prefix_uses_the_utc_start_date() -> None:
    policy = Policy(storage_prefix="rec/{yyyy}/{mm}/d{dd}")
    at = datetime(2026, 1, 1, 1, 30, tzinfo=timezone(timedelta(hours=3)))
    assert policy.storage_prefix_for("x", at=at) == ["rec", "2025", "12", "d31"]


def test_the_storage_prefix_needs_an_aware_start_time() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        builtin_default(grace_s=30).storage_prefix_for("x", at=datetime(2026, 1, 1))


def test_a_channel_prefix_keeps_the_readable_part_and_adds_a_hash() -> None:
    readable, digest = channel_prefix("room-1")
    assert readable == "room1"
    assert re.fullmatch(r"[0-9a-f]{16}", digest)


def test_names_differing_only_in_punctuation_share_the_readable_part_not_the_hash() -> None:
    dash, underscore = channel_prefix("room-1"), channel_prefix("room_1")
    assert dash[0] == underscore[0]
    assert dash[1] != underscore[1]


def test_a_channel_without_letters_or_digits_gets_only_the_hash() -> None:
    assert len(channel_prefix("会议 ~!")) == 1


# --- storage prefix properties ----------------------------------------------------------------

channel_names = st.one_of(
    st.text(alphabet=AGORA_CHANNEL_CHARS, min_size=1, max_size=63),
    st.text(min_size=1, max_size=300),
)


def _valid(prefix: list[str]) -> bool:
    return all(PREFIX_ELEMENT.fullmatch(e) for e in prefix) and (
        len("/".join(prefix)) <= MAX_PREFIX_CHARS
    )


@given(channel=channel_names)
def test_any_channel_name_yields_a_valid_prefix(channel: str) -> None:
    at = datetime.now(UTC)
    assert _valid(builtin_default(grace_s=30).storage_prefix_for(channel, at=at))


@given(a=channel_names, b=channel_names)
def test_different_channel_names_yield_different_prefixes(a: str, b: str) -> None:
    assume(a != b)
    assert channel_prefix(a) != channel_prefix(b)


@given(
    template=st.lists(
        st.sampled_from(["{channel}", "{date}", "x{yyyy}", "{mm}{dd}", "rec", "A1" * 20]),
        max_size=6,
    ).map("/".join),
    channel=channel_names,
)
def test_any_accepted_template_renders_a_valid_prefix_for_any_channel(
    template: str, channel: str
) -> None:
    try:
        parsed = PrefixTemplate.parse(template)
    except ValueError:
        assume(False)
        return
    assert _valid(parsed.render(channel, at=datetime.now(UTC)))
