"""Finding the faces in a video with the engine, and keeping the face session fresh.

An engine's face session lasts 24 h. Before a task is sent with an older session, the video is
identified again and the chosen face is matched in the new session by its time window and the
look of its thumbnail; when no match is sure, the person is asked to pick the face again.
"""

from __future__ import annotations

import io
import logging
import tempfile
from datetime import timedelta
from pathlib import Path

import numpy as np
from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone
from PIL import Image

from projects import background
from projects.engines.base import EngineError, FaceSession, FaceTrack
from projects.fetch import FetchError, fetch_to_file
from projects.mediakit import pictures
from projects.models import (
    DetectedFace,
    FaceChoice,
    FaceSearchState,
    LipSyncTask,
    MediaStatus,
    SourceVideo,
)
from projects.services import steps
from projects.services.engines import engine_for, video_ref

log = logging.getLogger(__name__)

# Refresh a little before the engine's 24 h, so that the session does not expire in flight.
SESSION_SAFETY_MARGIN = timedelta(minutes=10)
THUMBNAIL_MAX_BYTES = 5 * 1024 * 1024
# A refreshed face is "the same" when its window and its look both agree, clearly.
MIN_WINDOW_IOU = 0.6
MIN_LOOK_SIMILARITY = 0.5
MIN_MARGIN_OVER_RUNNER_UP = 0.15


class SessionRefreshNeeded(Exception):
    """The chosen face could not be matched in a new session: the person must pick again."""


def request_identification(video: SourceVideo) -> bool:
    """Start a face search on the worker; False when the video cannot be searched right now."""
    with transaction.atomic():
        locked = SourceVideo.objects.select_for_update().get(pk=video.pk)
        if not locked.can_search_faces:
            return False
        locked.face_search_state = FaceSearchState.RUNNING
        locked.face_search_message = ""
        locked.save(update_fields=["face_search_state", "face_search_message"])
        background.identify_faces.delay_on_commit(video.pk)
    video.face_search_state = FaceSearchState.RUNNING
    return True


def remember_choice(face: DetectedFace, user: AbstractBaseUser) -> None:
    """Keep `face` as this person's pick on its video until they pick another."""
    FaceChoice.objects.update_or_create(video=face.video, user=user, defaults={"face": face})


def identify(video_id: int) -> None:
    """Run the engine's face identification and store the faces (on a worker)."""
    video = SourceVideo.objects.filter(pk=video_id, status=MediaStatus.READY).first()
    if video is None or not video.is_searching_faces:
        return
    engine_name = settings.LIPSYNC_ENGINE
    try:
        with steps.timed(video.pk, "face_search"):
            session = _identify_with(engine_name, video)
            _store_session(video, engine_name, session)
    except (EngineError, FetchError) as error:
        _search_failed(video, _message(error))
        return
    _search_done(video, engine_name, session)


def identify_now(video: SourceVideo, engine_name: str) -> tuple[FaceSession, list[DetectedFace]]:
    """Identify the faces of a dub job's input in this process, with the engine that will do
    the job; EngineError or FetchError when the engine cannot."""
    session = _identify_with(engine_name, video)
    rows = _store_session(video, engine_name, session)
    _search_done(video, engine_name, session)
    return session, rows


def ensure_fresh_session(task: LipSyncTask, *, forgotten: bool = False) -> None:
    """Before a create: renew an expired (or nearly) face session and re-match the face.

    `forgotten`: the engine said it no longer knows the session (it restarted, or dropped it
    early), so it is renewed whatever its age.
    """
    face = task.face
    if face is None:
        raise SessionRefreshNeeded("Pick a face before submitting.")
    if not forgotten and face.session_expires_at - SESSION_SAFETY_MARGIN > timezone.now():
        return
    video = task.video
    session = _identify_with(task.engine, video, task)
    new_faces = _store_session(video, task.engine, session)
    _search_done(video, task.engine, session)
    match = best_match(face, new_faces)
    if match is None:
        raise SessionRefreshNeeded(
            "The engine's list of faces in this video had expired or been lost; we searched "
            "again, but could not be sure which face you chose. Pick the face again, then submit."
        )
    LipSyncTask.objects.filter(pk=task.pk).update(face=match)
    task.face = match


def best_match(old: DetectedFace, candidates: list[DetectedFace]) -> DetectedFace | None:
    """The candidate that is clearly the same face as `old`, or None when unsure."""
    old_look = _look(old)
    scored = []
    for candidate in candidates:
        iou = window_iou(old.start_ms, old.end_ms, candidate.start_ms, candidate.end_ms)
        similarity = look_similarity(old_look, _look(candidate))
        scored.append((iou + similarity, iou, similarity, candidate))
    scored.sort(key=lambda item: item[0], reverse=True)
    if not scored:
        return None
    total, iou, similarity, candidate = scored[0]
    if iou < MIN_WINDOW_IOU or similarity < MIN_LOOK_SIMILARITY:
        return None
    if len(scored) > 1 and total - scored[1][0] < MIN_MARGIN_OVER_RUNNER_UP:
        return None
    return candidate


