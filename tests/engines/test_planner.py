"""The dub planner: windows, jobs, clips, chains and hashes, and every job within the contract.

The contract's timing rules are checked with rules.check_advanced_timing, the same function the
local engine and the simulator use, never re-implemented here.
"""

from __future__ import annotations

import functools
from dataclasses import replace
from fractions import Fraction

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from projects.engines import rules
from projects.engines.planner import Plan, PlanError, plan_dub
from projects.engines.timeline import Line, Person, Source, overlap_ms

FPS = Fraction(25)
SOURCE = Source(150_000, FPS, key="video-sha")


def line(line_id, person, at, length, *, audio="a", volume=1.0, crop_start=0) -> Line:
    return Line(line_id, person, at, crop_start, crop_start + length, volume, audio)


def assert_plan_keeps_every_rule(plan: Plan, source: Source, people, lines) -> None:
    """The invariants of any plan, whatever the input."""
    people = {person.person_id: person for person in people}
    frame_ms = Fraction(1000) / source.fps
    placed = {}
    previous_end = -1
    for window in plan.windows:
        exact_start = window.start_frame * frame_ms
        exact_end = window.end_frame * frame_ms
        assert window.start_ms == -(-exact_start // 1), "start_ms is the first whole ms inside"
        assert window.duration_ms == int(exact_end - exact_start)
        assert 2_000 <= exact_end - exact_start <= 60_000
        assert window.start_frame >= previous_end, "windows do not overlap"
        assert 0 <= window.start_frame < window.end_frame <= source.frame_count
        previous_end = window.end_frame
        for cut in (exact_start, exact_end):
            for one in lines:
                assert not one.at_ms < cut < one.end_ms, f"a cut at {cut} ms interrupts {one}"
        assert window.jobs, "a window where nobody speaks is not sent"
        assert [job.chain_index for job in window.jobs] == list(range(len(window.jobs)))
        groups = set()
        for job in window.jobs:
            assert job.window_index == window.index
            assert not rules.check_advanced_timing(
                audio_ms=job.clip_ms,
                video_ms=window.duration_ms,
                face_start_ms=job.face_start_ms,
                face_end_ms=job.face_end_ms,
                sound_start_ms=0,
                sound_end_ms=job.clip_ms,
                sound_insert_ms=job.insert_ms,
            )
            stretch = None
            for piece in job.pieces:
                original = next(one for one in lines if one.line_id == piece.line_id)
                assert original.person_id == job.person_id
                assert window.start_ms + job.insert_ms + piece.offset_ms == original.at_ms
                assert piece.offset_ms >= 0
                assert piece.offset_ms + original.duration_ms <= job.clip_ms
                assert (piece.crop_start_ms, piece.crop_end_ms, piece.volume) == (
                    original.crop_start_ms,
                    original.crop_end_ms,
                    original.volume,
                )
                placed[piece.line_id] = placed.get(piece.line_id, 0) + 1
                stretch = people[job.person_id].stretch_holding(original.at_ms, original.end_ms)
            assert (job.person_id, stretch) not in groups, "one job per stretch and window"
            groups.add((job.person_id, stretch))
            assert job.face_start_ms == max(stretch[0] - window.start_ms, 0)
            assert job.face_end_ms == min(stretch[1] - window.start_ms, window.duration_ms)
    assert placed == {one.line_id: 1 for one in lines}, "each line is sent exactly once"
    hashes = [job.input_hash for job in plan.jobs]
    assert len(set(hashes)) == len(hashes)


# --- single cases --------------------------------------------------------------------------

ANNA = Person(1, ((0, 40_000), (60_000, 150_000)))
BEN = Person(2, ((10_000, 100_000),))


def test_no_lines_no_windows():
    assert plan_dub(SOURCE, [ANNA], []).windows == ()


def test_one_line_is_one_window_with_one_job_and_room_around_it():
    lines = [line(1, 1, 5_000, 3_000)]
    plan = plan_dub(SOURCE, [ANNA], lines)
    assert_plan_keeps_every_rule(plan, SOURCE, [ANNA], lines)
    [window] = plan.windows
    [job] = window.jobs
    assert job.clip_ms == 3_000 and job.pieces[0].offset_ms == 0
    # 500 ms each side at least, on 40 ms frames.
    assert (window.start_ms, window.end_ms) == (4_480, 8_520)
    assert plan.summary() == {
        "windows": 1,
        "engine_tasks": 1,
        "seconds_sent": 4.04,
        "video_seconds": 4.04,
    }


def test_a_short_line_gets_silence_around_it_to_reach_2_s_on_the_face():
    lines = [line(1, 2, 12_000, 800)]
    plan = plan_dub(SOURCE, [BEN], lines)
    assert_plan_keeps_every_rule(plan, SOURCE, [BEN], lines)
    [job] = plan.jobs
    assert job.clip_ms >= 2_000
    piece = job.pieces[0]
    assert piece.offset_ms > 0 and job.clip_ms - piece.offset_ms - 800 > 0  # silence both sides


def test_a_short_line_at_the_start_of_a_stretch_is_padded_after_it():
    lines = [line(1, 2, 10_000, 500)]
    plan = plan_dub(SOURCE, [BEN], lines)
    assert_plan_keeps_every_rule(plan, SOURCE, [BEN], lines)
    [window] = plan.windows
    [job] = window.jobs
    assert window.start_ms + job.insert_ms == 10_000  # the face appears at 10 s: no earlier
    assert job.pieces[0].offset_ms == 0


def test_lines_of_one_stretch_share_one_clip_with_silence_between():
    lines = [line(1, 1, 2_000, 3_000, audio="x"), line(2, 1, 30_000, 2_500, audio="y")]
    plan = plan_dub(SOURCE, [ANNA], lines)
    assert_plan_keeps_every_rule(plan, SOURCE, [ANNA], lines)
    [job] = plan.jobs
    assert [(p.line_id, p.offset_ms) for p in job.pieces] == [(1, 0), (2, 28_000)]
    assert job.clip_ms == 30_500


def test_a_person_back_on_screen_is_a_second_job_in_the_same_window():
    # Anna leaves at 40 s and is back at 60 s: two faces for the engine, chained.
    lines = [line(1, 1, 37_000, 2_500), line(2, 1, 61_000, 2_500), line(3, 2, 39_000, 22_500)]
    plan = plan_dub(SOURCE, [ANNA, BEN], lines)
    assert_plan_keeps_every_rule(plan, SOURCE, [ANNA, BEN], lines)
    [window] = plan.windows
    assert [(job.person_id, job.line_ids) for job in window.jobs] == [
        (1, (1,)),
        (2, (3,)),
        (1, (2,)),
    ]


def test_a_dialogue_is_one_window_of_chained_jobs_rather_than_more_jobs():
    # Anna, Ben, Anna, Ben, with short pauses: cutting between them would give 4 jobs.
    lines = [
        line(1, 1, 20_000, 1_500),
        line(2, 2, 21_700, 1_500),
        line(3, 1, 23_400, 1_500),
        line(4, 2, 25_100, 1_500),
    ]
    plan = plan_dub(SOURCE, [ANNA, BEN], lines)
    assert_plan_keeps_every_rule(plan, SOURCE, [ANNA, BEN], lines)
    [window] = plan.windows
    assert [(job.chain_index, job.person_id, job.line_ids) for job in window.jobs] == [
        (0, 1, (1, 3)),
        (1, 2, (2, 4)),
    ]


def test_distant_lines_of_different_people_go_to_separate_windows():
    # Same number of jobs either way; two small windows send fewer seconds than one large.
    lines = [line(1, 1, 12_000, 3_000), line(2, 2, 30_000, 3_000)]
    plan = plan_dub(SOURCE, [ANNA, BEN], lines)
    assert_plan_keeps_every_rule(plan, SOURCE, [ANNA, BEN], lines)
    assert [len(window.jobs) for window in plan.windows] == [1, 1]


def test_one_persons_lines_over_more_than_60_s_take_two_windows():
    lines = [line(1, 1, 61_000, 3_000), line(2, 1, 100_000, 3_000), line(3, 1, 140_000, 3_000)]
    plan = plan_dub(SOURCE, [ANNA], lines)
    assert_plan_keeps_every_rule(plan, SOURCE, [ANNA], lines)
    assert [window.jobs[0].line_ids for window in plan.windows] in ([(1, 2), (3,)], [(1,), (2, 3)])


def test_the_fewest_jobs_even_when_filling_windows_greedily_would_need_more():
    # Whichever window the lines at 58 s and 70 s join, someone speaks in both windows.
    lines = [
        line(1, 1, 1_000, 3_000),
        line(2, 2, 12_000, 3_000),
        line(3, 1, 30_000, 3_000),
        line(4, 2, 58_000, 3_000),
        line(5, 2, 70_000, 3_000),
        line(6, 1, 95_000, 3_000),
    ]
    people = [Person(1, ((0, 150_000),)), Person(2, ((0, 150_000),))]
    plan = plan_dub(SOURCE, people, lines)
    assert_plan_keeps_every_rule(plan, SOURCE, people, lines)
    assert plan.engine_tasks == fewest_jobs(lines, SOURCE.duration_ms)


def test_a_window_edge_lands_on_a_nearby_shot_change():
    source = replace(SOURCE, shot_changes=(3_800, 9_210))
    plan = plan_dub(source, [ANNA], [line(1, 1, 5_000, 3_000)])
    [window] = plan.windows
    assert (window.start_ms, window.end_ms) == (3_800, 9_240)  # the frame after 9_210
    # One much further away is not worth the seconds sent.
    far = replace(SOURCE, shot_changes=(1_000, 12_000))
    [window] = plan_dub(far, [ANNA], [line(1, 1, 5_000, 3_000)]).windows
    assert (window.start_ms, window.end_ms) == (4_480, 8_520)


def test_a_silence_is_preferred_to_a_plain_edge_and_a_shot_change_to_a_silence():
    silent = replace(SOURCE, silences=((2_000, 3_900),))
    [window] = plan_dub(silent, [ANNA], [line(1, 1, 5_000, 3_000)]).windows
    assert window.start_ms == 3_880  # the silence's end, nearest the lines
    # A shot change 280 ms further than the silence's edge still wins.
    both = replace(silent, shot_changes=(3_600,))
    [window] = plan_dub(both, [ANNA], [line(1, 1, 5_000, 3_000)]).windows
    assert window.start_ms == 3_600


def test_frame_boundaries_at_29_97_fps():
    source = Source(90_000, Fraction(30_000, 1_001), key="ntsc")
    people = [Person(1, ((0, 90_000),))]
    lines = [line(1, 1, 1_234, 2_345), line(2, 1, 70_001, 1_000)]
    plan = plan_dub(source, people, lines)
    assert_plan_keeps_every_rule(plan, source, people, lines)


# --- hashes --------------------------------------------------------------------------------


def test_hashes_change_with_what_changes_a_jobs_result_and_only_with_that():
    people = [ANNA, BEN]
    # Ben's line overlaps Anna's: one window, Anna's job first, Ben's on its result.
    lines = [line(1, 1, 20_000, 1_500), line(2, 2, 21_000, 1_500), line(3, 1, 90_000, 3_000)]
    base = plan_dub(SOURCE, people, lines)
    first, second = base.windows[0].jobs
    assert (first.person_id, second.person_id) == (1, 2)
    far = base.windows[1].jobs[0]

    def hashes(source=SOURCE, changed=lines):
        plan = plan_dub(source, people, changed)
        return [job.input_hash for job in plan.jobs]

    assert hashes() == [first.input_hash, second.input_hash, far.input_hash]
    # Ben's volume changes Ben's job only; Anna's audio changes both jobs of her window (Ben's
    # runs on her result) and not the far one.
    louder = hashes(changed=[lines[0], replace(lines[1], volume=1.5), lines[2]])
    assert louder[0] == first.input_hash and louder[2] == far.input_hash
    assert louder[1] != second.input_hash
    other_audio = [replace(lines[0], audio_key="b"), lines[1], lines[2]]
    changed = hashes(changed=other_audio)
    assert changed[0] != first.input_hash and changed[1] != second.input_hash
    assert changed[2] == far.input_hash
    assert all(a != b for a, b in zip(hashes(replace(SOURCE, key="other")), hashes(), strict=True))
    moved_far = [lines[0], lines[1], replace(lines[2], at_ms=91_000)]
    assert hashes(changed=moved_far)[:2] == [first.input_hash, second.input_hash]
    assert hashes(changed=moved_far)[2] != far.input_hash
    # The line's id does not change what is sent.
    renamed = [replace(lines[0], line_id=9), lines[1], lines[2]]
    assert hashes(changed=renamed) == hashes()


# --- plain errors --------------------------------------------------------------------------


def test_lines_playing_without_a_pause_for_over_60_s_are_refused_in_plain_words():
    lines = [line(1, 1, 61_000, 30_000), line(2, 2, 90_000, 10_000), line(3, 1, 91_000, 31_000)]
    people = [Person(1, ((60_000, 150_000),)), BEN]
    with pytest.raises(PlanError) as caught:
        plan_dub(SOURCE, people, lines)
    assert caught.value.message == (
        "From 1:01 to 2:02 lines play without a pause, for 61 s; the engine takes at most "
        "60 s of video at a time. Leave a short pause (a few frames are enough) between two "
        "lines somewhere in that part."
    )


def test_a_broken_line_rule_is_refused_with_the_rules_words():
    with pytest.raises(PlanError, match=r"^Person 1's line at 0:45: This line plays from 0:45"):
        plan_dub(SOURCE, [ANNA], [line(1, 1, 45_000, 3_000)])


def test_a_video_shorter_than_2_s_is_refused():
    short = Source(1_500, FPS)
    with pytest.raises(PlanError, match=r"The video lasts 1.5 s; the engine needs at least 2 s"):
        plan_dub(short, [Person(1, ((0, 1_500),))], [line(1, 1, 0, 1_000)])


def test_a_short_line_hemmed_in_by_speech_it_cannot_share_a_window_with():
    # Anna's 1 s line sits between two 30 s lines of Ben's. Her clip needs 2 s of her face
    # (on screen 29.5-31.5 s), so her window must reach into one of Ben's lines: it must then
    # hold that whole line, and one of 61 s is too long for the engine.
    people = [Person(1, ((29_500, 31_500),)), Person(2, ((0, 150_000),))]
    lines = [line(1, 2, 0, 30_000), line(2, 1, 30_000, 1_000), line(3, 2, 31_000, 30_000)]
    with pytest.raises(PlanError) as caught:
        plan_dub(SOURCE, people, lines)
    assert caught.value.message == (
        "Person 1's line at 0:30 is too close to other lines: the engine needs 2 s of their "
        "face around it in the same part of the video. Move it or the lines next to it a "
        "little apart."
    )
    # Ben's second line half a second later (on the next frame boundary) and it fits.
    moved = [*lines[:2], replace(lines[2], at_ms=31_520)]
    plan = plan_dub(SOURCE, people, moved)
    assert_plan_keeps_every_rule(plan, SOURCE, people, moved)


# --- properties over random dubs -----------------------------------------------------------


@st.composite
def dubs(draw, *, roomy: bool = False):
    """Two or three people with random stretches and valid random lines on a 25 fps video.

    `roomy`: lines of 2 s or more on a 40 ms grid, with gaps of 6 s or more between lines of
    different blocks, so that windows never compete for room and the fewest jobs can be
    computed from the lines alone.
    """
    duration = draw(st.integers(20_000, 400_000))
    source = Source(duration, FPS, key="k")
    people = []
    for person_id in range(1, draw(st.integers(2, 3)) + 1):
        if roomy:
            people.append(Person(person_id, ((0, duration),)))
            continue
        cursor, stretches = 0, []
        while cursor < duration - 2_000:
            start = cursor + draw(st.integers(0, 30_000))
            end = min(start + draw(st.integers(2_000, 120_000)), duration)
            if end - start >= 2_000:
                stretches.append((start, end))
            cursor = end + 1_100
        people.append(Person(person_id, tuple(stretches)))
    lines: list[Line] = []
    cursor = 0
    for line_id in range(draw(st.integers(1, 12))):
        person = draw(st.sampled_from(people))
        if not person.stretches:
            continue
        start, end = draw(st.sampled_from(person.stretches))
        if roomy:
            at = cursor + draw(st.sampled_from([0, 6_000, 20_000])) // 40 * 40
            length = draw(st.integers(50, 500)) * 40
            cursor = at + draw(st.integers(0, length // 40)) * 40
        else:
            at = draw(st.integers(start, end - 1))
            length = draw(st.integers(1, min(end - at, 25_000)))
        candidate = line(line_id, person.person_id, at, length, audio=f"a{line_id}")
        same = [o for o in lines if o.person_id == person.person_id]
        if candidate.end_ms > duration or any(
            overlap_ms((o.at_ms, o.end_ms), (candidate.at_ms, candidate.end_ms)) for o in same
        ):
            continue
        if person.stretch_holding(candidate.at_ms, candidate.end_ms) is None:
            continue
        lines.append(candidate)
    return source, people, lines


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(dubs())
def test_every_plan_keeps_the_contract_and_the_window_rules(dub):
    source, people, lines = dub
    try:
        plan = plan_dub(source, people, lines)
    except PlanError as error:
        # Refusals are sentences about the lines, never a trace of the planner's insides.
        assert error.message.endswith(".") and "_" not in error.message
        return
    assert_plan_keeps_every_rule(plan, source, people, lines)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(dubs(roomy=True))
def test_the_plan_has_the_fewest_jobs_the_rules_allow(dub):
    source, people, lines = dub
    if not lines:
        return
    expected = fewest_jobs(lines, source.duration_ms)
    if expected is None:
        with pytest.raises(PlanError):
            plan_dub(source, people, lines)
        return
    plan = plan_dub(source, people, lines)
    assert_plan_keeps_every_rule(plan, source, people, lines)
    assert plan.engine_tasks == expected


def fewest_jobs(lines: list[Line], duration_ms: int) -> int | None:
    """The fewest jobs over every way of splitting the blocks of speech into windows of at
    most 60 s (for lines of 2 s or more, each person on screen all along: one stretch each),
    by trying every split; None if no split fits."""
    ordered = sorted(lines, key=lambda one: one.at_ms)
    blocks: list[list[Line]] = []
    for one in ordered:
        if blocks and one.at_ms < max(o.end_ms for o in blocks[-1]):
            blocks[-1].append(one)
        else:
            blocks.append([one])

    @functools.cache
    def best(first: int) -> int | None:
        if first == len(blocks):
            return 0
        found = None
        for last in range(first, len(blocks)):
            members = [one for block in blocks[first : last + 1] for one in block]
            span = max(o.end_ms for o in members) - min(o.at_ms for o in members)
            if span > 60_000:
                break
            rest = best(last + 1)
            if rest is not None:
                jobs = len({one.person_id for one in members}) + rest
                found = jobs if found is None else min(found, jobs)
        return found

    return best(0)
