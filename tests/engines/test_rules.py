"""The contract's request rules as pure functions: codes, messages and suggested fixes."""

from __future__ import annotations

from decimal import Decimal

import pytest

from projects.engines import limits, rules
from projects.engines.rules import ILLEGAL_VALUE, MISSING_OR_INVALID
from tests.support import timelines


def timing(**changes: int) -> list[rules.RuleViolation]:
    """A 10 s audio, an 8 s video, a face on screen from 2 s to 6 s; a fine 3 s clip at 2.5 s."""
    values = {
        "audio_ms": 10_000,
        "video_ms": 8_000,
        "face_start_ms": 2_000,
        "face_end_ms": 6_000,
        "sound_start_ms": 1_000,
        "sound_end_ms": 4_000,
        "sound_insert_ms": 2_500,
    }
    values.update(changes)
    return rules.check_advanced_timing(**values)


def test_a_good_timeline_passes():
    assert timing() == []


def test_the_brief_example_overlap_and_its_fix():
    # A 2.3 s clip inserted at 1 s overlaps the face (from 2 s) by 1.3 s.
    [violation] = timing(sound_start_ms=0, sound_end_ms=2_300, sound_insert_ms=1_000)
    assert violation.code == ILLEGAL_VALUE
    assert violation.field == "sound_insert_time"
    assert violation.text == (
        "The clip must overlap the face's window by at least 2 s; it overlaps 1.3 s. "
        "Move it 0.7 s later."
    )


def test_a_clip_after_the_face_is_moved_earlier():
    [violation] = timing(sound_start_ms=0, sound_end_ms=2_000, sound_insert_ms=5_000)
    assert "it overlaps 1 s" in violation.message
    assert violation.fix == "Move it 1 s earlier."


def test_the_suggested_move_really_fixes_the_overlap():
    checked = 0
    for insert in range(0, 6_001, 250):
        found = timing(sound_start_ms=0, sound_end_ms=2_500, sound_insert_ms=insert)
        moves = [violation.fix for violation in found if violation.fix.startswith("Move it")]
        if not moves:
            continue
        words = moves[0].split()
        shift = round(float(words[2]) * 1000) * (1 if words[-1] == "later." else -1)
        assert timing(sound_start_ms=0, sound_end_ms=2_500, sound_insert_ms=insert + shift) == []
        checked += 1
    assert checked >= 4  # clips both before and after the face's window were moved


def test_a_face_shorter_than_2_s_cannot_be_fixed_by_moving():
    [violation] = timing(face_start_ms=2_000, face_end_ms=3_500)
    assert "on screen for only 1.5 s" in violation.fix


def test_crop_must_last_2_s():
    [violation] = timing(sound_start_ms=1_000, sound_end_ms=2_500)
    assert violation.code == ILLEGAL_VALUE
    assert "lasts 1.5 s" in violation.message and "3 s or later" in violation.fix


def test_crop_must_end_within_the_audio():
    [violation] = timing(audio_ms=3_000, sound_start_ms=0, sound_end_ms=3_500)
    assert "after the audio's end (3 s)" in violation.message


def test_inserted_clip_must_end_inside_the_video():
    [violation] = timing(video_ms=6_000, sound_insert_ms=3_500)
    assert violation.field == "sound_insert_time"
    assert violation.text == (
        "The clip would end at 6.5 s, after the video's end (6 s). Insert it at 3 s or earlier."
    )


def test_placement_waits_for_a_valid_crop():
    # Only the crop is reported: the placement rules depend on the clip's length.
    found = timing(sound_start_ms=0, sound_end_ms=1_000, sound_insert_ms=7_900)
    assert [violation.field for violation in found] == ["sound_end_time"]


@pytest.mark.parametrize(
    ("value", "code"), [(0, None), (2, None), (1.5, None), (2.01, 1201), (-0.1, 1201), ("1", 1200)]
)
def test_volumes(value, code):
    found = rules.check_volume("sound_volume", value)
    assert (found[0].code if found else None) == code


def test_text_length():
    assert rules.check_text("x" * limits.MAX_TEXT_CHARS) == []
    [violation] = rules.check_text("x" * 123)
    assert violation.code == ILLEGAL_VALUE
    assert violation.text == (
        "The text may have at most 120 characters; it has 123. Shorten it by 3 characters."
    )
    assert rules.check_text("  ")[0].code == MISSING_OR_INVALID