def window_iou(start_a: int, end_a: int, start_b: int, end_b: int) -> float:
    overlap = max(0, min(end_a, end_b) - max(start_a, start_b))
    union = max(end_a, end_b) - min(start_a, start_b)
    return overlap / union if union > 0 else 0.0


def look_similarity(first: np.ndarray | None, second: np.ndarray | None) -> float:
    """Normalised correlation of two small grey thumbnails, in [-1, 1]; 0 when unknown."""
    if first is None or second is None:
        return 0.0
    a = first - first.mean()
    b = second - second.mean()
    denominator = float(np.sqrt((a * a).sum() * (b * b).sum()))
    return float((a * b).sum() / denominator) if denominator else 0.0


def _look(face: DetectedFace) -> np.ndarray | None:
    if not face.thumbnail:
        return None
    try:
        with face.thumbnail.open("rb") as handle:
            picture = Image.open(io.BytesIO(handle.read())).convert("L").resize((32, 32))
    except (OSError, ValueError):
        return None
    return np.asarray(picture, dtype=np.float32)


def _identify_with(
    engine_name: str, video: SourceVideo, task: LipSyncTask | None = None
) -> FaceSession:
    """The engine's face search; its call is logged on the task it is made for, if any."""
    engine = engine_for(engine_name, video=video, task=task)
    # A Kling-made video goes by its video_id while valid: Kling need not download it.
    with video_ref(engine_name, video) as ref:
        return engine.identify_faces(ref)


def _store_session(
    video: SourceVideo, engine_name: str, session: FaceSession
) -> list[DetectedFace]:
    thumbnails = {face.face_id: _thumbnail_bytes(face) for face in session.faces}
    stored = []
    with transaction.atomic():
        for face in session.faces:
            row, created = DetectedFace.objects.get_or_create(
                video=video,
                engine=engine_name,
                session_id=session.session_id,
                engine_face_id=face.face_id,
                defaults={
                    "session_expires_at": session.expires_at,
                    "start_ms": max(0, face.start_ms),
                    # The engine's end may overshoot by a few ms: keep it within the video.
                    "end_ms": min(
                        max(face.start_ms, face.end_ms), video.duration_ms or face.end_ms
                    ),
                },
            )
            if created and thumbnails.get(face.face_id):
                row.thumbnail.save("face.jpg", ContentFile(thumbnails[face.face_id]), save=True)
            stored.append(row)
        _carry_choices_over(video, stored)
        _forget_unused_faces(video, keep_session=session.session_id)
    return stored


def _carry_choices_over(video: SourceVideo, new_faces: list[DetectedFace]) -> None:
    """People's picks follow their face into a new search when it is clearly the same face;
    otherwise they are dropped, and the person picks again."""
    new_ids = {face.pk for face in new_faces}
    for choice in video.face_choices.exclude(face__in=new_ids).select_related("face"):
        match = best_match(choice.face, new_faces)
        if match is None:
            choice.delete()
        else:
            FaceChoice.objects.filter(pk=choice.pk).update(face=match)


def _forget_unused_faces(video: SourceVideo, keep_session: str) -> None:
    """Older sessions' faces go, except those a task points at (kept for its history)."""
    stale = video.faces.exclude(session_id=keep_session).filter(tasks__isnull=True)
    for face in stale:
        face.thumbnail.delete(save=False)
    stale.delete()


def _thumbnail_bytes(face: FaceTrack) -> bytes | None:
    if face.image_jpeg:
        return face.image_jpeg
    if not face.image_url:
        return None
    with tempfile.TemporaryDirectory() as folder:
        target = Path(folder) / "face.jpg"
        try:
            fetch_to_file(
                face.image_url,
                target,
                max_bytes=THUMBNAIL_MAX_BYTES,
                total_timeout_s=30,
                allowed_private_hosts=settings.LIPSYNC_FETCH_ALLOWED_PRIVATE_HOSTS,
            )
            return _as_jpeg(target)
        except (FetchError, OSError, ValueError) as error:
            log.warning("face thumbnail %s not fetched: %s", face.face_id, error)
            return None


def _as_jpeg(path: Path) -> bytes:
    """Re-encode the engine's face image ourselves: never serve a remote file as it came."""
    pictures.check_image(path)
    with Image.open(path) as picture:
        output = io.BytesIO()
        picture.convert("RGB").save(output, "JPEG", quality=88)
    return output.getvalue()


def _search_done(video: SourceVideo, engine_name: str, session: FaceSession) -> None:
    SourceVideo.objects.filter(pk=video.pk).update(
        face_search_state=FaceSearchState.DONE,
        face_search_message="",
        face_search_engine=engine_name,
        face_session_id=session.session_id,
        face_search_finished_at=timezone.now(),
    )


def _search_failed(video: SourceVideo, message: str) -> None:
    SourceVideo.objects.filter(pk=video.pk).update(
        face_search_state=FaceSearchState.FAILED,
        face_search_message=message,
        face_search_finished_at=timezone.now(),
    )


def _message(error: Exception) -> str:
    return getattr(error, "message", None) or str(error) or "The face search failed; try again."
