"""People: face tracks of one person grouped by face embedding, and found again in a window.

Pure functions over plain values (windows in ms, 128-d dlib embeddings, boxes in pixels), so
they serve the local face search, the app and any engine. A person who leaves the frame, or is
cut away from, comes back as a new face track (the Kling contract); grouping the tracks whose
faces look alike and never share the screen gives one person per human, numbered from 1 in
order of first appearance.

When a job runs, the engine identifies the faces of its window again (or of the previous job's
result, in a chain) under its own face ids; `match_face` picks the one that is the planned
person by window, position and embedding.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from projects.engines.timeline import Person, Span, overlap_ms
from projects.mediakit.wording import clock

# dlib's own threshold for its ResNet embeddings: closer is the same person.
SAME_PERSON_DISTANCE = 0.6
# A face whose centre is further than this many face widths from where the person was expected
# is someone else standing elsewhere.
MAX_POSITION_SHIFT = 1.0

Box = tuple[int, int, int, int]  # left, top, right, bottom


class Track(Protocol):
    """What grouping needs of a face track (faces.FaceTrackResult has it)."""

    start_ms: int
    end_ms: int
    embedding: tuple[float, ...]


@dataclass(frozen=True)
class FoundPerson:
    """One person: the tracks that are theirs (indexes into the tracks given), their on-screen
    windows, and the mean of their tracks' embeddings."""

    person_id: int
    track_indexes: tuple[int, ...]
    windows: tuple[Span, ...]
    embedding: tuple[float, ...]

    def as_person(self) -> Person:
        return Person(self.person_id, self.windows)


def group_people(tracks: Sequence[Track]) -> list[FoundPerson]:
    """People from face tracks of any number, over a video of any length.

    Tracks are taken in order of appearance; each joins the person whose mean embedding is
    nearest (under SAME_PERSON_DISTANCE) among those not on screen at the same time, or starts
    a new person. A track without an embedding is a person of its own.
    """
    order = sorted(range(len(tracks)), key=lambda i: (tracks[i].start_ms, tracks[i].end_ms))
    members: list[list[int]] = []
    for index in order:
        number = _closest_person(tracks, index, members)
        if number is None:
            members.append([index])
        else:
            members[number].append(index)
    return [
        FoundPerson(
            person_id=number + 1,
            track_indexes=tuple(indexes),
            windows=tuple(sorted((tracks[i].start_ms, tracks[i].end_ms) for i in indexes)),
            embedding=_mean([tracks[i].embedding for i in indexes]),
        )
        for number, indexes in enumerate(members)
    ]


def _closest_person(tracks: Sequence[Track], index: int, members: list[list[int]]) -> int | None:
    track = tracks[index]
    if not track.embedding:
        return None
    best, best_distance = None, SAME_PERSON_DISTANCE
    for number, indexes in enumerate(members):
        if any(_share_screen(track, tracks[other]) for other in indexes):
            continue
        identity = _mean([tracks[other].embedding for other in indexes])
        if not identity:
            continue
        distance = embedding_distance(track.embedding, identity)
        if distance < best_distance:
            best, best_distance = number, distance
    return best


def _share_screen(a: Track, b: Track) -> bool:
    return a.start_ms < b.end_ms and b.start_ms < a.end_ms


def _mean(embeddings: list[tuple[float, ...]]) -> tuple[float, ...]:
    known = [embedding for embedding in embeddings if embedding]
    if not known:
        return ()
    return tuple(sum(values) / len(known) for values in zip(*known, strict=True))


def embedding_distance(a: Sequence[float], b: Sequence[float]) -> float:
    return math.sqrt(sum((x - y) ** 2 for x, y in zip(a, b, strict=True)))


# --- finding a person again ------------------------------------------------------------------


@dataclass(frozen=True)
class FaceCandidate:
    """A face an engine found in a window: its id and window (ms), with what we know of it."""

    face_id: str
    start_ms: int
    end_ms: int
    embedding: tuple[float, ...] = ()
    box: Box | None = None  # where it is, in the middle of its window


