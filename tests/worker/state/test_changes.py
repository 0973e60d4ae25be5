"""A change of a running recording: exactly one kind of change, each field checked and named
when it is wrong, and a form that travels to the job and back unchanged."""

from __future__ import annotations

import pickle

import pytest
from hypothesis import given
from hypothesis import strategies as st

from worker.state.changes import (
    InvalidChange,
    LayoutChange,
    LayoutRegion,
    RecordingChange,
    SubscribeChange,
    WebChange,
    outcome,
    parse_change,
)


def field_of(data: object) -> str | None:
    with pytest.raises(InvalidChange) as refused:
        parse_change(data)
    return refused.value.field


def test_a_layout_change_reads_the_fields_of_update_layout_in_snake_case() -> None:
    change = parse_change(
        {
            "layout": {
                "mixed_video_layout": 3,
                "background_color": "#102030",
                "layout_config": [{"uid": 11, "x_axis": 0, "y_axis": 0, "width": 1, "height": 1}],
            }
        }
    )

    assert change.group == "layout"
    assert change.layout == LayoutChange(
        mixed_video_layout=3,
        background_color="#102030",
        layout_config=[LayoutRegion(uid="11", x_axis=0, y_axis=0, width=1, height=1)],
    )


def test_a_subscription_change_and_a_web_change_name_their_group() -> None:
    assert parse_change({"subscribe": {"audio_uids": ["#allstream#"]}}).group == "subscribe"
    assert parse_change({"web": {"on_hold": True}}).group == "web"


def test_a_change_of_nothing_names_the_first_kind_of_change() -> None:
    assert field_of({}) == "layout"


def test_two_kinds_of_change_at_once_name_the_second() -> None:
    assert field_of({"layout": {}, "web": {"on_hold": False}}) == "web"


def test_a_bad_field_is_named_by_its_path_in_the_change() -> None:
    region = {"x_axis": 1.5, "y_axis": 0, "width": 1, "height": 1}

    assert field_of({"layout": {"layout_config": [region]}}) == "layout.layout_config[0].x_axis"
    assert field_of({"layout": {"background_color": "blue"}}) == "layout.background_color"
    assert field_of({"subscribe": {"audio_uids": ["0"]}}) == "subscribe.audio_uids[0]"
    assert field_of({"web": {"on_hold": "yes"}}) == "web.on_hold"
    assert field_of({"layout": {"colour": "#000000"}}) == "layout.colour"


def test_a_subscription_change_must_say_whose_streams() -> None:
    assert field_of({"subscribe": {}}) == "subscribe.audio_uids"


def test_a_media_cannot_be_subscribed_and_unsubscribed_at_once() -> None:
    both = {"video_uids": ["11"], "unsubscribe_video_uids": ["12"]}

    assert field_of({"subscribe": both}) == "subscribe.unsubscribe_video_uids"


def test_all_streams_is_a_list_of_its_own() -> None:
    assert field_of({"subscribe": {"audio_uids": ["#allstream#", "11"]}}) == "subscribe.audio_uids"


def test_the_problem_is_said_without_the_value() -> None:
    with pytest.raises(InvalidChange) as refused:
        parse_change({"layout": {"background_image": "ftp://secret-host/x.png"}})

    assert "secret-host" not in str(refused.value)


uids = st.integers(min_value=1, max_value=2**32 - 1).map(str)
uid_lists = st.one_of(st.none(), st.lists(uids, min_size=1, max_size=5), st.just(["#allstream#"]))


@given(audio=uid_lists, video=uid_lists, unsubscribe=st.booleans())
def test_a_subscription_change_travels_to_the_job_unchanged(
    audio: list[str] | None, video: list[str] | None, unsubscribe: bool
) -> None:
    if audio is None and video is None:
        audio = ["#allstream#"]
    subscribe = (
        SubscribeChange(unsubscribe_audio_uids=audio, unsubscribe_video_uids=video)
        if unsubscribe
        else SubscribeChange(audio_uids=audio, video_uids=video)
    )
    change = RecordingChange(subscribe=subscribe)

    # arq pickles a job's arguments.
    assert parse_change(pickle.loads(pickle.dumps(change.job_argument()))) == change  # noqa: S301


def test_a_web_change_travels_to_the_job_unchanged() -> None:
    change = RecordingChange(web=WebChange(on_hold=True))

    assert change.job_argument() == {"web": {"on_hold": True}}
    assert parse_change(change.job_argument()) == change


def test_an_outcome_is_a_plain_dict_that_pickles() -> None:
    refused = outcome("conflict", error="no recording runs in room-1", field=None)

    assert pickle.loads(pickle.dumps(refused)) == {  # noqa: S301
        "result": "conflict",
        "error": "no recording runs in room-1",
        "field": None,
        "agora": None,
    }
    assert type(refused) is dict
