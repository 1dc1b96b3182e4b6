"""Videos and audio clips: upload, URL import, probing on the worker, and "fix it for me".

A file is probed by content on a Celery worker. A file we cannot read is rejected: its row keeps
the reason for the person and its file is deleted. A readable file that breaks an engine limit
is kept, with each problem and the conversion that can cure it, so that "fix it for me" can make
a conforming copy from it.
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path
from urllib.parse import unquote, urlparse

from django.contrib.auth.models import AbstractBaseUser
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction

from projects import media
from projects.engines.limits import ADVANCED_VIDEO, MB
from projects.fetch import FetchError, fetch_to_file
from projects.models import AudioClip, AudioSource, AuditVerb, MediaStatus, Project, SourceVideo
from projects.services import audit
from projects.services.errors import ServiceError
from projects.services.storage import (
    delete_quietly,
    display_name,
    local_path,
    sha256_of,
    store_bytes,
    store_path,
)

log = logging.getLogger(__name__)

VIDEO_UPLOAD_CAP = ADVANCED_VIDEO.max_bytes
# Above the engine's 5 MB: a long WAV can still be cured by re-encoding it to AAC.
AUDIO_UPLOAD_CAP = 50 * MB
URL_IMPORT_TIMEOUT_S = 120
PROBE_TIMEOUT_S = 20
THUMBNAIL_STRIP_TILES = 12


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
    _enqueue_after_commit(f"probe_{kind}", row.pk)
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
        _enqueue_after_commit("import_media", kind, row.pk)
    return row


def _save_with_file(row: SourceVideo | AudioClip, uploaded: UploadedFile) -> None:
    """Save the file and the row together: if either fails, neither is left behind."""
    try:
        with transaction.atomic():
            row.file.save(row.original_name, uploaded, save=False)
            row.save()
    except Exception:
        delete_quietly(row.file)
        raise


def _enqueue_after_commit(task_name: str, *args: object) -> None:
    from projects import tasks  # tasks import services: import late to avoid a cycle

    task = getattr(tasks, task_name)
    transaction.on_commit(lambda: task.delay(*args))


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
        try:
            result = fetch_to_file(
                row.media_info["source_url"],
                target,
                max_bytes=cap,
                total_timeout_s=URL_IMPORT_TIMEOUT_S,
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
    """Probe an uploaded video; make its poster, thumbnail strip and waveform; mark it ready."""
    video = _claim_for_probe(SourceVideo, pk)
    if video is None:
        return
    try:
        with local_path(video.file) as path:
            info = media.probe_media(path, timeout_s=PROBE_TIMEOUT_S, expect="video")
            if info.kind != "video":
                raise media.MediaError(
                    "This file has sound but no pictures. Add it as an audio clip instead."
                )
            poster = media.make_poster(path)
            strip = media.make_thumbnail_strip(path, count=THUMBNAIL_STRIP_TILES)
            peaks = media.waveform_peaks(path) if info.has_audio else {}
    except media.MediaError as error:
        _reject(video, str(error))
        return
    problems = media.check_video(info)
    with transaction.atomic():
        locked = SourceVideo.objects.select_for_update().get(pk=pk)
        if locked.status != MediaStatus.PROBING:
            return  # a second delivery of this task finished first
        store_bytes(locked.poster, "poster.jpg", poster)
        store_bytes(locked.thumbnail_strip, "strip.jpg", strip.jpeg)
        locked.strip_tile_count = strip.count
        strip_facts = {"tile_width": strip.tile_width, "tile_height": strip.tile_height}
        locked.duration_ms = info.duration_ms
        locked.width, locked.height, locked.fps = info.width, info.height, info.fps
        locked.has_audio = info.has_audio
        locked.media_info = {
            **locked.media_info,
            **_facts(info, problems),
            "strip": {**strip_facts, "times_ms": list(strip.times_ms)},
        }
        locked.waveform = peaks
        locked.status = MediaStatus.READY
        locked.save()
    if not problems:
        from projects.services.faces import request_identification

        request_identification(locked)


def probe_audio(pk: int) -> None:
    clip = _claim_for_probe(AudioClip, pk)
    if clip is None:
        return
    try:
        with local_path(clip.file) as path:
            info = media.probe_media(path, timeout_s=PROBE_TIMEOUT_S, expect="audio")
            if not info.has_audio:
                raise media.MediaError("This file has no sound in it. Choose a file with speech.")
            peaks = media.waveform_peaks(path)
    except media.MediaError as error:
        _reject(clip, str(error))
        return
    problems = media.check_audio(info)
    converted = bool(clip.media_info.get("changes"))
    if clip.source == AudioSource.RECORDING and not converted and _all_fixable(problems):
        # Browsers record WebM/Opus, which the engine does not take: convert it at once
        # rather than ask the person to press "fix it for me" for their own recording.
        _convert_recording(clip)
        return
    with transaction.atomic():
        locked = AudioClip.objects.select_for_update().get(pk=pk)
        if locked.status != MediaStatus.PROBING:
            return
        locked.duration_ms = info.duration_ms
        locked.media_info = {**locked.media_info, **_facts(info, problems)}
        locked.waveform = peaks
        locked.status = MediaStatus.READY
        locked.save()


def _all_fixable(problems: list[media.LimitProblem]) -> bool:
    return bool(problems) and all(problem.fix for problem in problems)


def _convert_recording(clip: AudioClip) -> None:
    """Replace a recording's file with an AAC copy that meets the limits, then probe that."""
    with tempfile.TemporaryDirectory() as folder:
        target = Path(folder) / "recording.m4a"
        try:
            with local_path(clip.file) as source:
                report = media.conform_audio(source, target)
        except media.MediaError as error:
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
    """Mark a file we cannot use as rejected, with the reason, and delete what we stored."""
    with transaction.atomic():
        locked = type(row).objects.select_for_update().get(pk=row.pk)
        stored = _stored_names(locked)
        locked.status = MediaStatus.REJECTED
        locked.rejection_reason = reason
        for field in stored:
            setattr(locked, field, "")
        locked.save()
    # After the row no longer points at them (a failed save keeps both row and files).
    delete_quietly(*(getattr(row, field) for field in stored))
    log.info("rejected %s %s: %s", type(row).__name__, row.pk, reason)


