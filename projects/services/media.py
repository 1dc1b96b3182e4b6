"""Videos and audio clips: upload, URL import, probing on the worker, and "fix it for me".

A file is probed by content on a Celery worker. A file we cannot read is rejected: its row keeps
the reason for the person and its file is deleted. A readable file that breaks an engine limit
is kept, with each problem and the conversion that can cure it, so that "fix it for me" can make
a conforming copy from it.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from urllib.parse import unquote, urlparse

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.files import File
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone

from projects import background
from projects.engines import limits
from projects.engines.limits import ADVANCED_VIDEO, AUDIO, BASIC_VIDEO, DUB_SOURCE, MB
from projects.fetch import FetchError, fetch_to_file
from projects.mediakit import captions, checks, conform, pictures, probe, waveform
from projects.mediakit.errors import MediaError
from projects.models import (
    PICTURES_PENDING,
    AudioClip,
    AudioSource,
    AuditVerb,
    DetectedFace,
    FaceSearchState,
    LipSyncTask,
    MediaStatus,
    Project,
    SourceVideo,
    probed_name,
)
from projects.services import audit, engines, faces, speech, steps
from projects.services.errors import ServiceError
from projects.services.storage import (
    delete_names_quietly,
    delete_quietly,
    delete_when_committed,
    display_name,
    local_path,
    sha256_of,
    store_as,
    store_bytes,
    store_path,
)

log = logging.getLogger(__name__)

# A video for a dub may be far larger than one task's (its windows are cut from it); a larger
# upload for one task is told its problem and offered "fix it for me", as any other.
VIDEO_UPLOAD_CAP = DUB_SOURCE.max_bytes
# Above the engine's 5 MB: a long WAV can still be cured by re-encoding it to AAC.
AUDIO_UPLOAD_CAP = 50 * MB
URL_IMPORT_TIMEOUT_S = 120
PROBE_TIMEOUT_S = 20
THUMBNAIL_STRIP_TILES = 12
# "Fix it for me" for quick mode: a copy within its tighter limits (conform_video's options).
QUICK_MODE_CONFORM = {
    "max_duration_ms": BASIC_VIDEO.max_duration_ms,
    "min_side": BASIC_VIDEO.min_side_px,
    "max_long_side": BASIC_VIDEO.max_side_px,
    "max_side": BASIC_VIDEO.max_side_px,
}


# --- Bringing files in ----------------------------------------------------------------------


def upload_video(
    *, project: Project, user: AbstractBaseUser, uploaded: UploadedFile
) -> SourceVideo:
    """Store an uploaded video and schedule its probe; the row is saved only with its file."""
    return _accept_upload(SourceVideo(project=project), user=user, uploaded=uploaded)


def upload_audio(
    *,
    project: Project,
    user: AbstractBaseUser,
    uploaded: UploadedFile,
    source: str = AudioSource.UPLOAD,
) -> AudioClip:
    clip = AudioClip(project=project, source=source)
    return _accept_upload(clip, user=user, uploaded=uploaded)


def _accept_upload(row, *, user: AbstractBaseUser, uploaded: UploadedFile):
    """Fill the row from the upload, save it with its file, audit it, and schedule its probe."""
    kind = "video" if isinstance(row, SourceVideo) else "audio"
    row.original_name = display_name(uploaded.name, kind)
    row.size_bytes = uploaded.size
    row.sha256 = getattr(uploaded, "sha256", "")
    row.created_by = user
    row.status = MediaStatus.UPLOADED
    _save_with_file(row, uploaded)
    audit.record(user, AuditVerb.UPLOADED, row.project, **{kind: row})
    probe_task = background.probe_video if kind == "video" else background.probe_audio
    probe_task.delay_on_commit(row.pk)
    return row


def import_from_url(
    *, project: Project, user: AbstractBaseUser, url: str, kind: str
) -> SourceVideo | AudioClip:
    """Create a row in "checking" state; the worker fetches the file safely, then probes it."""
    name = display_name(unquote(Path(urlparse(url).path).name), f"imported {kind}")
    if kind == "video":
        row = SourceVideo(project=project, original_name=name, created_by=user)
    else:
        row = AudioClip(
            project=project, source=AudioSource.URL, original_name=name, created_by=user
        )
    row.status = MediaStatus.PROBING
    row.media_info = {"source_url": url}
    with transaction.atomic():
        row.save()
        audit.record(
            user,
            AuditVerb.IMPORTED,
            project,
            video=row if kind == "video" else None,
            audio=row if kind != "video" else None,
            note=url[:500],
        )
        background.import_media.delay_on_commit(kind, row.pk)
    return row


@transaction.atomic  # the fetch starts on commit, once the id is kept (it allows the host)
def import_from_kling(
    *, project: Project, user: AbstractBaseUser, url: str, video_id: str
) -> SourceVideo:
    """A video made on Kling (text-to-video, image-to-video), as Kling shows it: its address
    and its id. The file is fetched like any import (for the timeline); the id is kept so that
    Kling is sent the id, not our copy, while it accepts it (30 days; we count from now, and
    fall back to our copy if Kling refuses the id sooner)."""
    row = import_from_url(project=project, user=user, url=url, kind="video")
    row.kling_video_id = video_id
    row.kling_video_expires_at = timezone.now() + timedelta(seconds=limits.VIDEO_ID_TTL_S)
    row.save(update_fields=["kling_video_id", "kling_video_expires_at"])
    return row


@transaction.atomic
def continue_from_result(task: LipSyncTask, *, user: AbstractBaseUser) -> SourceVideo:
    """A finished task's result becomes a new source video of its project, keeping the engine's
    video id (Kling accepts it for 30 days from the result)."""
    if not task.can_continue:
        raise ServiceError("Only a finished task's result can become a new video.")
    video = SourceVideo(
        project=task.project,
        original_name=display_name(f"Result of {task.display_name}", "result.mp4"),
        created_by=user,
        status=MediaStatus.UPLOADED,
        size_bytes=task.result_file.size,
    )
    keep_engine_video_id(video, task)
    with local_path(task.result_file) as path:
        store_path(video.file, video.original_name, path)
        video.sha256 = sha256_of(path)
    try:
        video.save()
    except Exception:
        delete_quietly(video.file)
        raise
    audit.record(user, AuditVerb.UPLOADED, task.project, video=video, note="a task's result")
    background.probe_video.delay_on_commit(video.pk)
    return video


def keep_engine_video_id(video: SourceVideo, task: LipSyncTask) -> None:
    """A copy of a task's result keeps the engine's id of that result (not saved here): Kling
    takes it instead of our file for 30 days from the result, and need not download it."""
    if task.result_video_id and engines.is_remote(task.engine):
        video.kling_video_id = task.result_video_id
        made_at = task.finished_at or timezone.now()
        video.kling_video_expires_at = made_at + timedelta(seconds=limits.VIDEO_ID_TTL_S)


def _save_with_file(row: SourceVideo | AudioClip, uploaded: UploadedFile) -> None:
    """Save the file and the row together: if either fails, neither is left behind.

    The file goes in under a neutral name, as plain bytes: neither its name nor the content
    type the browser claimed is kept (on S3 that type would be served back).
    """
    try:
        with transaction.atomic():
            row.file.save(row.original_name, File(uploaded.file), save=False)
            row.save()
    except Exception:
        delete_quietly(row.file)
        raise


# --- On the worker --------------------------------------------------------------------------


def fetch_imported(kind: str, pk: int) -> None:
    """Download an imported URL through the safe fetcher, then probe it like an upload."""
    model = SourceVideo if kind == "video" else AudioClip
    row = model.objects.filter(pk=pk, status=MediaStatus.PROBING, file="").first()
    if row is None:
        return  # already fetched, or rejected
    cap = VIDEO_UPLOAD_CAP if kind == "video" else AUDIO_UPLOAD_CAP
    with tempfile.TemporaryDirectory() as folder:
        target = Path(folder) / "download"
        # A Kling-made video comes from Kling's own storage: the simulator's, on loopback,
        # when LIPSYNC_FETCH_ALLOWED_PRIVATE_HOSTS allows it; other imports never go there.
        allowed = (
            settings.LIPSYNC_FETCH_ALLOWED_PRIVATE_HOSTS
            if getattr(row, "kling_video_id", "")
            else frozenset()
        )
        try:
            result = fetch_to_file(
                row.media_info["source_url"],
                target,
                max_bytes=cap,
                total_timeout_s=URL_IMPORT_TIMEOUT_S,
                allowed_private_hosts=allowed,
            )
        except FetchError as error:
            _reject(row, str(error))
            return
        with transaction.atomic():
            locked = model.objects.select_for_update().get(pk=pk)
            if locked.file:
                return
            store_path(locked.file, locked.original_name, target)
            locked.size_bytes = result.size
            locked.sha256 = sha256_of(target)
            locked.status = MediaStatus.UPLOADED
            locked.save()
    if kind == "video":
        probe_video(pk)
    else:
        probe_audio(pk)


def probe_video(pk: int) -> None:
    """Probe an uploaded video and make its poster, and mark it ready; then start the face
    search and make the thumbnail strip and the waveform while it runs.

    The face search needs only the probed file: it starts as soon as the video is ready, on
    another worker, and the page shows the faces as soon as they are found.
    """
    video = _claim_for_probe(SourceVideo, pk)
    if video is None:
        # A redelivery after a worker was lost between "ready" and the pictures.
        video = SourceVideo.objects.filter(
            pk=pk, status=MediaStatus.READY, media_info__pictures=PICTURES_PENDING
        ).first()
    elif (video := _probe_until_ready(video)) is not None and not video.problems:
        faces.request_identification(video)
    if video is not None:
        _make_timeline_pictures(video)


def _probe_until_ready(video: SourceVideo) -> SourceVideo | None:
    """Probe the file, turn it upright if it is stored on its side, and make its poster;
    store what was found and mark the video ready (its strip and waveform still to come).
    None when it was rejected or finished elsewhere."""
    try:
        with local_path(video.file) as path, tempfile.TemporaryDirectory() as folder:
            with steps.timed(video.pk, "probe"):
                info = probe.probe_media(path, timeout_s=PROBE_TIMEOUT_S, expect="video")
            if info.kind != "video":
                raise MediaError(
                    "This file has sound but no pictures. Add it as an audio clip instead."
                )
            changes: list[str] = []
            if info.rotation:
                with steps.timed(video.pk, "upright"):
                    upright = _turn_upright(path, Path(folder) / "upright.mp4", info)
                path, info, changes = Path(folder) / "upright.mp4", upright.output, upright.changes
            with steps.timed(video.pk, "poster"):
                poster = pictures.make_poster(path)
            kept_as = _keep_as_probed(video, path, info)
    except MediaError as error:
        _reject(video, str(error))
        return None
    problems = checks.check_video(info)

    def fill(locked: SourceVideo) -> None:
        store_bytes(locked.poster, "poster.jpg", poster)
        locked.duration_ms = info.duration_ms
        locked.width, locked.height, locked.fps = info.width, info.height, info.fps
        locked.has_audio = info.has_audio
        locked.media_info = {
            **locked.media_info,
            **_facts(info, problems),
            "pictures": PICTURES_PENDING,
        }
        if changes:  # the stored file is our upright copy, not the upload
            # sha256 still names the upload: the same upload makes the same copy, and
            # `manage.py dub` finds a video by its upload's digest.
            locked.size_bytes = info.size_bytes
            locked.media_info["changes"] = [*locked.media_info.get("changes", []), *changes]

    return _finish_probe(video, kept_as, fill)


def _turn_upright(path: Path, target: Path, info: probe.MediaInfo) -> conform.ConformReport:
    """conform.turn_upright, with the worker's time limit said in words: a row left
    "checking" for ever would be worse than a refusal the person can act on."""
    try:
        return conform.turn_upright(path, target, info)
    except SoftTimeLimitExceeded:
        raise MediaError(
            "This video is stored on its side, and turning it upright took longer than we "
            "allow. Export it upright at 1080p (most phones' editors can) and upload it again."
        ) from None


def _make_timeline_pictures(video: SourceVideo) -> None:
    """The timeline's thumbnail strip and waveform of a ready video; a file that cannot give
    them is rejected, as the probe would have done."""
    try:
        with local_path(video.file) as path:
            with steps.timed(video.pk, "strip"):
                strip = pictures.make_thumbnail_strip(path, count=THUMBNAIL_STRIP_TILES)
            with steps.timed(video.pk, "waveform"):
                peaks = waveform.waveform_peaks(path) if video.has_audio else {}
    except MediaError as error:
        _reject(video, str(error))
        return
    with transaction.atomic():
        locked = SourceVideo.objects.select_for_update().get(pk=video.pk)
        if not locked.is_making_pictures:
            return  # another delivery stored them first
        store_bytes(locked.thumbnail_strip, "strip.jpg", strip.jpeg)
        locked.strip_tile_count = strip.count
        strip_facts = {"tile_width": strip.tile_width, "tile_height": strip.tile_height}
        locked.media_info = {
            **{key: value for key, value in locked.media_info.items() if key != "pictures"},
            "strip": {**strip_facts, "times_ms": list(strip.times_ms)},
        }
        locked.waveform = peaks
        locked.save()


def probe_audio(pk: int) -> None:
    clip = _claim_for_probe(AudioClip, pk)
    if clip is None:
        return
    try:
        with local_path(clip.file) as path:
            info = probe.probe_media(path, timeout_s=PROBE_TIMEOUT_S, expect="audio")
            if not info.has_audio:
                raise MediaError("This file has no sound in it. Choose a file with speech.")
            peaks = waveform.waveform_peaks(path)
            problems = checks.check_audio(info)
            to_convert = _is_unconverted_recording(clip, problems)
            kept_as = None if to_convert else _keep_as_probed(clip, path, info)
    except MediaError as error:
        _reject(clip, str(error))
        return
    if kept_as is None:
        _convert_recording(clip)
        return

    def fill(locked: AudioClip) -> None:
        locked.duration_ms = info.duration_ms
        locked.media_info = {**locked.media_info, **_facts(info, problems)}
        locked.waveform = peaks

    _finish_probe(clip, kept_as, fill)


def _keep_as_probed(row: SourceVideo | AudioClip, path: Path, info: probe.MediaInfo) -> str:
    """Store the bytes the probe read under a name that says what they are (`.mp4`, `.m4a` …),
    with the probe's content type; the row still points at its unprobed name."""
    name = probed_name(row.file.name, info.file_extension)
    return store_as(row.file, path, name, info.content_type)