@pytest.mark.parametrize(
    ("speed", "words"),
    [(0.8, None), (2.0, None), (1.3, None), (1.25, None), (0.7, "between 0.8 and 2")],
)
def test_voice_speed(speed, words):
    found = rules.check_voice_speed(speed)
    assert (found[0].message if found else None) == words or words in found[0].message


@pytest.mark.parametrize(
    ("speed", "rounded"),
    [
        (1.25, "1.3"),
        (1.15, "1.2"),  # 1.15 is 1.149999… as a float: half-up must read its decimal text
        (0.85, "0.9"),
        (1.24, "1.2"),
        ("1.35", "1.4"),
        (Decimal("1.05"), "1.1"),
        (2, "2.0"),
    ],
)
def test_voice_speed_is_rounded_half_up_to_one_decimal(speed, rounded):
    assert rules.round_voice_speed(speed) == Decimal(rounded)


@pytest.mark.parametrize(
    ("duration_ms", "ok"), [(1_999, False), (2_000, True), (60_000, True), (60_001, False)]
)
def test_audio_duration(duration_ms, ok):
    assert (rules.check_audio_duration(duration_ms) == []) is ok


def test_audio_file_format_and_size():
    found = rules.check_audio_file(audio_format="ogg", size_bytes=6 * limits.MB, duration_ms=3_000)
    assert [violation.code for violation in found] == [ILLEGAL_VALUE, ILLEGAL_VALUE]
    assert "mp3/wav/m4a/aac" in found[0].message and "6.0 MB" in found[1].message


def test_video_file_limits_per_endpoint():
    fine = {"video_format": "mp4", "size_bytes": 1_000, "duration_ms": 5_000}
    assert rules.check_video_file(**fine, width=640, height=512) == []
    [violation] = rules.check_video_file(
        **fine, width=640, height=512, video_limits=limits.BASIC_VIDEO
    )
    assert "720 to 1920" in violation.message
    [too_long] = rules.check_video_file(
        **{**fine, "duration_ms": 12_000}, width=720, height=720, video_limits=limits.BASIC_VIDEO
    )
    assert "lasts 12 s" in too_long.message


def test_pages_and_one_of():
    assert rules.check_page(1, 500) == []
    assert [v.code for v in rules.check_page(0, 501)] == [ILLEGAL_VALUE, ILLEGAL_VALUE]
    assert rules.check_page("x", 1)[0].code == MISSING_OR_INVALID
    assert rules.check_one_of("a", "", "b", None)[0].code == MISSING_OR_INVALID
    assert rules.check_one_of("a", "1", "b", "2")[0].code == ILLEGAL_VALUE
    assert rules.check_one_of("a", "1", "b", "") == []


def test_integer_times():
    assert rules.check_integer_ms("t", 0) == []
    assert rules.check_integer_ms("t", "10")[0].code == MISSING_OR_INVALID
    assert rules.check_integer_ms("t", True)[0].code == MISSING_OR_INVALID
    assert rules.check_integer_ms("t", -1)[0].code == ILLEGAL_VALUE


def test_response_code_prefers_1200():
    found = rules.check_page("x", 0)
    assert rules.response_code(found) == MISSING_OR_INVALID
    assert rules.response_code([]) is None


# --- one fix for the whole line ------------------------------------------------------------


def fix_for(**changes: int) -> rules.TimingFix | None:
    """suggest_timing_fix on the line of `timing()` with `changes`."""
    values = {
        "audio_ms": 10_000,
        "video_ms": 8_000,
        "face_start_ms": 2_000,
        "face_end_ms": 6_000,
        "sound_start_ms": 1_000,
        "sound_end_ms": 4_000,
        "sound_insert_ms": 2_500,
    }
    values.update(changes)
    return rules.suggest_timing_fix(**values)


