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
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone
from PIL import Image

from projects.engines.base import EngineError, FaceSession, FaceTrack
from projects.fetch import FetchError, fetch_to_file
from projects.models import DetectedFace, LipSyncTask, MediaStatus, SourceVideo
from projects.services.engines import engine_for, media_ref

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


def faces_state(video: SourceVideo) -> dict:
    return video.media_info.get("faces", {})


def request_identification(video: SourceVideo) -> bool:
    """Mark the video as being searched for faces and enqueue the search; False if running."""
    with transaction.atomic():
        locked = SourceVideo.objects.select_for_update().get(pk=video.pk)
        if locked.status != MediaStatus.READY or faces_state(locked).get("state") == "running":
            return False
        locked.media_info = {**locked.media_info, "faces": {"state": "running"}}
        locked.save(update_fields=["media_info"])
        from projects import tasks

        transaction.on_commit(lambda: tasks.identify_faces.delay(video.pk))
    return True


def identify(video_id: int) -> None:
    """Run the engine's face identification and store the faces (on a worker)."""
    video = SourceVideo.objects.filter(pk=video_id, status=MediaStatus.READY).first()
    if video is None or faces_state(video).get("state") != "running":
        return
    engine_name = settings.LIPSYNC_ENGINE
    try:
        session = _identify_with(engine_name, video)
        faces = _store_session(video, engine_name, session)
    except (EngineError, FetchError) as error:
        _set_faces_state(video, {"state": "failed", "message": _message(error)})
        return
    _set_faces_state(
        video,
        {
            "state": "done",
            "engine": engine_name,
            "session_id": session.session_id,
            "count": len(faces),
            "at": timezone.now().isoformat(),
        },
    )


def current_faces(video: SourceVideo) -> list[DetectedFace]:
    """The faces of the video's latest session with the configured engine."""
    state = faces_state(video)
    if state.get("state") != "done":
        return []
    return list(
        video.faces.filter(engine=state.get("engine"), session_id=state.get("session_id")).order_by(
            "start_ms", "engine_face_id"
        )
    )


def ensure_fresh_session(task: LipSyncTask) -> None:
    """Before a create: renew an expired (or nearly) face session and re-match the face."""
    face = task.face
    if face is None:
        raise SessionRefreshNeeded("Pick a face before submitting.")
    if face.session_expires_at - SESSION_SAFETY_MARGIN > timezone.now():
        return
    video = task.video
    session = _identify_with(task.engine, video)
    new_faces = _store_session(video, task.engine, session)
    _set_faces_state(
        video,
        {
            "state": "done",
            "engine": task.engine,
            "session_id": session.session_id,
            "count": len(new_faces),
            "at": timezone.now().isoformat(),
        },
    )
    match = best_match(face, new_faces)
    if match is None:
        raise SessionRefreshNeeded(
            "The list of faces in this video had expired, and in the new one we could not be "
            "sure which face you chose. Pick the face again, then submit."
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


def _identify_with(engine_name: str, video: SourceVideo) -> FaceSession:
    engine = engine_for(engine_name, video=video)
    with media_ref(engine_name, video.file, "video/mp4") as ref:
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
        _forget_unused_faces(video, keep_session=session.session_id)
    return stored


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
    from projects.media import check_image

    check_image(path)
    with Image.open(path) as picture:
        output = io.BytesIO()
        picture.convert("RGB").save(output, "JPEG", quality=88)
    return output.getvalue()


def _set_faces_state(video: SourceVideo, state: dict) -> None:
    with transaction.atomic():
        locked = SourceVideo.objects.select_for_update().get(pk=video.pk)
        locked.media_info = {**locked.media_info, "faces": state}
        locked.save(update_fields=["media_info"])


def _message(error: Exception) -> str:
    return getattr(error, "message", None) or str(error) or "The face search failed; try again."