def _finish_probe(
    row: SourceVideo | AudioClip, kept_as: str, fill: Callable[[SourceVideo | AudioClip], None]
) -> SourceVideo | AudioClip | None:
    """In one transaction, `fill` the locked row with what the probe found, point it at its
    probed copy and mark it ready; then delete the unprobed object.

    A second delivery that finished first keeps its own copy and this one's is deleted; if
    the transaction fails, the copy is deleted and the row still names the unprobed object.
    """
    storage = row.file.storage
    try:
        with transaction.atomic():
            locked = type(row).objects.select_for_update().get(pk=row.pk)
            if locked.status != MediaStatus.PROBING:
                delete_names_quietly(storage, kept_as)
                return None
            unprobed = locked.file.name
            fill(locked)
            locked.file.name = kept_as
            locked.status = MediaStatus.READY
            locked.save()
    except Exception:
        delete_names_quietly(storage, kept_as)
        raise
    delete_names_quietly(storage, unprobed)
    return locked


def _is_unconverted_recording(clip: AudioClip, problems: list[checks.LimitProblem]) -> bool:
    """Browsers record WebM/Opus, which the engine does not take: such a recording is
    converted at once rather than the person asked to press "fix it for me" for it."""
    converted = bool(clip.media_info.get("changes"))
    fixable = bool(problems) and all(problem.fix for problem in problems)
    return clip.source == AudioSource.RECORDING and not converted and fixable


