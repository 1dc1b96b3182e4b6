"""Benchmark: a three-minute 720p two-person dub on the local engine, end to end.

Generates var/bench/dub_180s_720p.mp4 once (two real face photographs entering, leaving and
sharing the screen, with a soundtrack), then in this one process: finds the people (our face
search over the whole video) and the cut hints, plans eleven lines, runs the jobs through the
local engine (chained where both people speak in a window), and assembles the result. It also
times a plain decode + encode pass over the same video with the same encoder settings, as the
baseline for assembly. Prints one JSON object.

Targets: assembly takes at most 1.5x the plain pass; the process's peak memory stays under
1 GB (frames and sound streamed, never the whole video in memory).

    .venv/bin/python bench/bench_assembly.py [--quick]
"""

from __future__ import annotations

import os
import resource
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import log, quick_mode, report  # noqa: E402
from projects.engines.local import LocalEngine  # noqa: E402
from projects.engines.local.faces import identify_faces  # noqa: E402
from projects.engines.people import group_people  # noqa: E402
from projects.engines.planner import plan_dub  # noqa: E402
from projects.engines.timeline import Line, Source  # noqa: E402
from projects.mediakit.assembly import Mix, MixLine, assemble  # noqa: E402
from projects.mediakit.cuthints import find_cut_hints  # noqa: E402
from projects.mediakit.streams import (  # noqa: E402
    Mp4Writer,
    Soundtrack,
    numbered_frames,
    open_video,
    video_facts,
)
from tests.support.dubrun import run_plan  # noqa: E402
from tests.support.dubvideos import write_two_people_video  # noqa: E402
from tests.support.facevideos import ASTRONAUT, LFW, Appearance  # noqa: E402
from tests.support.numbered_media import speech_like, write_wav  # noqa: E402

BENCH_DIR = ROOT / "var" / "bench"
ASSEMBLY_RATIO_TARGET = 1.5
PEAK_MB_TARGET = 1024
FPS = 25


def scene(duration_s: int) -> tuple[list[Appearance], list[tuple[int, int, int]]]:
    """Who is on screen when, and the lines (person, at ms, length ms), for `duration_s`."""
    third = duration_s * 1000 // 3
    appearances = [
        Appearance(ASTRONAUT, 0, 2 * third, center=(0.27, 0.5), drift_px_per_s=2),
        Appearance(ASTRONAUT, 2 * third + 3_000, duration_s * 1000, center=(0.3, 0.5)),
        Appearance(LFW, 8_000, third * 5 // 2, center=(0.73, 0.5)),
    ]
    lines = []
    for minute_start in range(0, duration_s * 1000, 60_000):
        for offset, person, length in ((12_000, 1, 3_000), (14_000, 2, 2_500), (40_000, 2, 4_000),
                                       (52_000, 1, 1_500)):  # fmt: skip
            at = minute_start + offset
            face = (ASTRONAUT, LFW)[person - 1]
            if any(
                a.face == face and a.start_ms + 500 <= at and at + length <= a.end_ms - 500
                for a in appearances
            ):
                lines.append((person, at, length))
    return appearances, lines


def plain_pass(source: Path, out: Path) -> float:
    """Decode every frame and the sound, and encode them again: the floor for assembly."""
    started = time.perf_counter()
    container, stream = open_video(source)
    with container:
        facts = video_facts(container, stream)
        writer = Mp4Writer(out, (facts.width, facts.height), facts.fps)
        with Soundtrack(source, facts.start_s) as sound:
            for _, frame in numbered_frames(container, stream, facts):
                writer.write_frame(frame)
                writer.write_audio(sound.read(writer.audio_due()))
        writer.close()
    return time.perf_counter() - started


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    quick = quick_mode()
    duration_s, size = (60, (960, 540)) if quick else (180, (1280, 720))
    BENCH_DIR.mkdir(parents=True, exist_ok=True)
    source = BENCH_DIR / f"dub_{duration_s}s_{size[1]}p.mp4"
    appearances, spoken = scene(duration_s)
    if not source.exists():
        log(f"writing {source.name} (once)")
        partial = source.with_name(f"partial-{source.name}")
        write_two_people_video(
            partial, appearances=appearances, duration_ms=duration_s * 1000, size=size, fps=FPS,
            silences_ms=((5_000, 6_000), (33_000, 34_500)),
        )  # fmt: skip
        os.replace(partial, source)
    timings = {}
    with tempfile.TemporaryDirectory(dir=BENCH_DIR) as scratch:
        folder = Path(scratch)
        started = time.perf_counter()
        tracks = identify_faces(source)
        people = group_people(tracks)
        hints = find_cut_hints(source)
        timings["people_and_hints_s"] = time.perf_counter() - started
        files, lines = {}, []
        for number, (person, at, length) in enumerate(spoken, start=1):
            files[number] = write_wav(folder / f"line{number}.wav", speech_like(number, length))
            lines.append(Line(number, person, at, 0, length, 1.0, f"line{number}"))
        started = time.perf_counter()
        plan = plan_dub(
            Source(hints.duration_ms, Fraction(FPS), "bench", hints.silences, hints.shot_changes),
            [person.as_person() for person in people],
            lines,
        )
        timings["plan_s"] = time.perf_counter() - started
        log(f"plan: {plan.summary()}")
        started = time.perf_counter()
        engine = LocalEngine(folder / "engine")
        run = run_plan(plan, source, people, tracks, files, engine, folder)
        timings["engine_jobs_s"] = time.perf_counter() - started
        mix = Mix(
            0.6, tuple(MixLine(files[li.line_id], 0, li.duration_ms, li.at_ms) for li in lines)
        )
        started = time.perf_counter()
        assemble(source, run.processed, mix, folder / "dub.mp4")
        timings["assembly_s"] = time.perf_counter() - started
        log("plain decode + encode pass")
        timings["plain_pass_s"] = plain_pass(source, folder / "plain.mp4")
    ratio = timings["assembly_s"] / timings["plain_pass_s"]
    peak = peak_mb()
    figures = {
        "source_seconds": duration_s,
        "frame_size": f"{size[0]}x{size[1]}",
        "people": len(people),
        "lines": len(lines),
        **plan.summary(),
        **{name: round(value, 2) for name, value in timings.items()},
        "job_parts_s": {name: round(value, 2) for name, value in run.seconds.items()},
        "total_s": round(sum(v for k, v in timings.items() if k != "plain_pass_s"), 2),
        "assembly_vs_plain_pass": round(ratio, 2),
        "peak_memory_mb": round(peak),
    }
    report(
        "dub_assembly",
        figures,
        f"assembly <= {ASSEMBLY_RATIO_TARGET}x a plain decode + encode pass; "
        f"peak memory < {PEAK_MB_TARGET} MB",
        ratio <= ASSEMBLY_RATIO_TARGET and peak < PEAK_MB_TARGET,
    )


if __name__ == "__main__":
    main()