def test_a_short_crop_past_the_audios_end_gets_one_fix_not_two_opposite_ones():
    # A crop of 3.5-5 s on a 4 s clip is too short and ends after the audio.
    found = timing(audio_ms=4_000, sound_start_ms=3_500, sound_end_ms=5_000)
    assert [violation.fix for violation in found] == [
        "Start it at 2 s or earlier.",
        "End it at 4 s or earlier.",
    ]
    fix = fix_for(audio_ms=4_000, sound_start_ms=3_500, sound_end_ms=5_000)
    assert (fix.sound_start_ms, fix.sound_end_ms, fix.sound_insert_ms) == (2_000, 4_000, 2_500)
    assert fix.sentence == "Use the audio from 2 s to 4 s."
    assert timing(audio_ms=4_000, sound_start_ms=2_000, sound_end_ms=4_000) == []


def test_a_clip_shorter_than_the_rules_cannot_be_fixed_here():
    found = timing(audio_ms=1_000, sound_start_ms=0, sound_end_ms=1_000)
    assert [violation.fix for violation in found] == ["Choose a longer audio clip."]
    fix = fix_for(audio_ms=1_000, sound_start_ms=0, sound_end_ms=1_000)
    assert not fix.can_apply
    assert fix.sentence == (
        "Nothing here can make this line work: the audio clip lasts only 1 s, "
        "less than the 2 s the rules need. Choose a longer clip."
    )


def test_a_face_on_screen_too_briefly_cannot_be_fixed_here():
    fix = fix_for(face_start_ms=2_000, face_end_ms=3_500, sound_end_ms=2_500)
    assert not fix.can_apply
    assert "the face is on screen for only 1.5 s, less than the 2 s" in fix.sentence
    assert fix.sentence.endswith("Pick another face.")


def test_a_line_that_keeps_the_rules_needs_no_fix():
    assert fix_for() is None


def test_a_fix_moves_only_what_is_broken():
    # Only the placement is wrong: the crop stays, the clip moves by the least that works.
    fix = fix_for(sound_start_ms=0, sound_end_ms=2_300, sound_insert_ms=1_000)
    assert (fix.sound_start_ms, fix.sound_end_ms, fix.sound_insert_ms) == (0, 2_300, 1_700)
    assert fix.sentence == "Place it at 1.7 s on the video."
    # A crop longer than the video is cut at its end, then placed over the face.
    fix = fix_for(sound_start_ms=0, sound_end_ms=9_000, sound_insert_ms=0)
    assert (fix.sound_start_ms, fix.sound_end_ms, fix.sound_insert_ms) == (0, 8_000, 0)
    assert fix.sentence == "Use the audio from 0 s to 8 s."


CROP_RULES = {"crop too short", "crop past the audio's end"}


def test_every_offered_fix_keeps_every_rule_in_every_combination_of_broken_rules():
    seen_combinations = set()
    cannot_fix = set()
    applied = 0
    for line in timelines.line_walk():
        broken = timelines.broken_rules(line)
        fix = rules.suggest_timing_fix(**line)
        if not broken:
            assert fix is None, line
            continue
        seen_combinations.add(broken)
        if fix.can_apply:
            assert rules.check_advanced_timing(**timelines.fixed(line, fix)) == [], (line, fix)
            applied += 1
            crop = (line["sound_start_ms"], line["sound_end_ms"])
            crop_fits = not broken & CROP_RULES and crop[1] - crop[0] <= line["video_ms"]
            if crop_fits:
                assert (fix.sound_start_ms, fix.sound_end_ms) == crop, "a good crop is kept"
        else:
            cannot_fix.add(
                (line["audio_ms"], line["video_ms"], line["face_start_ms"], line["face_end_ms"])
            )
    assert applied > 10_000 and cannot_fix
    # No button only where no crop and insert time at all could keep the rules.
    for audio_ms, video_ms, face_start_ms, face_end_ms in cannot_fix:
        assert not timelines.some_line_keeps_the_rules(
            audio_ms, video_ms, (face_start_ms, face_end_ms)
        ), (audio_ms, video_ms, face_start_ms, face_end_ms)
    assert seen_combinations == {
        frozenset({"crop too short"}),
        frozenset({"crop past the audio's end"}),
        frozenset({"crop too short", "crop past the audio's end"}),
        frozenset({"past the video's end"}),
        frozenset({"too little overlap"}),
        frozenset({"past the video's end", "too little overlap"}),
    }