def _convert_recording(clip: AudioClip) -> None:
    """Replace a recording's file with an AAC copy that meets the limits, then probe that."""
    with tempfile.TemporaryDirectory() as folder:
        target = Path(folder) / "recording.m4a"
        try:
            with local_path(clip.file) as source:
                report = conform.conform_audio(source, target)
        except MediaError as error:
            _reject(clip, str(error))
            return
        old_file = clip.file.name
        with transaction.atomic():
            locked = AudioClip.objects.select_for_update().get(pk=clip.pk)
            if locked.status != MediaStatus.PROBING or locked.file.name != old_file:
                return
            store_path(locked.file, "recording.m4a", target)
            locked.size_bytes = target.stat().st_size
            locked.sha256 = sha256_of(target)
            locked.original_name = display_name(
                Path(locked.original_name).stem + ".m4a", "recording.m4a"
            )
            locked.media_info = {**locked.media_info, "changes": list(report.changes)}
            locked.status = MediaStatus.UPLOADED
            locked.save()
        clip.file.storage.delete(old_file)
    probe_audio(clip.pk)


def _claim_for_probe(model: type[SourceVideo] | type[AudioClip], pk: int):
    """Take the row for probing. A redelivered task (worker lost) may take it again."""
    claimed = model.objects.filter(
        pk=pk, status__in=[MediaStatus.UPLOADED, MediaStatus.PROBING]
    ).exclude(file="")
    if claimed.update(status=MediaStatus.PROBING) != 1:
        return None
    return model.objects.get(pk=pk)


