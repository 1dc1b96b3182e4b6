"""People from face tracks, and finding the planned person among an engine's faces."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from projects.engines.people import (
    ExpectedFace,
    FaceCandidate,
    NoMatchingFace,
    candidates_from,
    group_people,
    match_face,
)


@dataclass(frozen=True)
class Track:
    start_ms: int
    end_ms: int
    embedding: tuple[float, ...]
    box: tuple[int, int, int, int] = (0, 0, 100, 100)

    def box_at(self, t_ms: int):
        return self.box if self.start_ms <= t_ms <= self.end_ms else None


def face(x: float, y: float = 0.0) -> tuple[float, ...]:
    """A 128-d embedding; faces whose `x` differ by more than 0.6 are different people."""
    return (x, y, *([0.0] * 126))


def test_reentries_and_cuts_of_one_face_are_one_person_numbered_by_first_appearance():
    tracks = [
        Track(70_000, 90_000, face(0.05)),  # Anna again (given out of order)
        Track(0, 20_000, face(0.0)),  # Anna
        Track(5_000, 30_000, face(2.0)),  # Ben, sharing the screen with Anna
        Track(25_000, 40_000, face(0.1, 0.1)),  # Anna back after leaving
        Track(45_000, 50_000, face(2.1)),  # Ben back
    ]
    people = group_people(tracks)
    assert [(p.person_id, p.windows) for p in people] == [
        (1, ((0, 20_000), (25_000, 40_000), (70_000, 90_000))),
        (2, ((5_000, 30_000), (45_000, 50_000))),
    ]
    assert people[0].track_indexes == (1, 3, 0)
    assert people[0].as_person().stretches == people[0].windows
    assert people[0].embedding[0] == pytest.approx(0.05)


def test_two_faces_on_screen_together_are_two_people_however_alike():
    people = group_people([Track(0, 10_000, face(0.0)), Track(5_000, 12_000, face(0.01))])
    assert len(people) == 2


def test_a_track_without_embedding_is_a_person_of_its_own():
    people = group_people([Track(0, 1_000, face(0.0)), Track(2_000, 3_000, ())])
    assert [p.windows for p in people] == [((0, 1_000),), ((2_000, 3_000),)]


def test_no_tracks_no_people():
    assert group_people([]) == []


EXPECTED = ExpectedFace(2, 1_000, 9_000, face(2.0), (300, 100, 400, 200))


def test_the_person_is_matched_by_window_embedding_and_position():
    candidates = [
        FaceCandidate("a", 0, 10_000, face(0.0), (300, 100, 400, 200)),  # someone else, here
        FaceCandidate("b", 0, 10_000, face(2.05), (900, 100, 1000, 200)),  # Ben? elsewhere
        FaceCandidate("c", 500, 8_000, face(2.1), (310, 110, 410, 210)),  # Ben, in place
        FaceCandidate("d", 9_500, 12_000, face(2.0), (300, 100, 400, 200)),  # Ben, too late
    ]
    assert match_face(candidates, EXPECTED).face_id == "c"


def test_with_nothing_but_windows_the_longest_shared_time_wins():
    candidates = [FaceCandidate("1", 0, 3_000), FaceCandidate("2", 2_000, 9_500)]
    assert match_face(candidates, EXPECTED).face_id == "2"


def test_no_match_is_a_plain_sentence():
    with pytest.raises(NoMatchingFace) as caught:
        match_face([FaceCandidate("a", 0, 10_000, face(0.0))], EXPECTED)
    assert str(caught.value) == (
        "Person 2 was not found on screen from 0:01 to 0:09 of this part of the video, where "
        "the plan expects them."
    )


@dataclass(frozen=True)
class EngineFace:
    face_id: str
    start_ms: int
    end_ms: int


def test_engine_faces_borrow_embedding_and_position_from_our_own_tracks():
    ours = [Track(0, 4_000, face(0.0), (0, 0, 10, 10)), Track(3_000, 9_000, face(2.0))]
    found = candidates_from([EngineFace("7", 3_040, 8_960), EngineFace("8", 9_500, 9_900)], ours)
    assert found[0] == FaceCandidate("7", 3_040, 8_960, face(2.0), (0, 0, 100, 100))
    assert found[1] == FaceCandidate("8", 9_500, 9_900)


def test_faces_sharing_a_window_are_told_apart_by_their_pictures():
    ben_box = (300, 100, 400, 200)
    ours = [Track(0, 6_000, face(0.0), (0, 0, 10, 10)), Track(0, 6_000, face(2.0), ben_box)]
    faces = [EngineFace("a", 0, 6_000), EngineFace("b", 0, 6_000)]
    pictures = {"a": face(2.02), "b": face(0.01)}
    found = candidates_from(faces, ours, pictures)
    assert [(c.face_id, c.box) for c in found] == [("a", ben_box), ("b", (0, 0, 10, 10))]
    assert found[0].embedding == face(2.02)  # the engine's own picture of the face
    assert match_face(found, EXPECTED).face_id == "a"
