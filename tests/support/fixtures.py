"""Real projects ready for lip-sync: a video with a face, identified, and a speech clip."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from projects.models import AudioClip, MediaStatus, SourceVideo
from projects.services import faces as face_services
from projects.services import media as media_services
from tests.support.facevideos import ASTRONAUT, Appearance, write_face_video
from tests.support.simulator import write_tone_wav

VIDEO_MS = 3_500
FACE_WINDOW_MS = (500, 3_500)


def make_face_video_file(path: Path) -> Path:
    write_face_video(
        path,
        [Appearance(ASTRONAUT, *FACE_WINDOW_MS)],
        duration_ms=VIDEO_MS,
        size=(640, 512),
        fps=12,
    )
    return path


def add_video(project, user, path: Path, *, identify: bool = True) -> SourceVideo:
    uploaded = SimpleUploadedFile(path.name, path.read_bytes())
    video = media_services.upload_video(project=project, user=user, uploaded=uploaded)
    media_services.probe_video(video.pk)
    video.refresh_from_db()
    assert video.status == MediaStatus.READY, video.rejection_reason
    if identify:
        face_services.request_identification(video)
        face_services.identify(video.pk)
        video.refresh_from_db()
    return video


def add_speech(project, user, path: Path, duration_ms: int = 3_000) -> AudioClip:
    write_tone_wav(path, duration_ms)
    uploaded = SimpleUploadedFile(path.name, path.read_bytes())
    clip = media_services.upload_audio(project=project, user=user, uploaded=uploaded)
    media_services.probe_audio(clip.pk)
    clip.refresh_from_db()
    assert clip.status == MediaStatus.READY, clip.rejection_reason
    return clip


@pytest.fixture(scope="session")
def face_video_file(tmp_path_factory) -> Path:
    return make_face_video_file(tmp_path_factory.mktemp("facevideo") / "presenter.mp4")


@pytest.fixture
def face_video(project, users, face_video_file) -> SourceVideo:
    return add_video(project, users["editor"], face_video_file)


@pytest.fixture
def speech(project, users, tmp_path) -> AudioClip:
    return add_speech(project, users["editor"], tmp_path / "line.wav")