def _reject(row: SourceVideo | AudioClip, reason: str) -> None:
    """Mark a file we cannot use as rejected, with the reason, and delete what we stored.

    A row whose file another delivery of the probe has moved to its probed name meanwhile is
    left alone: this delivery failed only because it read the old name too late.
    """
    with transaction.atomic():
        locked = type(row).objects.select_for_update().get(pk=row.pk)
        if locked.is_rejected or locked.file.name != row.file.name:
            log.info("%s %s settled meanwhile; not rejected", type(row).__name__, row.pk)
            return
        stored = _stored_names(locked)
        doomed = [getattr(locked, field) for field in stored]
        locked.status = MediaStatus.REJECTED
        locked.rejection_reason = reason
        for field in stored:
            setattr(locked, field, "")
        if isinstance(locked, SourceVideo):
            _stop_preparing(locked)
        locked.save()
    # After the row no longer points at them (a failed save keeps both row and files).
    delete_quietly(*doomed)
    log.info("rejected %s %s: %s", type(row).__name__, row.pk, reason)


def _stop_preparing(video: SourceVideo) -> None:
    """A rejected video has no pictures to wait for, nor a face search to wait for (one
    started before its strip failed finds the video no longer ready)."""
    video.media_info = {key: value for key, value in video.media_info.items() if key != "pictures"}
    if video.is_searching_faces:
        video.face_search_state = FaceSearchState.NOT_STARTED


