"""The forms read what people type calmly: a decimal comma is a decimal point, and odd numbers
are refused in words or read as a value in range."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django import forms
from hypothesis import given
from hypothesis import strategies as st

from projects.forms import (
    FixForm,
    KlingImportForm,
    QuickTaskForm,
    SecondsField,
    TaskForm,
    TtsClipForm,
)
from projects.models import MediaStatus
from tests.support.objects import project_objects
from tests.support.oddinput import ODD_NUMBER_TEXTS, number_texts, views_settings


class OneTime(forms.Form):
    at = SecondsField(label="Place at (s)")


def read(text: str) -> tuple[Decimal | None, list[str]]:
    form = OneTime({"at": text})
    valid = form.is_valid()
    return (form.cleaned_data["at"] if valid else None), form.errors.get("at", [])


@pytest.mark.parametrize(
    ("typed", "seconds"),
    [
        ("5.5", Decimal("5.5")),
        ("5,5", Decimal("5.5")),
        (" 5,25 ", Decimal("5.25")),
        ("12", Decimal("12")),
        (",5", Decimal("0.5")),
        ("3.", Decimal("3")),
        ("0,001", Decimal("0.001")),
    ],
)
def test_a_decimal_comma_reads_as_a_decimal_point(typed, seconds):
    assert read(typed) == (seconds, [])


@pytest.mark.parametrize("typed", ["1,234.5", "1.234,5", "5,5,5", "5 s", "-1", "1e3", "five"])
def test_anything_but_a_plain_time_is_refused_in_words(typed):
    value, errors = read(typed)
    assert value is None
    assert errors == ["Type the time in seconds, for example 5.5 (a comma works too)."]


def test_more_than_milliseconds_is_refused_in_words():
    assert read("5,1234") == (
        None,
        ["Type the time to the millisecond at most, for example 5.125."],
    )


def test_the_box_is_a_text_box_with_a_decimal_keyboard():
    html = str(OneTime()["at"])
    assert 'type="text"' in html and 'inputmode="decimal"' in html
    assert "step=" not in html and 'type="number"' not in html


# --- Odd numbers --------------------------------------------------------------------------------


numbers = st.one_of(number_texts, st.sampled_from(["0", "1", "2.5", "3"]))


@pytest.fixture
def timeline(project, users) -> dict:
    objects = project_objects(project, users["editor"])
    video, audio = objects["video"], objects["audio"]
    video.duration_ms = 3_000
    video.save()
    audio.status, audio.duration_ms = MediaStatus.READY, 3_000
    audio.save()
    return objects


@given(start=numbers, end=numbers, insert=numbers, volume=numbers, original=numbers)
@views_settings
def test_the_timeline_form_refuses_or_keeps_every_number_in_range(
    timeline, start, end, insert, volume, original
):
    form = TaskForm(
        {
            "face": timeline["face"].pk,
            "audio": timeline["audio"].pk,
            "sound_start": start,
            "sound_end": end,
            "sound_insert": insert,
            "sound_volume": volume,
            "original_audio_volume": original,
        },
        video=timeline["video"],
        faces=[timeline["face"]],
    )
    if form.is_valid():
        data = form.cleaned_data
        assert 0 <= data["sound_start_ms"] < data["sound_end_ms"] <= 3_000
        assert 0 <= data["sound_insert_ms"] <= 3_000
        assert 0 <= data["sound_volume"] <= 2 and 0 <= data["original_audio_volume"] <= 2
    else:
        assert all(message for messages in form.errors.values() for message in messages)


@given(speed=numbers)
@views_settings
def test_the_speech_forms_refuse_or_keep_the_speed_in_range(timeline, speed):
    data = {"text": "Hello.", "voice_id": "oversea_male1", "voice_language": "en"}
    for form in (
        TtsClipForm({**data, "voice_speed": speed}),
        QuickTaskForm({**data, "mode": "text", "voice_speed": speed}, video=timeline["video"]),
    ):
        if form.is_valid():
            assert 0.8 <= form.cleaned_data["voice_speed"] <= 2.0
        else:
            assert form.errors


@pytest.mark.parametrize("odd", ODD_NUMBER_TEXTS)
def test_fix_form_refuses_each_odd_start(odd):
    form = FixForm({"trim_start": odd}, duration_ms=60_000)
    assert not form.is_valid()
    assert form.errors["trim_start"]


@given(start=numbers, duration_ms=st.integers(min_value=0, max_value=10**9))
def test_fix_form_keeps_a_start_inside_the_file(start, duration_ms):
    form = FixForm({"trim_start": start}, duration_ms=duration_ms)
    if form.is_valid():
        assert 0 <= form.cleaned_data["trim_start"] <= duration_ms


def test_fix_it_for_me_reads_a_decimal_comma_as_a_decimal_point():
    form = FixForm({"trim_start": "1,5"}, duration_ms=75_000)
    assert form.is_valid(), form.errors
    assert form.cleaned_data["trim_start"] == 1_500


@pytest.mark.parametrize(("typed", "kept"), [("1.25", "1.3"), ("1.15", "1.2"), ("0.8", "0.8")])
def test_the_speech_form_rounds_the_speed_half_up(typed, kept):
    form = TtsClipForm(
        {
            "text": "Hello.",
            "voice_id": "oversea_male1",
            "voice_language": "en",
            "voice_speed": typed,
        },
        kling_voices=False,
    )
    assert form.is_valid(), form.errors
    assert form.cleaned_data["voice_speed"] == Decimal(kept)


def test_kling_voices_are_taken_in_their_own_languages_only():
    data = {"text": "Hello.", "voice_id": "tiyuxi_xuedi", "voice_language": "en"}
    refused = TtsClipForm({**data, "voice_speed": "1"}, kling_voices=True)
    assert not refused.is_valid()
    assert refused.errors["voice_language"] == [
        "Kling's voice 运动少年 speaks Chinese, not English. Choose Chinese, or pick a voice "
        "that speaks English."
    ]
    offline = TtsClipForm({**data, "voice_speed": "1"}, kling_voices=False)
    assert offline.is_valid(), offline.errors  # the offline voice speaks both
    both = {**data, "voice_id": "genshin_vindi2", "voice_speed": "1"}  # Sunny · 阳光少年
    assert TtsClipForm(both, kling_voices=True).is_valid()


def test_speech_text_takes_up_to_1000_characters():
    data = {"voice_id": "oversea_male1", "voice_language": "en", "voice_speed": "1"}
    assert TtsClipForm({**data, "text": "a" * 1000}, kling_voices=True).is_valid()
    assert not TtsClipForm({**data, "text": "a" * 1001}, kling_voices=True).is_valid()


@pytest.mark.parametrize(
    ("video_id", "ok"), [("823415095642574912", True), ("not an id", False), ("", False)]
)
def test_kling_import_takes_the_address_and_id_as_kling_shows_them(video_id, ok):
    form = KlingImportForm({"url": "https://cdn.example.com/v.mp4", "video_id": video_id})
    assert form.is_valid() is ok
    if not ok:
        assert all(message for messages in form.errors.values() for message in messages)
