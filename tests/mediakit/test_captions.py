"""WebVTT captions: read what people attach, place cues on the video, write the result's."""

from __future__ import annotations

import pytest

from projects.mediakit.captions import CaptionsError, Cue, parse_vtt, placed, write_vtt

GOOD = b"""WEBVTT

NOTE written by hand

1
00:00.500 --> 00:02.000 align:start
Welcome to the harbour.

00:00:02.250 --> 00:00:04.000
Boats leave at noon,
every day.
"""


def test_reads_cues_with_identifiers_settings_notes_and_hours():
    assert parse_vtt(GOOD) == [
        Cue(500, 2000, "Welcome to the harbour."),
        Cue(2250, 4000, "Boats leave at noon,\nevery day."),
    ]


def test_written_captions_read_back_the_same():
    cues = parse_vtt(GOOD)
    assert parse_vtt(write_vtt(cues).encode()) == cues
    assert write_vtt(cues).startswith("WEBVTT\n\n00:00:00.500 --> 00:00:02.000\n")


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b"1\n00:00:01,000 --> 00:00:02,000\nHello\n", "its first line must be “WEBVTT”"),
        (b"WEBVTT\n\n00:01,000 --> 00:02,000\nHello\n", "not written as WebVTT wants"),
        (b"WEBVTT\n\n00:03.000 --> 00:02.000\nHello\n", "ends before it starts"),
        (b"WEBVTT\n\nNOTE nothing here\n", "no captions in it"),
        (b"WEBVTT\n\n\xff\xfe\x00", "not plain UTF-8 text"),
        (b"WEBVTT\n" + b"x" * 300_000, "larger than 256 KB"),
        (b"WEBVTT\n\nHello there\nno times\n", "no times we can read"),
    ],
)
def test_refuses_what_is_not_usable_webvtt_in_words(data, words):
    with pytest.raises(CaptionsError, match=words):
        parse_vtt(data)


def test_places_the_cropped_part_where_the_clip_is_heard():
    cues = [Cue(0, 1000, "one"), Cue(1000, 2500, "two"), Cue(3000, 4000, "three")]
    assert placed(cues, crop_start_ms=500, crop_end_ms=3200, at_ms=10_000) == [
        Cue(10_000, 10_500, "one"),
        Cue(10_500, 12_000, "two"),
        Cue(12_500, 12_700, "three"),
    ]