def _stored_names(row: SourceVideo | AudioClip) -> list[str]:
    fields = ["file", "poster", "thumbnail_strip"] if isinstance(row, SourceVideo) else ["file"]
    return [field for field in fields if getattr(row, field)]


def _facts(info: probe.MediaInfo, problems: list[checks.LimitProblem]) -> dict:
    return {
        "probe": info.to_dict(),
        "problems": [{"code": p.code, "message": p.message, "fix": p.fix} for p in problems],
    }


# --- "Fix it for me" ------------------------------------------------------------------------


def request_video_fix(
    video: SourceVideo,
    *,
    user: AbstractBaseUser,
    trim_start_ms: int = 0,
    for_quick_mode: bool = False,
) -> SourceVideo:
    """Create the conforming copy's row now ("checking…") and make the copy on the worker.

    `for_quick_mode`: a copy within quick mode's tighter limits (10 s, sides 720–1920 px).
    """
    if for_quick_mode:
        _require_fixable_for_quick_mode(video)
    else:
        _require_fixable(video, "video")
    latest_start = max(0, (video.duration_ms or 0) - ADVANCED_VIDEO.min_duration_ms)
    copy = SourceVideo(project=video.project, created_by=user)
    return _start_fix(
        video,
        copy,
        user=user,
        suffix="mp4",
        trim_start_ms=min(trim_start_ms, latest_start),
        for_quick_mode=for_quick_mode,
    )


