"""Running a planned dub through the local engine, as the pipeline will, for tests and benchmarks.

For each window: cut it from the source, then for each job of its chain build the clip,
identify the faces of the job's input (the window, or the previous job's result) with the
engine, find the planned person among them (by window, position and embedding, with our own
face search of the same video), and create the lip-sync. The last result of each chain is the
window's processed video, ready for assembly.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlparse

from projects.engines.base import AdvancedRequest, MediaRef
from projects.engines.local import LocalEngine
from projects.engines.local.faces import FaceTrackResult, embed_face_image, identify_faces
from projects.engines.people import (
    ExpectedFace,
    FoundPerson,
    candidates_from,
    match_face,
)
from projects.engines.planner import Job, Plan, Window
from projects.mediakit.assembly import ProcessedWindow
from projects.mediakit.clips import ClipPiece, build_clip
from projects.mediakit.windows import cut_window


@dataclass
class DubRun:
    processed: list[ProcessedWindow] = field(default_factory=list)
    engine_tasks: int = 0
    seconds: dict[str, float] = field(default_factory=dict)


def run_plan(
    plan: Plan,
    source: Path,
    people: Sequence[FoundPerson],
    tracks: Sequence[FaceTrackResult],
    audio_files: Mapping[int | str, Path],
    engine: LocalEngine,
    folder: Path,
) -> DubRun:
    """Every job of `plan` through `engine`; `tracks` are the source's own face tracks."""
    run = DubRun()
    timings = {"cut": 0.0, "clips": 0.0, "identify": 0.0, "lipsync": 0.0}
    for window in plan.windows:
        started = time.perf_counter()
        video = cut_window(source, window.start_ms, window.end_ms, folder / f"w{window.index}.mp4")
        timings["cut"] += time.perf_counter() - started
        current = video.path
        for job in window.jobs:
            current = _run_job(
                job, window, current, people, tracks, audio_files, engine, folder, timings
            )
            run.engine_tasks += 1
        run.processed.append(ProcessedWindow(window.start_ms, window.end_ms, current))
    run.seconds = timings
    return run


def _run_job(
    job: Job,
    window: Window,
    video: Path,
    people: Sequence[FoundPerson],
    tracks: Sequence[FaceTrackResult],
    audio_files: Mapping[int | str, Path],
    engine: LocalEngine,
    folder: Path,
    timings: dict[str, float],
) -> Path:
    started = time.perf_counter()
    pieces = [
        ClipPiece(audio_files[p.line_id], p.crop_start_ms, p.crop_end_ms, p.offset_ms, p.volume)
        for p in job.pieces
    ]
    clip = build_clip(pieces, job.clip_ms, folder / f"w{window.index}-j{job.chain_index}.m4a")
    timings["clips"] += time.perf_counter() - started
    started = time.perf_counter()
    session = engine.identify_faces(MediaRef(path=str(video)))
    ours = identify_faces(video)
    pictures = {face.face_id: embed_face_image(face.image_jpeg or b"") for face in session.faces}
    candidates = candidates_from(session.faces, ours, pictures)
    face = match_face(candidates, _expected(job, window, people, tracks))
    timings["identify"] += time.perf_counter() - started
    started = time.perf_counter()
    task = engine.create_advanced(
        AdvancedRequest(
            session_id=session.session_id,
            face_id=face.face_id,
            sound_start_ms=0,
            sound_end_ms=job.clip_ms,
            sound_insert_ms=job.insert_ms,
            audio=MediaRef(path=str(clip)),
        )
    )
    timings["lipsync"] += time.perf_counter() - started
    if task.status != "succeed":
        raise RuntimeError(f"job {job.window_index}.{job.chain_index} failed: {task.message}")
    return Path(unquote(urlparse(task.videos[0].url).path))


def _expected(
    job: Job, window: Window, people: Sequence[FoundPerson], tracks: Sequence[FaceTrackResult]
) -> ExpectedFace:
    """Where the person should be: their window in the job, their look, and where their face
    is in the source at the middle of the clip (window and source share coordinates)."""
    person = next(p for p in people if p.person_id == job.person_id)
    middle = window.start_ms + job.insert_ms + job.clip_ms // 2
    box = None
    for index in person.track_indexes:
        box = box or tracks[index].box_at(middle)
    return ExpectedFace(job.person_id, job.face_start_ms, job.face_end_ms, person.embedding, box)
