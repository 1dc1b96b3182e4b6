"""A whole dub with real faces on the local engine: people, plan, chained jobs, assembly.

A 150 s video in which two real people enter, leave, come back and share the screen; six lines
over three windows, two of which have both people speaking. Everything runs for real: our face
search on the whole video, cut hints, the planner, the local engine (identify-face and
advanced lip-sync, chained jobs re-identified on the previous result), then assembly.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from projects.engines.local import LocalEngine, audio
from projects.engines.local.faces import identify_faces
from projects.engines.people import group_people
from projects.engines.planner import plan_dub
from projects.engines.timeline import Line, Source
from projects.mediakit.assembly import Mix, MixLine, assemble
from projects.mediakit.cuthints import find_cut_hints
from tests.support.dubrun import run_plan
from tests.support.dubvideos import QUIET, write_two_people_video
from tests.support.numbered_media import RATE, best_lag_ms, psnr, speech_like, write_wav

pytestmark = pytest.mark.slow

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"

FPS = 12
CROP_START_MS = 200
ORIGINAL_VOLUME = 0.5
# (person, at, length, volume): person 1 is the astronaut (left), 2 the LFW face (right).
LINES = {
    1: (1, 20_000, 2_500, 1.0),
    2: (2, 21_000, 2_000, 1.2),  # overlaps line 1: the first window has both speaking
    3: (1, 24_000, 1_500, 1.0),  # shorter than 2 s: padded, merged with line 1
    4: (2, 70_000, 3_000, 1.0),
    5: (1, 72_000, 2_500, 0.8),  # overlaps line 4: the second window has both speaking
    6: (1, 130_000, 3_000, 1.0),  # person 2 is on screen, silent
}
# A mouth's change is the 97th percentile of the per-pixel change (largest channel) in its
# region: an opening mouth changes a small part of that region by dozens of levels (24-152
# measured here), which a mean over the region dilutes below codec noise on a face whose
# mouth is already open in the source (the LFW face). Re-encoding three times (cut, engine,
# assembly) moves the same percentile of a still face by 2-8 levels.
STILL = 12.0
MOVING = 18.0
# A mouth closes over a few frames after its line ends (the engine's release), as real ones do.
CLOSING_MS = 600


@pytest.fixture(scope="module")
def dub(tmp_path_factory) -> dict:
    folder = tmp_path_factory.mktemp("dub")
    source = folder / "source.mp4"
    write_two_people_video(source, fps=FPS)
    tracks = identify_faces(source)
    people = group_people(tracks)
    hints = find_cut_hints(source)
    voices, files, lines = {}, {}, []
    for line_id, (person, at, length, volume) in LINES.items():
        voices[line_id] = speech_like(line_id, CROP_START_MS + length)
        files[line_id] = write_wav(folder / f"line{line_id}.wav", voices[line_id])
        lines.append(
            Line(
                line_id, person, at, CROP_START_MS, CROP_START_MS + length, volume, f"sha{line_id}"
            )
        )
    plan = plan_dub(
        Source(hints.duration_ms, Fraction(FPS), "source", hints.silences, hints.shot_changes),
        [person.as_person() for person in people],
        lines,
    )
    engine = LocalEngine(folder / "engine")
    run = run_plan(plan, source, people, tracks, files, engine, folder)
    mix = Mix(
        ORIGINAL_VOLUME,
        tuple(
            MixLine(
                files[line.line_id], line.crop_start_ms, line.crop_end_ms, line.at_ms, line.volume
            )
            for line in lines
        ),
    )
    result = assemble(source, run.processed, mix, folder / "dub.mp4")
    return {
        "folder": folder,
        "source": source,
        "tracks": tracks,
        "people": people,
        "hints": hints,
        "plan": plan,
        "run": run,
        "lines": lines,
        "voices": voices,
        "result": result,
    }


def test_our_face_search_finds_both_people_over_the_whole_150_s(dub):
    people = dub["people"]
    assert [person.person_id for person in people] == [1, 2]
    expected = {
        1: ((0, 40_000), (55_000, 100_000), (120_000, 150_000)),
        2: ((10_000, 50_000), (62_000, 95_000), (105_000, 150_000)),
    }
    for person in people:
        assert len(person.windows) == 3
        for (start, end), (true_start, true_end) in zip(
            person.windows, expected[person.person_id], strict=True
        ):
            assert abs(start - true_start) <= 250 and abs(end - true_end) <= 250


def test_cut_hints_find_the_soundtracks_silences(dub):
    found = dub["hints"].silences
    assert len(found) == len(QUIET)
    for (start, end), (true_start, true_end) in zip(found, QUIET, strict=True):
        assert abs(start - true_start) <= 30 and abs(end - true_end) <= 30


def test_the_plan_has_the_fewest_jobs_the_rules_allow(dub):
    plan = dub["plan"]
    # Three windows; in the first two both people speak (overlapping lines cannot be cut
    # apart): two chained jobs each, lines 1 and 3 of one stretch merged into one clip.
    assert [[(job.person_id, job.line_ids) for job in window.jobs] for window in plan.windows] == [
        [(1, (1, 3)), (2, (2,))],
        [(2, (4,)), (1, (5,))],
        [(1, (6,))],
    ]
    assert plan.engine_tasks == dub["run"].engine_tasks == 5


def test_the_result_has_the_sources_length_size_and_rate(dub):
    with av.open(str(dub["source"])) as container:
        stream = container.streams.video[0]
        source_frames = sum(1 for _ in container.decode(stream))
        size = (stream.codec_context.width, stream.codec_context.height)
    result = dub["result"]
    assert abs(result.frame_count - source_frames) <= 1
    assert (result.width, result.height) == size and result.fps == FPS
    sound = audio.decode_audio(result.path)
    assert sound.shape[1] / RATE == pytest.approx(source_frames / FPS, abs=1 / FPS)


def test_each_lines_speech_sits_at_its_time(dub):
    mixed = audio.decode_audio(dub["result"].path)[0]
    for line in dub["lines"]:
        voice = dub["voices"][line.line_id][audio.ms_to_samples(CROP_START_MS) :]
        at = audio.ms_to_samples(line.at_ms)
        lag = best_lag_ms(mixed, voice, at, RATE // 4)
        assert abs(lag) <= 40, f"line {line.line_id} is {lag:.0f} ms off"


def test_the_speaker_moves_during_each_line_and_nobody_else(dub):
    """Mouth regions compared with the source's, at frames where one line alone plays."""
    change = mouth_changes(dub)
    for line in dub["lines"]:
        alone = [
            n
            for n in range(line.at_ms * FPS // 1000, line.end_ms * FPS // 1000)
            if [other.line_id for other in dub["lines"] if playing(other, n)] == [line.line_id]
        ]
        assert len(alone) >= 5, line
        speaker = [change[line.person_id].get(n) for n in alone]
        assert max(c for c in speaker if c is not None) > MOVING, f"line {line.line_id}"
        for person in change:
            if person != line.person_id:
                idle = [n for n in alone if not just_spoke(dub["lines"], person, n)]
                others = [change[person].get(n) for n in idle]
                on_screen = [c for c in others if c is not None]
                assert not on_screen or max(on_screen) < STILL, f"person {person}, {line}"


def test_frames_outside_processed_windows_equal_the_sources(dub):
    windows = [(w.start_frame, w.end_frame) for w in dub["plan"].windows]
    worst = min(
        psnr(out, src)
        for n, out, src in paired_frames(dub, step=3)
        if not any(start <= n < end for start, end in windows)
    )
    assert worst >= 40


def test_nothing_moves_in_processed_windows_away_from_the_lines(dub):
    """Around the window edges (no line plays there) the result equals the source too."""
    checked = 0
    for window in dub["plan"].windows:
        for n in (window.start_frame, window.start_frame + 1, window.end_frame - 1):
            if any(playing(line, n) for line in dub["lines"]):
                continue
            out, src = frame_pair(dub, n)
            assert psnr(out, src) >= 38, n
            checked += 1
    assert checked >= 6


def test_window_edges_show_no_seam_and_are_saved_for_review(dub):
    """At each edge the result's frames on both sides are the source's within codec noise
    (so nothing jumps when the picture switches from the source to a processed window); PNGs
    of result above source, at and just before each edge, go to test-artifacts/dub-edges."""
    folder = ARTIFACTS / "dub-edges"
    folder.mkdir(parents=True, exist_ok=True)
    saved = save_frames_around_edges(dub, folder)
    assert len(saved) == 4 * len(dub["plan"].windows)
    loudest = {}
    for line in dub["lines"]:  # and one frame of each line, the speaker's mouth open
        voice = dub["voices"][line.line_id]
        step = RATE // FPS
        level = [np.abs(voice[i : i + step]).mean() for i in range(0, voice.size - step, step)]
        loudest[line.line_id] = line.at_ms * FPS // 1000 + int(np.argmax(level[2:]))
    for n, out, src in paired_frames(dub, wanted=set(loudest.values())):
        line_id = next(key for key, frame in loudest.items() if frame == n)
        Image.fromarray(np.concatenate([out, src], axis=0)).save(
            folder / f"line{line_id}-{n:05d}.png"
        )
    for window in dub["plan"].windows:
        for n in (
            window.start_frame - 1,
            window.start_frame,
            window.end_frame - 1,
            window.end_frame,
        ):
            out, src = frame_pair(dub, n)
            assert np.abs(out.astype(np.int16) - src).mean() < 1.5, n


# --- helpers -------------------------------------------------------------------------------


def playing(line: Line, frame: int) -> bool:
    return line.at_ms <= frame * 1000 / FPS < line.end_ms


def just_spoke(lines: list[Line], person: int, frame: int) -> bool:
    t_ms = frame * 1000 / FPS
    return any(
        line.person_id == person and line.at_ms <= t_ms < line.end_ms + CLOSING_MS for line in lines
    )


def mouth_area(box):
    left, top, right, bottom = box
    height = bottom - top
    return slice(top + int(0.55 * height), bottom + int(0.2 * height)), slice(left, right)


def mouth_changes(dub) -> dict[int, dict[int, float]]:
    """Per person, per frame of any line: how much their mouth region changed vs the source."""
    wanted = {
        n
        for line in dub["lines"]
        for n in range(line.at_ms * FPS // 1000, line.end_ms * FPS // 1000)
    }
    changes: dict[int, dict[int, float]] = {p.person_id: {} for p in dub["people"]}
    for n, out, src in paired_frames(dub, wanted=wanted):
        for person in dub["people"]:
            for index in person.track_indexes:
                box = dub["tracks"][index].box_at(round(n * 1000 / FPS))
                if box is not None:
                    area = mouth_area(box)
                    diff = np.abs(out[area].astype(np.int16) - src[area]).max(axis=2)
                    changes[person.person_id][n] = float(np.percentile(diff, 97))
    return changes


def paired_frames(dub, *, step: int = 1, wanted: set[int] | None = None):
    """(number, result frame, source frame), decoded side by side, never all at once."""
    with av.open(str(dub["result"].path)) as result, av.open(str(dub["source"])) as source:
        pairs = zip(result.decode(video=0), source.decode(video=0), strict=False)
        for n, (out, src) in enumerate(pairs):
            if (wanted is None and n % step == 0) or (wanted is not None and n in wanted):
                yield n, out.to_ndarray(format="rgb24"), src.to_ndarray(format="rgb24")


def frame_pair(dub, number: int) -> tuple[np.ndarray, np.ndarray]:
    for n, out, src in paired_frames(dub, wanted={number}):
        if n == number:
            return out, src
    raise AssertionError(f"no frame {number}")


def save_frames_around_edges(dub, folder: Path) -> list[Path]:
    """PNGs of result and source at and around each window edge, to look at."""
    wanted = {
        edge + offset
        for window in dub["plan"].windows
        for edge in (window.start_frame, window.end_frame)
        for offset in (-1, 0)
    }
    saved = []
    for n, out, src in paired_frames(dub, wanted=wanted):
        path = folder / f"edge-{n:05d}.png"
        Image.fromarray(np.concatenate([out, src], axis=0)).save(path)
        saved.append(path)
    return saved