def request_audio_fix(
    clip: AudioClip, *, user: AbstractBaseUser, trim_start_ms: int = 0
) -> AudioClip:
    _require_fixable(clip, "clip")
    copy = AudioClip(project=clip.project, source=clip.source, created_by=user)
    return _start_fix(clip, copy, user=user, suffix="m4a", trim_start_ms=trim_start_ms)


def _require_fixable_for_quick_mode(video: SourceVideo) -> None:
    if video.fits_quick_mode:
        raise ServiceError("Quick mode can already take this video; there is nothing to fix.")
    if not video.quick_mode_fixable:
        problem = next(p for p in video.quick_mode_problems if not p["fix"])
        raise ServiceError(f"We cannot make a copy for quick mode. {problem['message']}")


def _require_fixable(row: SourceVideo | AudioClip, noun: str) -> None:
    if row.status != MediaStatus.READY or not row.problems:
        raise ServiceError(
            f"This {noun} already meets the engine's limits; there is nothing to fix."
        )
    if not row.fixable:
        raise ServiceError(f"We cannot fix this {noun} automatically. {row.problems[0]['message']}")


def _start_fix(
    original,
    copy,
    *,
    user: AbstractBaseUser,
    suffix: str,
    trim_start_ms: int,
    for_quick_mode: bool = False,
):
    """Save the copy's row in "checking" state and enqueue the conversion after the commit."""
    is_video = isinstance(original, SourceVideo)
    stem = Path(original.original_name).stem or ("video" if is_video else "audio")
    label = "for quick mode" if for_quick_mode else "fixed"
    copy.original_name = display_name(f"{stem} ({label}).{suffix}", f"{label}.{suffix}")
    copy.status = MediaStatus.PROBING
    copy.media_info = {"derived_from": original.pk, "trim_start_ms": max(0, trim_start_ms)}
    if for_quick_mode:
        copy.media_info["for_quick_mode"] = True
    with transaction.atomic():
        copy.save()
        audit.record(
            user,
            AuditVerb.FIXED,
            original.project,
            video=original if is_video else None,
            audio=None if is_video else original,
            note="a copy for quick mode" if for_quick_mode else "",
        )
        convert = background.conform_video if is_video else background.conform_audio
        convert.delay_on_commit(copy.pk)
    return copy


def conform_video(pk: int) -> None:
    _conform(SourceVideo, pk, conform.conform_video, "fixed.mp4", probe_video)


def conform_audio(pk: int) -> None:
    _conform(AudioClip, pk, conform.conform_audio, "fixed.m4a", probe_audio)


def _conform(model, pk: int, convert, file_name: str, probe) -> None:
    """Make the conforming copy from the original on the worker, then probe it like an upload."""
    copy = model.objects.filter(pk=pk, status=MediaStatus.PROBING, file="").first()
    if copy is None:
        return
    original = model.objects.get(pk=copy.media_info["derived_from"])
    limits = QUICK_MODE_CONFORM if copy.media_info.get("for_quick_mode") else {}
    with tempfile.TemporaryDirectory() as folder:
        target = Path(folder) / file_name
        try:
            with local_path(original.file) as source:
                start_ms = copy.media_info["trim_start_ms"]
                report = convert(source, target, trim_start_ms=start_ms, **limits)
        except MediaError as error:
            _reject(copy, str(error))
            return
        _store_conformed(copy, target, report)
    probe(pk)


