"""People's face picks: kept per video and person, and carried into a new face search."""

from __future__ import annotations

import pytest

from projects import selectors
from projects.models import FaceChoice
from projects.services import faces

pytestmark = pytest.mark.django_db


def search_again(video):
    assert faces.request_identification(video)
    faces.identify(video.pk)
    video.refresh_from_db()
    return selectors.current_faces(video)


def test_a_pick_is_kept_per_video_and_person_until_changed(face_video, users):
    [face] = selectors.current_faces(face_video)
    faces.remember_choice(face, users["editor"])
    faces.remember_choice(face, users["editor"])  # picking again changes nothing
    assert FaceChoice.objects.get(video=face_video, user=users["editor"]).face == face
    assert not FaceChoice.objects.filter(user=users["owner"]).exists()


def test_a_pick_follows_its_face_into_a_new_search(face_video, users):
    [old] = selectors.current_faces(face_video)
    faces.remember_choice(old, users["editor"])
    [new] = search_again(face_video)
    assert new.pk != old.pk and new.session_id != old.session_id
    assert FaceChoice.objects.get(video=face_video, user=users["editor"]).face == new


def test_a_pick_without_a_sure_match_is_dropped(face_video, users):
    [face] = selectors.current_faces(face_video)
    faces.remember_choice(face, users["editor"])
    # The same person elsewhere in the video is not "clearly the same face".
    face.start_ms, face.end_ms = 0, 200
    face.save(update_fields=["start_ms", "end_ms"])
    search_again(face_video)
    assert not FaceChoice.objects.filter(video=face_video).exists()