@dataclass(frozen=True)
class ExpectedFace:
    """Where the planned person should be in the window, and what they look like."""

    person_id: int
    start_ms: int
    end_ms: int
    embedding: tuple[float, ...] = ()
    box: Box | None = None


class NoMatchingFace(ValueError):
    """The planned person is not among the engine's faces; the message says so plainly."""


def match_face(candidates: Sequence[FaceCandidate], expected: ExpectedFace) -> FaceCandidate:
    """The candidate that is the expected person: on screen when expected (the longest shared
    time wins), looking like them and standing where they stand, when those are known."""
    fitting = []
    for candidate in candidates:
        shared = overlap_ms(
            (candidate.start_ms, candidate.end_ms), (expected.start_ms, expected.end_ms)
        )
        if shared <= 0:
            continue
        distance = 0.0
        if candidate.embedding and expected.embedding:
            distance = embedding_distance(candidate.embedding, expected.embedding)
            if distance >= SAME_PERSON_DISTANCE:
                continue
        shift = 0.0
        if candidate.box is not None and expected.box is not None:
            shift = _centre_shift(candidate.box, expected.box)
            if shift > MAX_POSITION_SHIFT:
                continue
        fitting.append((-shared, distance, shift, candidate.face_id, candidate))
    if not fitting:
        raise NoMatchingFace(
            f"Person {expected.person_id} was not found on screen from "
            f"{clock(expected.start_ms)} to {clock(expected.end_ms)} of this part of the video, "
            "where the plan expects them."
        )
    return min(fitting)[-1]


def _centre_shift(found: Box, expected: Box) -> float:
    """How far apart two boxes' centres are, in widths of the expected box."""
    width = max(expected[2] - expected[0], 1)
    dx = (found[0] + found[2] - expected[0] - expected[2]) / 2
    dy = (found[1] + found[3] - expected[1] - expected[3]) / 2
    return math.hypot(dx, dy) / width


class TrackWithBoxes(Track, Protocol):
    def box_at(self, t_ms: int) -> Box | None: ...


class EngineFace(Protocol):
    face_id: str
    start_ms: int
    end_ms: int


def candidates_from(
    faces: Sequence[EngineFace],
    tracks: Sequence[TrackWithBoxes],
    face_embeddings: Mapping[str, tuple[float, ...]] | None = None,
) -> list[FaceCandidate]:
    """The engine's faces of a video, with what our own face search of the same video adds.

    Engines give a face's window and a picture of it, not where it is. Each engine face is
    paired with our track that is on screen with it and looks most like its picture
    (`face_embeddings`, by face id, computed from the engine's face images), or, without a
    picture, that shares the most time with it; the candidate takes that track's position.
    """
    face_embeddings = face_embeddings or {}
    found = []
    for face in faces:
        own = face_embeddings.get(face.face_id, ())
        track = _paired_track(face, own, tracks)
        if track is None:
            found.append(FaceCandidate(face.face_id, face.start_ms, face.end_ms, own))
            continue
        middle = (max(face.start_ms, track.start_ms) + min(face.end_ms, track.end_ms)) // 2
        found.append(
            FaceCandidate(
                face.face_id,
                face.start_ms,
                face.end_ms,
                own or tuple(track.embedding),
                track.box_at(middle),
            )
        )
    return found


def _paired_track(
    face: EngineFace, embedding: tuple[float, ...], tracks: Sequence[TrackWithBoxes]
) -> TrackWithBoxes | None:
    window = (face.start_ms, face.end_ms)
    together = [t for t in tracks if overlap_ms(window, (t.start_ms, t.end_ms)) > 0]
    if embedding:
        alike = [t for t in together if t.embedding]
        together = [
            t for t in alike if embedding_distance(embedding, t.embedding) < SAME_PERSON_DISTANCE
        ]
        return min(together, key=lambda t: embedding_distance(embedding, t.embedding), default=None)
    return max(together, key=lambda t: overlap_ms(window, (t.start_ms, t.end_ms)), default=None)