def _store_conformed(
    row: SourceVideo | AudioClip, path: Path, report: conform.ConformReport
) -> None:
    with transaction.atomic():
        locked = type(row).objects.select_for_update().get(pk=row.pk)
        if locked.file:
            return
        store_path(locked.file, locked.original_name, path)
        locked.size_bytes = path.stat().st_size
        locked.media_info = {**locked.media_info, "changes": list(report.changes)}
        locked.status = MediaStatus.UPLOADED
        locked.save()


def upload_cap_for(kind: str) -> int:
    return VIDEO_UPLOAD_CAP if kind == "video" else AUDIO_UPLOAD_CAP


def upload_limits_text(kind: str) -> str:
    """What an upload panel says the engine takes, from the limits themselves."""
    if kind == "video":
        video = ADVANCED_VIDEO
        return (
            f"MP4 or MOV, {video.min_seconds}–{video.max_seconds} s long, up to "
            f"{video.max_megabytes} MB, each side {video.min_side_px}–{video.max_side_px} px. "
            "Other formats, longer or larger videos can be converted for you after upload. "
            f"A video to dub may last up to {DUB_SOURCE.max_duration_ms // 60_000} minutes and "
            f"weigh up to {DUB_SOURCE.max_bytes // MB // 1024} GB."
        )
    return (
        f"MP3, WAV, M4A or AAC, {AUDIO.min_seconds}–{AUDIO.max_seconds} s long, up to "
        f"{AUDIO.max_megabytes} MB. A larger WAV (up to {AUDIO_UPLOAD_CAP // MB} MB) can be "
        "converted for you."
    )


# --- Speech from text ------------------------------------------------------------------------


def create_tts_clip(*, project: Project, user: AbstractBaseUser, data: dict) -> AudioClip:
    """An audio clip spoken from typed text by the engine's voice (speech.py says which)."""
    clip = AudioClip(
        project=project,
        source=AudioSource.TTS,
        tts_text=data["text"],
        voice_id=data["voice_id"],
        voice_language=data["voice_language"],
        voice_speed=data["voice_speed"],
        original_name=display_name(f"“{data['text'][:40]}”.wav", "speech.wav"),
        status=MediaStatus.PROBING,
        created_by=user,
    )
    with transaction.atomic():
        clip.save()
        audit.record(user, AuditVerb.UPLOADED, project, audio=clip, note="text to speech")
        background.synthesize_clip.delay_on_commit(clip.pk)
    return clip


def synthesize_clip(pk: int) -> None:
    """Speak the clip's text on the worker (Kling's voice on Kling, else the offline one),
    keep the audio and Kling's audio_id, then probe it like any upload."""
    clip = AudioClip.objects.filter(pk=pk, status=MediaStatus.PROBING, file="").first()
    if clip is None:
        return
    with tempfile.TemporaryDirectory() as folder:
        try:
            spoken = speech.speak(
                Path(folder),
                text=clip.tts_text,
                voice_id=clip.voice_id,
                language=clip.voice_language or "en",
                speed=float(clip.voice_speed or 1),
                clip=clip,
            )
        except speech.SpeechError as error:
            _reject(clip, str(error))
            return
        with transaction.atomic():
            locked = AudioClip.objects.select_for_update().get(pk=pk)
            if locked.file:
                return
            store_path(locked.file, spoken.path.name, spoken.path)
            locked.size_bytes = spoken.path.stat().st_size
            locked.sha256 = sha256_of(spoken.path)
            locked.kling_audio_id = spoken.audio_id
            locked.kling_audio_expires_at = spoken.expires_at
            locked.status = MediaStatus.UPLOADED
            locked.save()
    probe_audio(pk)


# --- Renaming and deleting --------------------------------------------------------------------


