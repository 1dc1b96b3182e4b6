"""Dubs: a whole video's lines, planned into engine jobs, run, and assembled into one result.

A dub is written (lines added, changed, removed, each checked by the line rules), then
submitted: the planner (projects.engines.planner) turns it into jobs, one `DubJob` row each.
Each job runs as a `LipSyncTask` through the same submit / poll / download pipeline as any
task (services/pipeline.py), so it is never paid twice. The dub advances from database
state: when a job's task ends, the pipeline starts `advance`, which starts the next jobs (a
chained job on the previous job's result), pauses the dub when a job failed, or assembles the
result when every job is done. A killed worker loses nothing: beat's reconcile starts `advance`
again for every dub being made.

A job's result is reused whenever a job with the same inputs (the planner's hash: the source,
the window, the person, the clip and the job before it) already succeeded, so submitting again
after an edit, or "Try again" after a failure, pays only for the jobs that changed or failed.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import time
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from projects import background
from projects.engines import limits, rules
from projects.engines.base import EngineError
from projects.engines.line_rules import LineCheck, check_lines
from projects.engines.local.faces import embed_face_image, identify_faces
from projects.engines.people import ExpectedFace, NoMatchingFace, candidates_from, match_face
from projects.engines.planner import Job, Plan, PlanError, plan_dub
from projects.engines.timeline import Line as TimelineLine
from projects.engines.timeline import Source
from projects.engines.voices import UnknownVoiceError, get_voice
from projects.fetch import FetchError
from projects.mediakit.assembly import Mix, MixLine, ProcessedWindow, assemble
from projects.mediakit.clips import ClipPiece, build_clip
from projects.mediakit.errors import MediaError
from projects.mediakit.windows import cut_window
from projects.mediakit.wording import clock
from projects.models import (
    AudioClip,
    AuditVerb,
    DetectedFace,
    Dub,
    DubJob,
    DubState,
    Line,
    LipSyncTask,
    Person,
    SourceVideo,
    TaskKind,
    TaskStatus,
)
from projects.services import audit, faces, media, people, pipeline
from projects.services.errors import ServiceError
from projects.services.storage import delete_when_committed, local_path, store_path

log = logging.getLogger(__name__)


def start_stale_after() -> timedelta:
    """A job claimed for starting longer ago than this lost its worker: another may start it."""
    return timedelta(seconds=settings.LIPSYNC_DUB_STALE_S)


def assembly_stale_after() -> timedelta:
    return 2 * start_stale_after()


# --- writing a dub ---------------------------------------------------------------------------


def create(*, video: SourceVideo, user: AbstractBaseUser, original_volume: float = 1.0) -> Dub:
    """A new dub of `video`; its people are looked for on a worker if not found yet."""
    if video.made_for_dub_id:
        raise ServiceError("This video is a part of another dub; dub the video it came from.")
    refusal = video.dub_refusal
    if refusal:
        raise ServiceError(refusal)
    _check_volume(original_volume, "The original sound's volume")
    with transaction.atomic():
        dub = Dub.objects.create(
            project=video.project,
            source=video,
            original_volume=original_volume,
            engine=settings.LIPSYNC_ENGINE,
            created_by=user,
        )
        people.request_search(video)
    return dub


@dataclass(frozen=True)
class LineInput:
    """What a line is made of, as a form or the command gives it."""

    person: int
    at_ms: int
    audio: AudioClip
    crop_start_ms: int = 0
    crop_end_ms: int | None = None  # the clip's end
    volume: float = 1.0

    @classmethod
    def of(cls, line: Line) -> LineInput:
        """The line as it is, to change a part of it with `dataclasses.replace`."""
        return cls(
            person=line.person.number,
            at_ms=line.at_ms,
            audio=line.audio,
            crop_start_ms=line.crop_start_ms,
            crop_end_ms=line.crop_end_ms,
            volume=line.volume,
        )


def add_line(dub: Dub, given: LineInput) -> Line:
    """Add a line; it is kept even when it breaks a rule, so that the page can show the rule
    and its fix (submitting refuses until every line is valid)."""
    _require_editable(dub)
    line = Line(dub=dub)
    _fill_line(line, dub, given)
    line.save()
    return line


def change_line(line: Line, given: LineInput) -> Line:
    _require_editable(line.dub)
    _fill_line(line, line.dub, given)
    line.save()
    return line


def set_original_volume(dub: Dub, volume: float) -> None:
    """The original soundtrack's volume in the dub's mix (ours, so only the assembly changes:
    making the dub again reuses every job's result)."""
    _require_editable(dub)
    _check_volume(volume, "The original sound's volume")
    dub.original_volume = volume
    dub.save(update_fields=["original_volume"])


def remove_line(line: Line) -> None:
    _require_editable(line.dub)
    line.delete()


def apply_fix(line: Line) -> Line:
    """Change the line as its rule's fix says (the first fix offered); ServiceError when the
    rules offer none."""
    _require_editable(line.dub)
    check = line_checks(line.dub).get(line.pk)
    fixed = next((v.fixed for v in check.violations if v.fixed), None) if check else None
    if fixed is None:
        raise ServiceError("There is no fix to apply to this line.")
    line.at_ms, line.crop_start_ms, line.crop_end_ms = (
        fixed.at_ms,
        fixed.crop_start_ms,
        fixed.crop_end_ms,
    )
    line.save(update_fields=["at_ms", "crop_start_ms", "crop_end_ms"])
    return line


def speech_clip(
    dub: Dub, *, text: str, voice_id: str, language: str = "en", speed: float = 1.0
) -> AudioClip:
    """Typed text made into an audio clip by the voice, spoken here and now (seconds at most)."""
    text = " ".join(text.split())
    if not text:
        raise ServiceError("Type the words the person says.")
    if len(text) > limits.MAX_TEXT_CHARS:
        raise ServiceError(
            f"The text has {len(text)} characters; a voice takes at most "
            f"{limits.MAX_TEXT_CHARS}. Split it into two lines."
        )
    try:
        get_voice(voice_id)
    except UnknownVoiceError as error:
        raise ServiceError(
            f"There is no voice called “{voice_id}”; choose one from the list."
        ) from error
    low, high = limits.VOICE_SPEED_RANGE
    if not low <= speed <= high:
        raise ServiceError(f"A voice's speed goes from {low} to {high}.")
    clip = media.create_tts_clip(
        project=dub.project,
        user=dub.created_by,
        data={
            "text": text,
            "voice_id": voice_id,
            "voice_language": language,
            "voice_speed": round(speed, 1),
        },
    )
    media.synthesize_clip(clip.pk)  # a second or so: the line needs its length now
    clip.refresh_from_db()
    # Any length is fine for a line (a short one is padded, a long one cropped): only a clip
    # that could not be made is refused.
    if not clip.is_ready:
        raise ServiceError(clip.rejection_reason or "The voice could not speak this text.")
    return clip


def _fill_line(line: Line, dub: Dub, given: LineInput) -> None:
    person = dub.source.people.filter(number=given.person).first()
    if person is None:
        raise ServiceError(f"There is no person {given.person} in this video.")
    clip = given.audio
    if clip.project_id != dub.project_id:
        raise ServiceError("Choose an audio clip of this project.")
    if not clip.is_ready:
        raise ServiceError(clip.unusable_reason or "This audio clip is not ready yet.")
    length = clip.duration_ms or 0
    end = length if given.crop_end_ms is None else given.crop_end_ms
    if not 0 <= given.crop_start_ms < end:
        raise ServiceError("The part of the clip to use must end after it starts.")
    if end > length:
        raise ServiceError(
            f"The clip lasts {rules.seconds(length)}; the part to use must end by then."
        )
    if given.at_ms < 0:
        raise ServiceError("A line starts at 0 s or later.")
    if dub.source.duration_ms and given.at_ms >= dub.source.duration_ms:
        raise ServiceError(
            f"The video lasts {clock(dub.source.duration_ms)}; a line must start before its end."
        )
    _check_volume(given.volume, "A line's volume")
    line.person = person
    line.audio = clip
    line.crop_start_ms, line.crop_end_ms = given.crop_start_ms, end
    line.at_ms = given.at_ms
    line.volume = given.volume


def _check_volume(volume: float, what: str) -> None:
    low, high = limits.VOLUME_RANGE
    if not low <= volume <= high:
        raise ServiceError(f"{what} goes from {low:g} to {high:g}.")


def _require_editable(dub: Dub) -> None:
    if not dub.can_edit:
        raise ServiceError("This dub is being made right now; change it once that has ended.")


# --- the rules and the plan --------------------------------------------------------------------


def timeline_lines(dub: Dub) -> list[TimelineLine]:
    return [
        TimelineLine(
            line.pk,
            line.person.number,
            line.at_ms,
            line.crop_start_ms,
            line.crop_end_ms,
            line.volume,
            line.audio.sha256 or f"audio-{line.audio_id}",
        )
        for line in dub.lines.select_related("person", "audio")
    ]


def line_checks(dub: Dub) -> dict[int, LineCheck]:
    """Every line's check by the line rules, by the line's id."""
    persons = [people.as_timeline_person(p) for p in dub.source.people.all()]
    return check_lines(timeline_lines(dub), persons)


def source_of(video: SourceVideo) -> Source:
    hints = video.cut_hints or {}
    return Source(
        duration_ms=int(hints.get("duration_ms") or video.duration_ms or 0),
        fps=people.source_fps(video),
        key=video.sha256 or f"video-{video.pk}",
        silences=tuple(tuple(span) for span in hints.get("silences", ())),
        shot_changes=tuple(hints.get("shot_changes", ())),
    )


def plan_for(dub: Dub) -> Plan:
    """The jobs the dub needs now; ServiceError with the first rule a line breaks."""
    video = dub.source
    if not video.people_searched:
        raise ServiceError("We are still looking for the people in this video; wait a moment.")
    if not video.people.exists():
        raise ServiceError(people.NO_FACE)
    try:
        return plan_dub(
            source_of(video),
            [people.as_timeline_person(p) for p in video.people.all()],
            timeline_lines(dub),
        )
    except PlanError as error:
        raise ServiceError(error.message) from error


def plan_rows(plan: Plan) -> list[dict]:
    """The plan as the page lists it: each window with its people and seconds sent."""
    return [
        {
            "number": window.index + 1,
            "start_ms": window.start_ms,
            "end_ms": window.end_ms,
            "people": [job.person_id for job in window.jobs],
            "seconds_sent": len(window.jobs) * window.duration_ms / 1000,
        }
        for window in plan.windows
    ]


# --- submitting, trying again ------------------------------------------------------------------


def submit(dub: Dub, user: AbstractBaseUser) -> Plan:
    """Plan the dub and start its jobs; jobs whose inputs did not change keep their results."""
    started = time.perf_counter()
    with transaction.atomic():
        locked = Dub.objects.select_for_update().get(pk=dub.pk)
        if not locked.can_submit:
            raise ServiceError("This dub is being made right now.")
        plan = plan_for(locked)
        if not plan.jobs:
            raise ServiceError("Add a line before making the dub.")
        _replace_jobs(locked, plan)
        now = timezone.now()
        locked.state = DubState.RUNNING
        locked.state_message = ""
        locked.state_changed_at = now
        locked.submitted_at = now
        locked.finished_at = None
        # Kept with its rows: the page shows it while the dub is made, without planning again.
        locked.plan = {**plan.summary(), "people": _people_count(plan), "rows": plan_rows(plan)}
        locked.timings = {"plan_s": round(time.perf_counter() - started, 3)}
        locked.save()
        background.advance_dub.delay_on_commit(locked.pk)
    dub.refresh_from_db()
    return plan


def try_again(dub: Dub, user: AbstractBaseUser) -> None:
    """Run again only what failed: every job that succeeded keeps its result."""
    with transaction.atomic():
        locked = Dub.objects.select_for_update().get(pk=dub.pk)
        if not locked.can_retry:
            raise ServiceError("Only a paused dub can be tried again.")
        for job in locked.jobs.select_related("task"):
            if job.task is not None and not job.is_done and job.task.is_final:
                job.task = None
                job.save(update_fields=["task"])
        DubJob.objects.filter(dub=locked).update(starting_at=None)
        _set_state(locked, DubState.RUNNING)
        background.advance_dub.delay_on_commit(locked.pk)
    dub.refresh_from_db()


def _replace_jobs(dub: Dub, plan: Plan) -> None:
    done_before = {
        job.input_hash: job.task for job in dub.jobs.select_related("task") if job.is_done
    }
    dub.jobs.all().delete()
    numbered = {p.number: p for p in dub.source.people.all()}
    for window in plan.windows:
        for job in window.jobs:
            DubJob.objects.create(
                dub=dub,
                window_index=window.index,
                chain_index=job.chain_index,
                window_start_ms=window.start_ms,
                window_end_ms=window.end_ms,
                person=numbered[job.person_id],
                input_hash=job.input_hash,
                spec=_spec(job),
                task=done_before.get(job.input_hash),
            )


def _spec(job: Job) -> dict:
    return {
        "face_start_ms": job.face_start_ms,
        "face_end_ms": job.face_end_ms,
        "insert_ms": job.insert_ms,
        "clip_ms": job.clip_ms,
        "pieces": [
            {
                "line": piece.line_id,
                "crop_start_ms": piece.crop_start_ms,
                "crop_end_ms": piece.crop_end_ms,
                "offset_ms": piece.offset_ms,
                "volume": piece.volume,
            }
            for piece in job.pieces
        ],
    }


def _people_count(plan: Plan) -> int:
    return len({job.person_id for job in plan.jobs})


def _set_state(dub: Dub, state: str, message: str = "") -> None:
    Dub.objects.filter(pk=dub.pk).update(
        state=state, state_message=message, state_changed_at=timezone.now()
    )
    dub.state, dub.state_message = state, message


# --- running: advancing from the database's state ---------------------------------------------


def advance(dub_id: int) -> None:
    """Start the jobs that can start, pause on a failure, assemble when all are done."""
    dub = Dub.objects.filter(pk=dub_id).first()
    if dub is None:
        return
    if dub.state == DubState.ASSEMBLING:
        if timezone.now() - dub.state_changed_at > assembly_stale_after():
            assemble_result(dub.pk)  # its worker was lost: assemble again
        return
    if dub.state != DubState.RUNNING:
        return
    chains: dict[int, list[DubJob]] = {}
    for job in dub.jobs.select_related("task", "person"):
        chains.setdefault(job.window_index, []).append(job)
    all_done = True
    for chain in chains.values():
        previous = None
        for job in chain:
            if job.is_done:
                previous = job
                continue
            all_done = False
            if job.has_failed:
                _pause(dub, _failure_words(job))
                return
            if job.task is None:
                _start_job(dub, job, previous)
                dub.refresh_from_db(fields=["state", "state_message"])
                if dub.state != DubState.RUNNING:
                    return
            break  # the rest of the chain waits for this job
    if all_done:
        claimed = Dub.objects.filter(pk=dub.pk, state=DubState.RUNNING).update(
            state=DubState.ASSEMBLING, state_changed_at=timezone.now()
        )
        if claimed:
            background.assemble_dub.delay_on_commit(dub.pk)


def _failure_words(job: DubJob) -> str:
    reason = job.task.status_message or "The engine could not make this part."
    return (
        f"Person {job.person.number} in the part {clock(job.window_start_ms)}–"
        f"{clock(job.window_end_ms)}: {reason}"
    )


def _pause(dub: Dub, message: str) -> None:
    Dub.objects.filter(pk=dub.pk, state=DubState.RUNNING).update(
        state=DubState.PAUSED, state_message=message, state_changed_at=timezone.now()
    )


def _start_job(dub: Dub, job: DubJob, previous: DubJob | None) -> None:
    now = timezone.now()
    claimed = (
        DubJob.objects.filter(pk=job.pk, task__isnull=True)
        .filter(Q(starting_at__isnull=True) | Q(starting_at__lt=now - start_stale_after()))
        .update(starting_at=now)
    )
    if not claimed:
        return  # another worker is starting it
    reused = (
        DubJob.objects.filter(
            input_hash=job.input_hash,
            dub__source=dub.source,
            task__status=TaskStatus.SUCCEED,
        )
        .exclude(pk=job.pk)
        .select_related("task")
        .first()
    )
    if reused is not None:  # the same inputs already made a result: never pay twice
        DubJob.objects.filter(pk=job.pk).update(task=reused.task, starting_at=None)
        background.advance_dub.delay_on_commit(dub.pk)
        return
    try:
        task = _make_task(dub, job, previous)
    except JobRefused as refusal:
        DubJob.objects.filter(pk=job.pk).update(starting_at=None)
        _pause(dub, str(refusal))
        return
    with transaction.atomic():
        # A worker thought lost (its claim went stale) may have started the job meanwhile:
        # the first to attach its task sends it; the other's task was never sent and goes.
        attached = DubJob.objects.filter(pk=job.pk, task__isnull=True).update(
            task=task, starting_at=None
        )
        if not attached:
            task.delete()
            return
        pipeline.queue(task)


class JobRefused(Exception):
    """A job cannot be sent as planned; the message says why, in plain words."""


def _make_task(dub: Dub, job: DubJob, previous: DubJob | None) -> LipSyncTask:
    """Cut the job's input, build its clip, identify its faces with the engine, find the
    person among them and check the job against the engine's own face window: all before
    anything is paid."""
    where = f"Person {job.person.number} in the part {clock(job.window_start_ms)}–" + clock(
        job.window_end_ms
    )
    folder = Path(tempfile.mkdtemp(prefix="dubjob-"))
    try:
        video = _job_video(dub, job, previous, folder)
        clip = _job_clip(dub, job, folder)
        _session, found = faces.identify_now(video, dub.engine)
        face = _matched_face(dub, job, video, found, folder)
        _check_against_engine(job, video, face, where)
    except (EngineError, FetchError) as error:
        raise JobRefused(f"{where}: the engine could not look at the faces ({error}).") from error
    except MediaError as error:
        raise JobRefused(f"{where}: {error}") from error
    except NoMatchingFace as error:
        raise JobRefused(f"{where}: {error} Check the lines of this part.") from error
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return LipSyncTask.objects.create(
        project=dub.project,
        video=video,
        face=face,
        audio=clip,
        kind=TaskKind.ADVANCED,
        title=f"Dub part {job.window_index + 1}, person {job.person.number}",
        sound_start_ms=0,
        sound_end_ms=job.spec["clip_ms"],
        sound_insert_ms=job.spec["insert_ms"],
        sound_volume=1.0,
        original_audio_volume=1.0,
        engine=dub.engine,
        created_by=dub.created_by,
    )


def engine_size(width: int, height: int) -> tuple[int, int] | None:
    """The size a window is sent at: the source's, scaled into the engine's sides."""
    low, high = limits.ADVANCED_VIDEO.min_side_px, limits.ADVANCED_VIDEO.max_side_px
    scale = 1.0
    if min(width, height) < low:
        scale = low / min(width, height)
    elif max(width, height) > high:
        scale = high / max(width, height)
    if scale == 1.0:
        return None
    return (-(-round(width * scale) // 2) * 2, -(-round(height * scale) // 2) * 2)


def _job_video(dub: Dub, job: DubJob, previous: DubJob | None, folder: Path) -> SourceVideo:
    name = f"part {job.window_index + 1}"
    if previous is None:
        source = dub.source
        with local_path(source.file, suffix=".mp4") as path:
            cut = cut_window(
                path,
                job.window_start_ms,
                job.window_end_ms,
                folder / "window.mp4",
                size=engine_size(source.width or 0, source.height or 0),
            )
        return media.add_dub_part(dub, cut.path, kind="video", name=f"{name}.mp4")
    with local_path(previous.task.result_file, suffix=".mp4") as path:
        copy = folder / "previous.mp4"
        shutil.copyfile(path, copy)
    return media.add_dub_part(
        dub,
        copy,
        kind="video",
        name=f"{name} after job {job.chain_index}",
        result_of=previous.task,
    )


def _job_clip(dub: Dub, job: DubJob, folder: Path) -> AudioClip:
    lines = {line.pk: line for line in dub.lines.select_related("audio")}
    with ExitStack() as stack:
        pieces = []
        for piece in job.spec["pieces"]:
            line = lines.get(piece["line"])
            if line is None:
                raise MediaError("a line of this part was removed; submit the dub again.")
            path = stack.enter_context(local_path(line.audio.file, suffix=".audio"))
            pieces.append(
                ClipPiece(
                    path,
                    piece["crop_start_ms"],
                    piece["crop_end_ms"],
                    piece["offset_ms"],
                    piece["volume"],
                )
            )
        clip = build_clip(pieces, job.spec["clip_ms"], folder / "clip.m4a")
    return media.add_dub_part(dub, clip, kind="audio", name=f"part {job.window_index + 1}.m4a")


@dataclass(frozen=True)
class _EngineFace:
    face_id: str
    start_ms: int
    end_ms: int


def _matched_face(
    dub: Dub, job: DubJob, video: SourceVideo, found: list[DetectedFace], folder: Path
) -> DetectedFace:
    """The engine's face that is the job's person: by window, look and position (our own face
    search of the same input gives the positions)."""
    with local_path(video.file, suffix=".mp4") as path:
        ours = identify_faces(path)
    pictures = {}
    for row in found:
        if row.thumbnail:
            with row.thumbnail.open("rb") as handle:
                pictures[row.engine_face_id] = embed_face_image(handle.read())
    engine_faces = [_EngineFace(row.engine_face_id, row.start_ms, row.end_ms) for row in found]
    candidates = candidates_from(engine_faces, ours, pictures)
    chosen = match_face(candidates, _expected(dub, job, video))
    return next(row for row in found if row.engine_face_id == chosen.face_id)


def _expected(dub: Dub, job: DubJob, video: SourceVideo) -> ExpectedFace:
    person: Person = job.person
    spec = job.spec
    middle = job.window_start_ms + spec["insert_ms"] + spec["clip_ms"] // 2
    box = None
    for track in people.tracks_of(person):
        box = box or track.box_at(middle)
    if box is not None and dub.source.width and video.width:
        scale = video.width / dub.source.width
        box = tuple(round(value * scale) for value in box)
    return ExpectedFace(
        person.number,
        spec["face_start_ms"],
        spec["face_end_ms"],
        tuple(person.embedding),
        box,
    )


def _check_against_engine(job: DubJob, video: SourceVideo, face: DetectedFace, where: str) -> None:
    spec = job.spec
    broken = rules.check_advanced_timing(
        audio_ms=spec["clip_ms"],
        video_ms=video.duration_ms or 0,
        face_start_ms=face.start_ms,
        face_end_ms=face.end_ms,
        sound_start_ms=0,
        sound_end_ms=spec["clip_ms"],
        sound_insert_ms=spec["insert_ms"],
    )
    if broken:
        raise JobRefused(
            f"{where}: the engine sees the face from {clock(face.start_ms)} to "
            f"{clock(face.end_ms)} of this part, which does not fit the plan "
            f"({broken[0].message}) Move the lines of this part a little, then submit again."
        )


# --- assembly ----------------------------------------------------------------------------------


def assemble_result(dub_id: int) -> None:
    """Splice each window's last result into the source under our own sound mix; done."""
    dub = Dub.objects.filter(pk=dub_id, state=DubState.ASSEMBLING).first()
    if dub is None:
        return
    Dub.objects.filter(pk=dub.pk).update(state_changed_at=timezone.now())
    started = time.perf_counter()
    last_of_window: dict[int, DubJob] = {}
    for job in dub.jobs.select_related("task"):
        last_of_window[job.window_index] = job
    folder = Path(tempfile.mkdtemp(prefix="dub-"))
    try:
        with ExitStack() as stack:
            source = stack.enter_context(local_path(dub.source.file, suffix=".mp4"))
            windows = [
                ProcessedWindow(
                    job.window_start_ms,
                    job.window_end_ms,
                    stack.enter_context(local_path(job.task.result_file, suffix=".mp4")),
                )
                for job in last_of_window.values()
            ]
            mix_lines = tuple(
                MixLine(
                    stack.enter_context(local_path(line.audio.file, suffix=".audio")),
                    line.crop_start_ms,
                    line.crop_end_ms,
                    line.at_ms,
                    line.volume,
                )
                for line in dub.lines.select_related("audio")
            )
            out = assemble(source, windows, Mix(dub.original_volume, mix_lines), folder / "dub.mp4")
        _keep_result(dub, out.path, time.perf_counter() - started)
    except (MediaError, OSError) as error:
        log.warning("assembling dub %s failed: %s", dub.pk, error)
        Dub.objects.filter(pk=dub.pk, state=DubState.ASSEMBLING).update(
            state=DubState.PAUSED,
            state_message=f"Putting the dub together failed: {error} Try again.",
            state_changed_at=timezone.now(),
        )
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _keep_result(dub: Dub, path: Path, seconds: float) -> None:
    with transaction.atomic():
        locked = Dub.objects.select_for_update().get(pk=dub.pk)
        if locked.state != DubState.ASSEMBLING:
            return
        name = locked.result_file.field.generate_filename(locked, "dub.mp4")
        locked.result_file.storage.delete(name)
        store_path(locked.result_file, "dub.mp4", path)
        now = timezone.now()
        locked.state = DubState.DONE
        locked.state_message = ""
        locked.state_changed_at = now
        locked.finished_at = now
        locked.timings = {**locked.timings, "assembly_s": round(seconds, 3)}
        locked.save()


def reconcile() -> int:
    """Beat's safety net: move on every dub being made (a lost worker's dub resumes)."""
    busy = list(
        Dub.objects.filter(state__in=(DubState.RUNNING, DubState.ASSEMBLING)).values_list(
            "pk", flat=True
        )
    )
    for dub_id in busy:
        background.advance_dub.delay_on_commit(dub_id)
    return len(busy)


# --- deleting a dub ----------------------------------------------------------------------------


@transaction.atomic
def delete(dub: Dub, *, by: AbstractBaseUser) -> None:
    """Delete a dub that is not being made, with what was made for it (the windows and clips
    sent to the engine, its engine tasks and their results, its own result), then their files.
    A task that another dub of the video reuses stays, with the parts it was made from."""
    locked = Dub.objects.select_for_update().filter(pk=dub.pk).first()
    if locked is None:
        return  # already deleted
    if locked.delete_refusal:
        raise ServiceError(f"This dub cannot be deleted now. {locked.delete_refusal}")
    made = list(
        LipSyncTask.objects.filter(
            Q(dub_jobs__dub=locked) | Q(video__made_for_dub=locked) | Q(audio__made_for_dub=locked)
        ).distinct()
    )
    kept = _hand_over_reused(locked, made)
    own = [task for task in made if task.pk not in kept]
    at_engine = next((task for task in own if task.delete_refusal), None)
    if at_engine is not None:
        raise ServiceError(f"This dub cannot be deleted now. {at_engine.delete_refusal}")
    parts = [
        *SourceVideo.objects.filter(made_for_dub=locked),
        *AudioClip.objects.filter(made_for_dub=locked),
    ]
    files = [locked.result_file, *(f for row in parts for f in media.stored_files(row))]
    files += [f for task in own for f in (task.result_file, task.watermarked_result_file)]
    note = f"a dub of “{locked.source}”"
    audit.record(by, AuditVerb.DELETED, locked.project, video=locked.source, note=note)
    LipSyncTask.objects.filter(pk__in=[task.pk for task in own]).delete()
    locked.delete()  # its lines, jobs and parts go with it
    delete_when_committed(*files)


def _hand_over_reused(dub: Dub, tasks: list[LipSyncTask]) -> set:
    """Tasks of `dub` that jobs of another dub reuse: their parts become that dub's; their ids."""
    kept = set()
    for task in tasks:
        other = DubJob.objects.filter(task=task).exclude(dub=dub).values_list("dub", flat=True)
        heir = other.first()
        if heir is None:
            continue
        kept.add(task.pk)
        SourceVideo.objects.filter(pk=task.video_id, made_for_dub=dub).update(made_for_dub=heir)
        AudioClip.objects.filter(pk=task.audio_id, made_for_dub=dub).update(made_for_dub=heir)
    return kept


# --- in this process, without a worker ---------------------------------------------------------


def run_in_process(dub: Dub, *, poll_s: float = 1.0, timeout_s: float = 3 * 3600) -> Dub:
    """Make the dub here, step by step as the workers would (the `dub` command without a
    worker); returns it done or paused."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        dub.refresh_from_db()
        if dub.state == DubState.RUNNING:
            advance(dub.pk)
        elif dub.state == DubState.ASSEMBLING:
            assemble_result(dub.pk)
        dub.refresh_from_db()
        if not dub.is_busy:
            return dub
        if not _step_tasks(dub):
            time.sleep(poll_s)
    raise ServiceError("The dub took longer than expected; it goes on in the background.")


def _step_tasks(dub: Dub) -> bool:
    """One pipeline step for each of the dub's tasks under way; True when one moved."""
    moved = False
    for job in dub.jobs.select_related("task").exclude(task=None):
        task = job.task
        if task.is_final:
            if dub.state == DubState.RUNNING:
                moved = True  # `advance` takes it from here
            continue
        before = (task.status, task.poll_seq)
        if task.status == TaskStatus.QUEUED:
            pipeline.dispatch(task.engine)
        elif task.status == TaskStatus.SUBMITTING:
            pipeline.submit(str(task.pk))
        elif task.is_at_engine and _poll_due(task):
            pipeline.poll(str(task.pk), task.poll_seq)
        task.refresh_from_db()
        moved = moved or (task.status, task.poll_seq) != before
    return moved


def _poll_due(task: LipSyncTask) -> bool:
    return task.next_poll_at is None or task.next_poll_at <= timezone.now()
