"""The people in a whole video, found by our own face search whatever the engine.

The engine's identify-face takes videos of up to 60 s; a dub's source may last 30 minutes. So
the local face search runs over the whole video on a worker, its face tracks are grouped into
people by look (projects.engines.people), and each person is kept as a `Person` row with a
thumbnail and their on-screen windows. Where the video may be cut (silences, shot changes) is
found in the same visit and kept on the video for the planner.
"""

from __future__ import annotations

import logging
from fractions import Fraction

from django.core.files.base import ContentFile
from django.db import transaction

from projects import background
from projects.engines.local.faces import FaceTrackResult, identify_faces
from projects.engines.people import FoundPerson, group_people
from projects.engines.timeline import Person as TimelinePerson
from projects.mediakit.cuthints import find_cut_hints
from projects.mediakit.errors import MediaError
from projects.models import FaceSearchState, Person, SourceVideo
from projects.services.storage import local_path

log = logging.getLogger(__name__)

NO_FACE = (
    "We found no face in this video. A dub needs a person facing the camera; choose another video."
)


def request_search(video: SourceVideo) -> bool:
    """Start looking for people in the video on a worker; False when already searched or
    searching, or when the video cannot be dubbed."""
    with transaction.atomic():
        locked = SourceVideo.objects.select_for_update().get(pk=video.pk)
        if not locked.can_search_people:
            return False
        locked.people_search_state = FaceSearchState.RUNNING
        locked.people_search_message = ""
        locked.save(update_fields=["people_search_state", "people_search_message"])
        background.find_people.delay_on_commit(video.pk)
    video.people_search_state = FaceSearchState.RUNNING
    return True


def find(video_id: int) -> None:
    """Search the whole video for people and keep them (on a worker, or in-process)."""
    video = SourceVideo.objects.filter(pk=video_id).first()
    if video is None or not video.is_searching_people:
        return
    try:
        with local_path(video.file, suffix=".mp4") as path:
            tracks = identify_faces(path)
            hints = find_cut_hints(path)
    except (MediaError, OSError) as error:
        log.warning("people search of video %s failed: %s", video_id, error)
        _finish(video, FaceSearchState.FAILED, "We could not read this video to find people.")
        return
    found = group_people(tracks)
    with transaction.atomic():
        locked = SourceVideo.objects.select_for_update().get(pk=video_id)
        if not locked.is_searching_people:
            return
        if not locked.people.exists():  # a second delivery keeps the first one's people
            for person in found:
                _keep(locked, person, tracks)
        locked.cut_hints = {
            "duration_ms": hints.duration_ms,
            "silences": [list(span) for span in hints.silences],
            "shot_changes": list(hints.shot_changes),
        }
        locked.people_search_state = FaceSearchState.DONE
        locked.people_search_message = "" if found else NO_FACE
        locked.save(update_fields=["cut_hints", "people_search_state", "people_search_message"])


def find_now(video: SourceVideo) -> list[Person]:
    """Search in this process (the `dub` command without a worker); the people found."""
    if request_search(video) or video.is_searching_people:
        find(video.pk)
    video.refresh_from_db()
    return list(video.people.all())


def _keep(video: SourceVideo, found: FoundPerson, tracks: list[FaceTrackResult]) -> Person:
    own = [tracks[index] for index in found.track_indexes]
    person = Person(
        video=video,
        number=found.person_id,
        windows=[list(window) for window in found.windows],
        embedding=list(found.embedding),
        tracks=[track.to_dict() for track in own],
    )
    picture = next((track.thumbnail_jpeg for track in own if track.thumbnail_jpeg), b"")
    if picture:
        person.thumbnail.save("person.jpg", ContentFile(picture), save=False)
    person.save()
    return person


def _finish(video: SourceVideo, state: str, message: str) -> None:
    SourceVideo.objects.filter(pk=video.pk).update(
        people_search_state=state, people_search_message=message
    )


# --- what the planner and the job runner need of people --------------------------------------


def as_timeline_person(person: Person) -> TimelinePerson:
    return TimelinePerson(person.number, tuple(person.spans))


def as_found_person(person: Person) -> FoundPerson:
    return FoundPerson(person.number, (), tuple(person.spans), tuple(person.embedding))


def tracks_of(person: Person) -> list[FaceTrackResult]:
    return [FaceTrackResult.from_dict(track) for track in person.tracks]


def source_fps(video: SourceVideo) -> Fraction:
    """The video's frame rate as the media kit reads it (streams.video_facts)."""
    return Fraction(video.fps or 25).limit_denominator(1001)


def as_json(video: SourceVideo) -> list[dict]:
    """The people as the `dub --people` command prints them."""
    return [
        {
            "person": person.number,
            "windows_ms": [list(span) for span in person.spans],
            "on_screen_ms": person.on_screen_ms,
        }
        for person in video.people.all()
    ]
