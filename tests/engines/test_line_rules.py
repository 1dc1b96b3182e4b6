"""The editor's line rules: plain messages, notes for short lines, and fixes that really fix."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from projects.engines.line_rules import check_line, check_lines, is_valid
from projects.engines.rules import ILLEGAL_VALUE
from projects.engines.timeline import Line, Person

ALICE = Person(1, ((0, 10_000), (20_000, 21_500), (30_000, 100_000)))
BOB = Person(2, ((5_000, 50_000),))
PEOPLE = (ALICE, BOB)


def line(line_id: int = 1, person: int = 1, at: int = 1_000, length: int = 3_000) -> Line:
    return Line(line_id, person, at, 500, 500 + length, audio_key="a")


def test_a_line_inside_its_persons_stretch_is_fine():
    assert check_line(line(), PEOPLE, [line()]).violations == ()


def test_a_short_line_is_fine_with_a_note_about_padding():
    check = check_line(line(length=1_200), PEOPLE, [])
    assert check.ok
    assert check.notes == (
        "This line lasts 1.2 s, less than the engine's 2 s: silence is added around it when "
        "it is sent.",
    )


def test_a_line_running_past_its_persons_stretch_is_moved_back_inside():
    [violation] = check_line(line(at=8_000), PEOPLE, []).violations
    assert violation.code == ILLEGAL_VALUE and violation.field == "at"
    assert violation.message == (
        "This line plays from 0:08 to 0:11, but person 1 is not on screen all that time."
    )
    assert violation.fix == "Move it 1 s earlier."
    assert violation.fixed == replace(line(), at_ms=7_000)
    assert violation.text.endswith("Move it 1 s earlier.")


def test_a_stretch_shorter_than_2_s_does_not_count_and_the_fix_leaves_it():
    [violation] = check_line(line(at=20_200, length=1_000), PEOPLE, []).violations
    assert "only from 0:20 to 0:21.5 (1.5 s)" in violation.message
    assert "at least 2 s" in violation.message
    # The nearest usable place is the end of the first stretch (10 s), not the 1.5 s one.
    assert violation.fixed.at_ms == 30_000
    assert violation.fix == "Move it 9.8 s later."


def test_two_lines_of_one_person_may_not_overlap():
    first, second = line(1, at=1_000), line(2, at=3_000)
    [violation] = check_line(second, PEOPLE, [first, second]).violations
    assert violation.message == (
        "This line overlaps person 1's line at 0:01 by 1 s; a person says one line at a time."
    )
    assert violation.fixed.at_ms == 4_000


def test_lines_of_different_people_may_overlap():
    lines = [line(1, person=1, at=6_000), line(2, person=2, at=6_000)]
    assert all(check.ok for check in check_lines(lines, PEOPLE).values())


def test_a_line_over_60_s_is_cut_to_its_first_60_s_and_placed():
    long = line(at=31_000, length=72_500)
    [too_long, off_screen] = check_line(long, PEOPLE, []).violations
    assert too_long.field == "crop"
    assert too_long.message == (
        "This line lasts 72.5 s; the engine takes at most 60 s of speech at a time."
    )
    assert off_screen.field == "at"
    assert too_long.fixed == off_screen.fixed
    assert too_long.fixed.duration_ms == 60_000 and too_long.fixed.at_ms == 31_000
    assert too_long.fix == "Keep only its first 60 s."


def test_without_any_place_to_go_the_advice_is_a_sentence():
    long = line(person=2, at=5_000, length=50_000)  # Bob is on screen 45 s at most
    [violation] = check_line(long, PEOPLE, []).violations
    assert violation.fixed is None
    assert violation.fix == (
        "Person 2 is on screen, free of their other lines, for at most 45 s at a time: "
        "shorten the line to that, or give it to someone else."
    )


def test_a_person_never_on_screen_has_no_fix():
    [violation] = check_line(line(person=7), PEOPLE, []).violations
    assert violation.message == "Person 7 is not on screen anywhere in this video."
    assert violation.fixed is None
    assert violation.fix == "Give the line to a person who is on screen, or remove it."


def test_a_line_without_sound_says_so():
    [violation] = check_line(line(length=0), PEOPLE, []).violations
    assert violation.field == "crop" and violation.fixed is None


# --- every offered fix is valid under all rules --------------------------------------------


@st.composite
def timelines(draw) -> tuple[list[Person], list[Line], Line]:
    """People with random stretches (some shorter than 2 s), lines of theirs, and one more
    line that may break any mix of the rules: off screen, overlapping, longer than 60 s."""
    people = []
    for person_id in (1, 2):
        cursor, stretches = 0, []
        for _ in range(draw(st.integers(0, 4))):
            start = cursor + draw(st.integers(0, 20_000))
            end = start + draw(st.integers(500, 90_000))
            stretches.append((start, end))
            cursor = end + 1_001
        people.append(Person(person_id, tuple(stretches)))
    lines = []
    for line_id in range(draw(st.integers(0, 6))):
        person_id = draw(st.sampled_from((1, 2, 3)))
        at = draw(st.integers(0, 300_000))
        length = draw(st.integers(1, 70_000))
        lines.append(Line(line_id, person_id, at, 0, length))
    at = draw(st.integers(0, 300_000))
    length = draw(st.integers(1, 130_000))
    subject = Line("subject", draw(st.sampled_from((1, 2, 3))), at, 1_000, 1_000 + length)
    return people, lines, subject


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(timelines())
def test_every_fix_leaves_the_line_valid_under_all_rules(timeline):
    people, lines, subject = timeline
    everyone = [*lines, subject]
    check = check_line(subject, people, everyone)
    fixes = {violation.fixed for violation in check.violations}
    assert len(fixes) <= 1, "one line gets one fix, whichever rule is read"
    for violation in check.violations:
        assert violation.message and violation.fix
        if violation.fixed is None:
            continue
        fixed = violation.fixed
        assert fixed.line_id == subject.line_id and fixed.person_id == subject.person_id
        assert fixed.crop_start_ms == subject.crop_start_ms
        others = [other for other in everyone if other.line_id != subject.line_id]
        assert is_valid(fixed, people, [*others, fixed]), violation.text


@settings(max_examples=200, deadline=None)
@given(timelines())
def test_a_fix_is_offered_whenever_a_valid_place_exists(timeline):
    """No fix only when no shift of the line (cut to 60 s) makes it valid: checked by trying
    every start on a 250 ms grid."""
    people, lines, subject = timeline
    check = check_line(subject, people, [*lines, subject])
    if check.ok or subject.duration_ms <= 0 or check.violations[0].fixed is not None:
        return
    cut = replace(subject, crop_end_ms=subject.crop_start_ms + min(subject.duration_ms, 60_000))
    for at in range(0, 400_000, 250):
        moved = replace(cut, at_ms=at)
        assert not is_valid(moved, people, [*lines, moved]), f"{moved} is valid"
