"""A short two-person dub for service, command and page tests: real faces, real speech-like
sound, a source longer than one engine task is in the longer scenarios (tests/mediakit and
bench/ keep the 150 s one)."""

from __future__ import annotations

import shutil
from pathlib import Path
from unittest import mock

from django.core.files.uploadedfile import SimpleUploadedFile

from projects.engines.local.faces import FaceTrackResult, identify_faces
from projects.models import AudioClip, MediaStatus, SourceVideo
from projects.services import media as media_services
from projects.services import people as people_services
from projects.services.storage import sha256_of
from tests.support.dubvideos import write_two_people_video
from tests.support.facevideos import ASTRONAUT, LFW, Appearance
from tests.support.fixtures import add_video
from tests.support.numbered_media import speech_like, write_wav

SHORT_MS = 30_000
# Person 1 (the astronaut, left) is on screen 0-18 s and 22-30 s; person 2 (right) 4-30 s.
SHORT_PEOPLE = (
    Appearance(ASTRONAUT, 0, 18_000, center=(0.27, 0.5)),
    Appearance(ASTRONAUT, 22_000, 30_000, center=(0.27, 0.5)),
    Appearance(LFW, 4_000, 30_000, center=(0.73, 0.5)),
)
SHORT_QUIET = ((12_000, 13_500),)
# (person, at, length): two people speak in the first part, person 1 again later.
SHORT_LINES = ((1, 6_000, 2_500), (2, 7_000, 2_000), (1, 25_000, 2_000))


# What a test run made once and hands to the later tests that need the same: the short video
# (made the same way every time), and the face tracks of a file (the search gives the same
# tracks for the same bytes). The first test that needs them makes them for real.
_made_short_video: list[Path] = []
_tracks_of_file: dict[str, list[FaceTrackResult]] = {}


def write_short_dub_video(path: Path) -> Path:
    if _made_short_video and _made_short_video[0].exists():
        shutil.copyfile(_made_short_video[0], path)
        return path
    write_two_people_video(
        path,
        appearances=SHORT_PEOPLE,
        duration_ms=SHORT_MS,
        size=(640, 360),
        fps=12,
        silences_ms=SHORT_QUIET,
    )
    _made_short_video[:] = [path]
    return path


def _tracks_once_per_file(path, **options) -> list[FaceTrackResult]:
    key = f"{sha256_of(Path(path))} {sorted(options.items())}"
    if key not in _tracks_of_file:
        _tracks_of_file[key] = identify_faces(path, **options)
    return _tracks_of_file[key]


def face_tracks_found_once():
    """While active, the people search reuses the face tracks of a file searched before in
    this run (a context manager)."""
    return mock.patch.object(people_services, "identify_faces", _tracks_once_per_file)


def add_dub_video(project, user, path: Path, *, find_people: bool = True) -> SourceVideo:
    """The video uploaded and checked, and its people found by the people search, as the
    worker would (the face tracks of a file already searched in this run are reused)."""
    video = add_video(project, user, path, identify=False)
    if find_people:
        people_services.request_search(video)
        with face_tracks_found_once():
            people_services.find(video.pk)
        video.refresh_from_db()
    return video


def add_speech_like(project, user, path: Path, seed: int, duration_ms: int) -> AudioClip:
    write_wav(path, speech_like(seed, duration_ms))
    uploaded = SimpleUploadedFile(path.name, path.read_bytes())
    clip = media_services.upload_audio(project=project, user=user, uploaded=uploaded)
    media_services.probe_audio(clip.pk)
    clip.refresh_from_db()
    assert clip.status == MediaStatus.READY, clip.rejection_reason
    return clip


def with_people(video: SourceVideo, windows: dict[int, list[tuple[int, int]]]) -> SourceVideo:
    """People as a finished search leaves them, for page tests that need no face search: the
    short video's own people and windows (SHORT_PEOPLE)."""
    from projects.models import FaceSearchState, Person

    for number, spans in windows.items():
        Person.objects.create(video=video, number=number, windows=[list(s) for s in spans])
    video.people_search_state = FaceSearchState.DONE
    video.cut_hints = {"duration_ms": video.duration_ms, "silences": [], "shot_changes": []}
    video.save(update_fields=["people_search_state", "cut_hints"])
    return video


SHORT_WINDOWS = {1: [(0, 18_000), (22_000, 30_000)], 2: [(4_000, 30_000)]}