@transaction.atomic
def rename_media(row: SourceVideo | AudioClip, *, name: str, by: AbstractBaseUser) -> None:
    """Give a video or audio clip the name people see (its stored file keeps its own)."""
    old = row.original_name
    row.original_name = display_name(name, old)
    if row.original_name == old:
        return
    row.save(update_fields=["original_name"])
    audit.record(by, AuditVerb.RENAMED, row.project, **_audit_link(row), note=f"“{old}” → “{row}”")


@transaction.atomic
def delete_media(row: SourceVideo | AudioClip, *, by: AbstractBaseUser) -> None:
    """Delete a video (with its pictures and faces) or an audio clip, and then their files.

    The audit trail keeps who deleted what by name: its link to the row becomes empty.
    """
    locked = type(row).objects.select_for_update().get(pk=row.pk)
    if locked.delete_refusal:
        raise ServiceError(f"“{locked}” cannot be deleted now. {locked.delete_refusal}")
    files = stored_files(locked)
    noun = "video" if isinstance(locked, SourceVideo) else "audio clip"
    audit.record(
        by, AuditVerb.DELETED, locked.project, **_audit_link(locked), note=f"the {noun} “{locked}”"
    )
    locked.delete()
    delete_when_committed(*files)


def stored_files(row: SourceVideo | AudioClip) -> list:
    """The files kept for a video (with its pictures and its faces' thumbnails) or a clip."""
    files = [getattr(row, field) for field in _stored_names(row)]
    if isinstance(row, SourceVideo):
        files += [face.thumbnail for face in DetectedFace.objects.filter(video=row)]
    return [file for file in files if file]


def _audit_link(row: SourceVideo | AudioClip) -> dict:
    return {"video": row} if isinstance(row, SourceVideo) else {"audio": row}


# --- Captions ---------------------------------------------------------------------------------


def attach_captions(clip: AudioClip, *, data: bytes, by: AbstractBaseUser) -> int:
    """Keep a WebVTT file's captions with an uploaded clip; the number of captions kept.

    Raises ServiceError, in plain words, for a file that is not usable WebVTT.
    """
    if clip.source == AudioSource.TTS:
        raise ServiceError("Typed speech has its captions already: its own words.")
    try:
        cues = captions.parse_vtt(data)
    except captions.CaptionsError as error:
        raise ServiceError(str(error)) from None
    clip.captions_vtt = captions.write_vtt(cues)
    clip.save(update_fields=["captions_vtt"])
    return len(cues)


# --- A dub's parts ---------------------------------------------------------------------------


def add_dub_part(
    dub, path: Path, *, kind: str, name: str, result_of: LipSyncTask | None = None
) -> SourceVideo | AudioClip:
    """Keep a file made for one of a dub's jobs (a window of its video, a job's result, a
    job's clip) as a ready row that the pipeline sends like any other, never listed. A job's
    result (`result_of` its task) keeps the engine's id of it, so the next job in the chain
    is identified by that id, as the contract allows.

    It is probed here; its fitness for the engine was made sure of when it was made."""
    info = probe.probe_media(path, timeout_s=PROBE_TIMEOUT_S, expect=kind)
    if kind == "video":
        row: SourceVideo | AudioClip = SourceVideo(
            project=dub.project,
            width=info.width,
            height=info.height,
            fps=info.fps,
            has_audio=info.has_audio,
            face_search_state=FaceSearchState.RUNNING,  # searched at once by the job
        )
    else:
        row = AudioClip(project=dub.project, source=AudioSource.UPLOAD)
    if result_of is not None:
        keep_engine_video_id(row, result_of)
    row.made_for_dub = dub
    row.original_name = name
    row.size_bytes = path.stat().st_size
    row.sha256 = sha256_of(path)
    row.duration_ms = info.duration_ms
    row.media_info = _facts(info, [])
    row.status = MediaStatus.READY
    row.created_by = dub.created_by
    with path.open("rb") as handle, transaction.atomic():
        row.file.save(f"part.{info.file_extension}", File(handle), save=False)
        try:
            row.save()
        except Exception:
            delete_quietly(row.file)
            raise
    return row