def _stored_names(row: SourceVideo | AudioClip) -> list[str]:
    fields = ["file", "poster", "thumbnail_strip"] if isinstance(row, SourceVideo) else ["file"]
    return [field for field in fields if getattr(row, field)]


def _facts(info: media.MediaInfo, problems: list[media.LimitProblem]) -> dict:
    return {
        "probe": info.to_dict(),
        "problems": [{"code": p.code, "message": p.message, "fix": p.fix} for p in problems],
    }


# --- "Fix it for me" ------------------------------------------------------------------------


def request_video_fix(
    video: SourceVideo, *, user: AbstractBaseUser, trim_start_ms: int = 0
) -> SourceVideo:
    """Create the conforming copy's row now ("checking…") and make the copy on the worker."""
    _require_fixable(video, "video")
    latest_start = max(0, (video.duration_ms or 0) - ADVANCED_VIDEO.min_duration_ms)
    copy = SourceVideo(project=video.project, created_by=user)
    return _start_fix(
        video, copy, user=user, suffix="mp4", trim_start_ms=min(trim_start_ms, latest_start)
    )


def request_audio_fix(
    clip: AudioClip, *, user: AbstractBaseUser, trim_start_ms: int = 0
) -> AudioClip:
    _require_fixable(clip, "clip")
    copy = AudioClip(project=clip.project, source=clip.source, created_by=user)
    return _start_fix(clip, copy, user=user, suffix="m4a", trim_start_ms=trim_start_ms)


def _require_fixable(row: SourceVideo | AudioClip, noun: str) -> None:
    if row.status != MediaStatus.READY or not row.problems:
        raise ServiceError(
            f"This {noun} already meets the engine's limits; there is nothing to fix."
        )
    if not row.fixable:
        raise ServiceError(f"We cannot fix this {noun} automatically. {row.problems[0]['message']}")


def _start_fix(original, copy, *, user: AbstractBaseUser, suffix: str, trim_start_ms: int):
    """Save the copy's row in "checking" state and enqueue the conversion after the commit."""
    is_video = isinstance(original, SourceVideo)
    stem = Path(original.original_name).stem or ("video" if is_video else "audio")
    copy.original_name = display_name(f"{stem} (fixed).{suffix}", f"fixed.{suffix}")
    copy.status = MediaStatus.PROBING
    copy.media_info = {"derived_from": original.pk, "trim_start_ms": max(0, trim_start_ms)}
    with transaction.atomic():
        copy.save()
        audit.record(
            user,
            AuditVerb.FIXED,
            original.project,
            video=original if is_video else None,
            audio=None if is_video else original,
        )
        _enqueue_after_commit("conform_video" if is_video else "conform_audio", copy.pk)
    return copy


def conform_video(pk: int) -> None:
    _conform(SourceVideo, pk, media.conform_video, "fixed.mp4", probe_video)


def conform_audio(pk: int) -> None:
    _conform(AudioClip, pk, media.conform_audio, "fixed.m4a", probe_audio)


def _conform(model, pk: int, convert, file_name: str, probe) -> None:
    """Make the conforming copy from the original on the worker, then probe it like an upload."""
    copy = model.objects.filter(pk=pk, status=MediaStatus.PROBING, file="").first()
    if copy is None:
        return
    original = model.objects.get(pk=copy.media_info["derived_from"])
    with tempfile.TemporaryDirectory() as folder:
        target = Path(folder) / file_name
        try:
            with local_path(original.file) as source:
                report = convert(source, target, trim_start_ms=copy.media_info["trim_start_ms"])
        except media.MediaError as error:
            _reject(copy, str(error))
            return
        _store_conformed(copy, target, report)
    probe(pk)


def _store_conformed(row: SourceVideo | AudioClip, path: Path, report: media.ConformReport) -> None:
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


# --- Speech from text ------------------------------------------------------------------------


def create_tts_clip(*, project: Project, user: AbstractBaseUser, data: dict) -> AudioClip:
    """An audio clip spoken from typed text by the offline voice that matches the engine's."""
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
        _enqueue_after_commit("synthesize_clip", clip.pk)
    return clip


def synthesize_clip(pk: int) -> None:
    """Speak the clip's text to a WAV on the worker, then probe it like any upload."""
    from projects.engines.local.tts import synthesize
    from projects.engines.voices import UnknownVoiceError

    clip = AudioClip.objects.filter(pk=pk, status=MediaStatus.PROBING, file="").first()
    if clip is None:
        return
    with tempfile.TemporaryDirectory() as folder:
        target = Path(folder) / "speech.wav"
        try:
            synthesize(
                clip.tts_text,
                clip.voice_id,
                clip.voice_language or "en",
                float(clip.voice_speed or 1),
                target,
            )
        except (UnknownVoiceError, ValueError) as error:
            _reject(clip, str(error))
            return
        with transaction.atomic():
            locked = AudioClip.objects.select_for_update().get(pk=pk)
            if locked.file:
                return
            store_path(locked.file, "speech.wav", target)
            locked.size_bytes = target.stat().st_size
            locked.sha256 = sha256_of(target)
            locked.status = MediaStatus.UPLOADED
            locked.save()
    probe_audio(pk)
