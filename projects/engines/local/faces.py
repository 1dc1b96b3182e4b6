"""Offline face identification: which people appear in a video, and when.

The video is decoded once with PyAV. A few frames per second are sampled and downscaled;
dlib's HOG detector searches the whole frame once a second (for newcomers) and, in the samples
between, only the regions around the faces already known. Faces are followed from sample to
sample by box overlap; the costly 128-d embedding is computed only when a face appears, when
it cannot be followed by overlap, when its picture stops resembling itself (a cut to someone
else), and every few seconds to re-check who it is. A face away for more than a second ends
its track (the Kling contract: it comes back under a new face id). Each entry and exit is
located by bisection on the frames decoded between two searches, so the windows are accurate
to a frame or two rather than to the sampling interval. Finally the tracks are grouped into
people by embedding distance (projects.engines.people). Nothing limits the video's length:
this search also finds the people of sources far longer than the engine's 60 s.
"""

from __future__ import annotations

import base64
import bisect
import functools
import io
import os
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace

import av
import dlib
import numpy as np
from PIL import Image

from projects.engines.local import dlibmodels
from projects.engines.local.dlibmodels import Box
from projects.engines.people import SAME_PERSON_DISTANCE, group_people

MAX_ABSENCE_MS = 1000  # longer than this away and the face comes back as a new track
MIN_FOLLOW_IOU = 0.3  # box overlap that counts as "the same face, moved a little"
# A followed face's identity is re-checked at least this often. A cut to someone else is caught
# at once by the face's "look" (MIN_LOOKALIKE below); this is only the net for a slow change.
# A re-check is dlib's descriptor, about 0.1 s: every 3 s it was a third of a 60 s search.
REEMBED_MS = 10_000
# Newcomers are searched for on the whole frame this often; in between, only the regions
# around known faces are searched, which costs a third as much.
FULL_SCAN_MS = 1000
SEARCH_MARGIN = 0.5  # around a known face, search this many face sides further each way
THUMBNAIL_EVERY_MS = 500  # how often a track's view is scored as a thumbnail candidate
# A followed face whose picture correlates less than this with every picture of it confirmed
# by an embedding is re-checked at once: a cut to someone else standing where the face was.
# (Another person: < 0.3. The same face: > 0.75, but only 0.5 when the detector's box jumps a
# pyramid level, hence several confirmed pictures, one per box scale seen.)
MIN_LOOKALIKE = 0.6
MAX_LOOKS = 8
# Re-checks skip faces turned aside: their embeddings drift and would look like someone else.
MIN_FRONTALNESS = 0.5
MIN_DETECTIONS = 2  # a single detection is more likely a false positive than a face
DETECT_AHEAD = 4  # samples prepared in advance; each holds a decoded frame
THUMBNAIL_PX = 256
THUMBNAIL_PADDING = 0.8  # a thumbnail shows the face box plus 40 % on each side


@dataclass(frozen=True)
class TrackSample:
    t_ms: int
    box: Box  # left, top, right, bottom in source pixels


@dataclass(frozen=True)
class FaceTrackResult:
    """One continuous appearance of one person; `track_id` becomes the engine's face_id."""

    track_id: int
    person: int
    start_ms: int
    end_ms: int
    samples: tuple[TrackSample, ...]
    thumbnail_jpeg: bytes
    # The face's dlib 128-d embedding, averaged over the track's identity checks: what groups
    # tracks into people (projects.engines.people) and matches a person in another video.
    embedding: tuple[float, ...] = ()

    def box_at(self, t_ms: int) -> Box | None:
        """The face box at `t_ms`, interpolated between samples; None outside the window."""
        if not self.samples or not self.start_ms <= t_ms <= self.end_ms:
            return None
        times = [sample.t_ms for sample in self.samples]
        after = bisect.bisect_left(times, t_ms)
        if after == 0:
            return self.samples[0].box
        if after == len(times):
            return self.samples[-1].box
        before_sample, after_sample = self.samples[after - 1], self.samples[after]
        weight = (t_ms - before_sample.t_ms) / (after_sample.t_ms - before_sample.t_ms)
        mixed = (
            (1 - weight) * start + weight * end
            for start, end in zip(before_sample.box, after_sample.box, strict=True)
        )
        return tuple(round(value) for value in mixed)  # type: ignore[return-value]

    def to_dict(self) -> dict:
        """A JSON-safe form (the thumbnail as base64), for storing between tasks."""
        return {
            "track_id": self.track_id,
            "person": self.person,
            "start_ms": self.start_ms,
            "end_ms": self.end_ms,
            "samples": [{"t_ms": sample.t_ms, "box": list(sample.box)} for sample in self.samples],
            "thumbnail_jpeg": base64.b64encode(self.thumbnail_jpeg).decode("ascii"),
            "embedding": list(self.embedding),
        }

    @classmethod
    def from_dict(cls, data: dict) -> FaceTrackResult:
        return cls(
            track_id=int(data["track_id"]),
            person=int(data["person"]),
            start_ms=int(data["start_ms"]),
            end_ms=int(data["end_ms"]),
            samples=tuple(
                TrackSample(t_ms=int(sample["t_ms"]), box=tuple(int(v) for v in sample["box"]))
                for sample in data["samples"]
            ),
            thumbnail_jpeg=base64.b64decode(data["thumbnail_jpeg"]),
            embedding=tuple(float(value) for value in data.get("embedding", ())),
        )


def identify_faces(
    video_path: str | os.PathLike,
    *,
    samples_per_second: float = 6.0,
    detect_width: int = 640,
) -> list[FaceTrackResult]:
    """Find every face track in the video, ordered by start time; [] when there is no face.

    Times are ms from the first frame; boxes are in source pixels. `samples_per_second` sets
    how often faces are looked for, `detect_width` the width pictures are searched at: the
    detector needs faces of about 80 px at that width (1/8 of it), so raise it for wide shots.
    Raises ValueError with a plain message when the file cannot be read as a video.
    """
    try:
        with av.open(os.fspath(video_path)) as container, ThreadPoolExecutor(2) as pool:
            video = _Video(container, detect_width)
            tracker = _Tracker(video)
            samples = video.samples(samples_per_second)
            scan_every = max(1, round(FULL_SCAN_MS * samples_per_second / 1000))
            for sample, boxes in _detected_ahead(pool, video, samples, scan_every):
                tracker.observe(sample, boxes)
            tracks = tracker.finish()
    except FileNotFoundError:
        raise
    except av.FFmpegError as error:
        raise ValueError(f"The file could not be read as a video ({error.strerror}).") from error
    return _results(tracks, video)


def _detected_ahead(
    pool: ThreadPoolExecutor, video: _Video, samples: Iterator[_Sample], scan_every: int
) -> Iterator[tuple[_Sample, list[Box] | None]]:
    """Each sample, with the faces found on the whole frame every `scan_every` samples (else
    None), prepared a few samples ahead on the pool.

    The detector and the frame conversions release the GIL, so they run on the other core
    while this thread decodes, follows and embeds.
    """
    pending: deque[tuple[_Sample, Future[list[Box] | None]]] = deque()
    for index, sample in enumerate(samples):
        full_scan = index % scan_every == 0
        pending.append((sample, pool.submit(_prepare, video, sample.frame, full_scan)))
        if len(pending) > DETECT_AHEAD:
            done, future = pending.popleft()
            yield done, future.result()
    while pending:
        done, future = pending.popleft()
        yield done, future.result()


def _prepare(video: _Video, frame: _Frame, full_scan: bool) -> list[Box] | None:
    gray = video.gray(frame)
    return _detect_in(gray) if full_scan else None


def embed_face_image(image_bytes: bytes) -> tuple[float, ...]:
    """The embedding of the largest face in a picture (such as an engine's face crop), or ()
    when no face is found in it."""
    try:
        rgb = np.asarray(Image.open(io.BytesIO(image_bytes)).convert("RGB"))
    except (OSError, ValueError):
        return ()
    gray = np.asarray(Image.fromarray(rgb).convert("L"))
    for upsample in (0, 1):  # small crops need the detector to look at twice the size
        found = dlibmodels.detector()(gray, upsample)
        if len(found):
            box = dlibmodels.from_rectangle(max(found, key=lambda r: r.area()))
            shape = dlibmodels.landmarks(gray, box)
            return tuple(float(v) for v in dlibmodels.embedding(rgb, shape))
    return ()


# --- decoding -----------------------------------------------------------------------------


@dataclass(eq=False)
class _Frame:
    av_frame: av.VideoFrame
    t_ms: float  # from the first frame
    # Detection-scale pictures, converted on first use: grey for the detector and landmarks
    # (a third faster than colour), colour for the embedding.
    gray: np.ndarray | None = None
    rgb: np.ndarray | None = None


@dataclass(frozen=True)
class _Sample:
    frame: _Frame
    previous: _Frame | None  # the previous sample's frame
    between: tuple[_Frame, ...]  # frames decoded after `previous` and before `frame`


class _Video:
    """One decoded video stream: its sampling, geometry and frame conversions."""

    def __init__(self, container: av.container.InputContainer, detect_width: int) -> None:
        if not container.streams.video:
            raise ValueError("The file has no video track.")
        self.stream = container.streams.video[0]
        self.container = container
        # Let FFmpeg decode on all cores, and drop frames no other frame refers to: they are
        # never needed to decode the sampled ones, and only make the edges a little coarser.
        self.stream.thread_type = "AUTO"
        self.stream.codec_context.skip_frame = "NONREF"
        self.width, self.height = self.stream.codec_context.width, self.stream.codec_context.height
        if not self.width or not self.height:
            raise ValueError("The video track has no picture size.")
        self.small_width = min(detect_width, self.width)
        self.small_height = max(1, round(self.height * self.small_width / self.width))
        self.scale = self.width / self.small_width  # source pixels per detection pixel
        rate = self.stream.average_rate or self.stream.guessed_rate or 25
        self.frame_ms = 1000 / float(rate)
        self.last_frame: _Frame | None = None

    def samples(self, samples_per_second: float) -> Iterator[_Sample]:
        """Every `1 / samples_per_second` seconds a sample; the last frame is always one."""
        interval_ms = 1000 / samples_per_second
        previous: _Frame | None = None
        between: list[_Frame] = []
        next_ms = 0.0
        for frame in self._frames():
            if frame.t_ms >= next_ms - 0.5:
                yield _Sample(frame, previous, tuple(between))
                previous, between = frame, []
                next_ms = (frame.t_ms // interval_ms + 1) * interval_ms
            else:
                between.append(frame)
            self.last_frame = frame
        if self.last_frame is None:
            raise ValueError("The video has no frames.")
        if between:
            yield _Sample(between[-1], previous, tuple(between[:-1]))

    def _frames(self) -> Iterator[_Frame]:
        origin: int | None = None
        for av_frame in self.container.decode(self.stream):
            if av_frame.pts is None:
                continue
            origin = av_frame.pts if origin is None else origin
            yield _Frame(av_frame, float((av_frame.pts - origin) * self.stream.time_base * 1000))

    def gray(self, frame: _Frame) -> np.ndarray:
        if frame.gray is None:
            frame.gray = self._small(frame, "gray")
        return frame.gray

    def rgb(self, frame: _Frame) -> np.ndarray:
        if frame.rgb is None:
            frame.rgb = self._small(frame, "rgb24")
        return frame.rgb

    def _small(self, frame: _Frame, pixel_format: str) -> np.ndarray:
        return frame.av_frame.to_ndarray(
            format=pixel_format, width=self.small_width, height=self.small_height
        )

    def full(self, frame: _Frame) -> np.ndarray:
        return frame.av_frame.to_ndarray(format="rgb24")

    def to_source(self, box: Box) -> Box:
        left, top, right, bottom = (round(value * self.scale) for value in box)
        return (
            max(0, left),
            max(0, top),
            min(self.width - 1, right),
            min(self.height - 1, bottom),
        )


# --- detection ----------------------------------------------------------------------------


def _detect_in(image: np.ndarray) -> list[Box]:
    height, width = image.shape[:2]
    boxes = []
    for rectangle in dlibmodels.detector()(image, 0):
        left, top, right, bottom = dlibmodels.from_rectangle(rectangle)
        boxes.append((max(0, left), max(0, top), min(width - 1, right), min(height - 1, bottom)))
    return boxes


def _iou(a: Box, b: Box) -> float:
    width = min(a[2], b[2]) - max(a[0], b[0])
    height = min(a[3], b[3]) - max(a[1], b[1])
    if width <= 0 or height <= 0:
        return 0.0
    overlap = width * height
    area_a = (a[2] - a[0]) * (a[3] - a[1])
    area_b = (b[2] - b[0]) * (b[3] - b[1])
    return overlap / (area_a + area_b - overlap)


def _faces_around(image: np.ndarray, box: Box) -> list[Box]:
    """Faces in the region around `box` (frame pixels): a cheap search for a known face."""
    margin = round(SEARCH_MARGIN * max(box[2] - box[0], box[3] - box[1]))
    left, top = max(0, box[0] - margin), max(0, box[1] - margin)
    right = min(image.shape[1], box[2] + margin)
    bottom = min(image.shape[0], box[3] + margin)
    region = np.ascontiguousarray(image[top:bottom, left:right])
    return [(x0 + left, y0 + top, x1 + left, y1 + top) for x0, y0, x1, y1 in _detect_in(region)]


def _face_near(image: np.ndarray, box: Box) -> bool:
    return any(_iou(found, box) >= MIN_FOLLOW_IOU for found in _faces_around(image, box))


def _distinct(boxes: list[Box]) -> list[Box]:
    """Drop boxes found twice (by the searches around two neighbouring faces)."""
    kept: list[Box] = []
    for box in boxes:
        if all(_iou(box, other) < 0.5 for other in kept):
            kept.append(box)
    return kept


def _last_before_change(frames: Sequence[_Frame], changed: Callable[[_Frame], bool]) -> int:
    """Index of the last frame before the change, given frames[0] is before it and frames[-1]
    after it. A bisection: the face is assumed to enter or leave once in this stretch."""
    low, high = 0, len(frames) - 1
    while high - low > 1:
        middle = (low + high) // 2
        if changed(frames[middle]):
            high = middle
        else:
            low = middle
    return low


# --- tracking -----------------------------------------------------------------------------


@dataclass(eq=False)
class _Track:
    start_ms: float
    box: Box  # last seen, detection pixels
    last_seen: _Frame | None  # None once closed, to free the decoded picture
    end_ms: float | None = None  # set while the face is away: when it left
    samples: list[tuple[float, Box]] = field(default_factory=list)
    embeddings: list[np.ndarray] = field(default_factory=list)
    last_embedded_ms: float = float("-inf")
    looks: list[np.ndarray] = field(default_factory=list)  # `look`s confirmed by embeddings
    last_scored_ms: float = float("-inf")
    thumbnail_score: float = -1.0
    thumbnail_jpeg: bytes = b""

    @property
    def identity(self) -> np.ndarray:
        return np.mean(self.embeddings, axis=0)

    def distance(self, embedding: np.ndarray) -> float:
        return float(np.linalg.norm(self.identity - embedding))


class _Face:
    """A face detected in one sample; landmarks and embedding are computed when first asked."""

    def __init__(self, box: Box, frame: _Frame, video: _Video) -> None:
        self.box, self.frame, self.video = box, frame, video

    @functools.cached_property
    def shape(self) -> dlib.full_object_detection:
        return dlibmodels.landmarks(self.video.gray(self.frame), self.box)

    @functools.cached_property
    def embedding(self) -> np.ndarray:
        return dlibmodels.embedding(self.video.rgb(self.frame), self.shape)

    @functools.cached_property
    def frontalness(self) -> float:
        return _frontalness(self.shape)

    @functools.cached_property
    def look(self) -> np.ndarray:
        """A tiny normalised grey picture of the face, to notice cheaply that it changed."""
        left, top, right, bottom = self.box
        crop = self.video.gray(self.frame)[top:bottom, left:right]
        small = np.asarray(Image.fromarray(crop).resize((24, 24)), dtype=np.float32)
        return (small - small.mean()) / (small.std() + 1e-6)

    def resembles(self, looks: list[np.ndarray]) -> bool:
        return any(float(np.mean(self.look * look)) >= MIN_LOOKALIKE for look in looks)


class _Tracker:
    def __init__(self, video: _Video) -> None:
        self.video = video
        self.active: list[_Track] = []
        self.closed: list[_Track] = []
        # The frames decoded since the last whole-frame search, that one included: a newcomer
        # came on screen somewhere in them.
        self.since_scan: list[_Frame] = []

    def observe(self, sample: _Sample, scanned: list[Box] | None) -> None:
        """Follow, place or start a track for each face of the sample.

        `scanned` holds the faces found on the whole frame, or is None when only the regions
        around the known faces are to be searched.
        """
        self.since_scan += [*sample.between, sample.frame]
        boxes = scanned if scanned is not None else self._search_around_tracks(sample.frame)
        faces = [_Face(box, sample.frame, self.video) for box in boxes]
        unmatched_tracks, unmatched_faces = self._follow_by_overlap(sample, faces)
        for face in unmatched_faces:
            self._place(sample, face, unmatched_tracks)
        for track in unmatched_tracks:
            self._mark_missing(track, sample)
        if scanned is not None:
            # Only a whole-frame search can tell that a face is not back somewhere else.
            self._close_long_absences(sample.frame.t_ms)
            self.since_scan = [sample.frame]

    def _search_around_tracks(self, frame: _Frame) -> list[Box]:
        gray = self.video.gray(frame)
        return _distinct([box for track in self.active for box in _faces_around(gray, track.box)])

    def finish(self) -> list[_Track]:
        """Close the tracks still on screen at the last frame."""
        end_ms = self.video.last_frame.t_ms + self.video.frame_ms if self.video.last_frame else 0
        for track in self.active:
            if track.end_ms is None:
                track.end_ms = end_ms
        for track in list(self.active):
            self._close(track)
        return self.closed

    def _follow_by_overlap(
        self, sample: _Sample, faces: list[_Face]
    ) -> tuple[list[_Track], list[_Face]]:
        """Greedily pair faces with the tracks whose last box they overlap most."""
        pairs = sorted(
            (
                (_iou(face.box, track.box), index, track)
                for index, face in enumerate(faces)
                for track in self.active
            ),
            key=lambda pair: -pair[0],
        )
        tracks, face_indexes = list(self.active), set(range(len(faces)))
        for overlap, index, track in pairs:
            if overlap < MIN_FOLLOW_IOU:
                break
            if index in face_indexes and track in tracks:
                tracks.remove(track)
                face_indexes.discard(index)
                self._continue(track, sample, faces[index])
        return tracks, [faces[index] for index in sorted(face_indexes)]

    def _place(self, sample: _Sample, face: _Face, candidates: list[_Track]) -> None:
        """A face no box followed: the same person moved fast, or someone new."""
        embedding = face.embedding
        near = [track for track in candidates if track.distance(embedding) < SAME_PERSON_DISTANCE]
        if near:
            track = min(near, key=lambda track: track.distance(embedding))
            candidates.remove(track)
            self._continue(track, sample, face)
        else:
            self._start(sample, face, self._arrival_ms(face.box))

    def _continue(self, track: _Track, sample: _Sample, face: _Face) -> None:
        t_ms = sample.frame.t_ms
        checked = self._identity_check_due(track, face, t_ms)
        if checked and track.distance(face.embedding) >= SAME_PERSON_DISTANCE:
            self._switch_person(track, sample, face)
            return
        if track.end_ms is not None and not self._resume(track, sample, face):
            return
        if checked:
            self._remember_identity(track, face, t_ms)
        self._record(track, sample.frame, face)

    def _resume(self, track: _Track, sample: _Sample, face: _Face) -> bool:
        """The face is back: resume its track, unless it was away too long (then start anew)."""
        back_ms = self._return_ms(sample, track, face.box)
        if back_ms - (track.end_ms or 0) > MAX_ABSENCE_MS:
            self._close(track)
            self._start(sample, face, back_ms)
            return False
        track.end_ms = None
        return True

    @staticmethod
    def _identity_check_due(track: _Track, face: _Face, t_ms: float) -> bool:
        if face.frontalness < MIN_FRONTALNESS:
            return False
        return t_ms - track.last_embedded_ms >= REEMBED_MS or not face.resembles(track.looks)

    @staticmethod
    def _remember_identity(track: _Track, face: _Face, t_ms: float) -> None:
        track.embeddings.append(face.embedding)
        track.last_embedded_ms = t_ms
        track.looks = [*track.looks[-(MAX_LOOKS - 1) :], face.look]

    def _switch_person(self, track: _Track, sample: _Sample, face: _Face) -> None:
        """Someone else now stands where the followed face was: end one track, start another."""
        if track.end_ms is None:  # replaced between two samples (a cut)
            track.end_ms = self._edge_ms(sample.previous or sample.frame, sample.frame)
            start_ms = track.end_ms
        else:  # came while the followed face was away
            start_ms = self._return_ms(sample, track, face.box)
        self._close(track)
        self._start(sample, face, start_ms)

    def _start(self, sample: _Sample, face: _Face, start_ms: float) -> None:
        track = _Track(start_ms=start_ms, box=face.box, last_seen=sample.frame)
        self._remember_identity(track, face, sample.frame.t_ms)
        self._record(track, sample.frame, face)
        self.active.append(track)

    def _record(self, track: _Track, frame: _Frame, face: _Face) -> None:
        track.box, track.last_seen = face.box, frame
        track.samples.append((frame.t_ms, face.box))
        if frame.t_ms - track.last_scored_ms < THUMBNAIL_EVERY_MS:
            return
        track.last_scored_ms = frame.t_ms
        score = _thumbnail_score(self.video.gray(frame), face)
        if score > track.thumbnail_score:
            source_box = self.video.to_source(face.box)
            track.thumbnail_jpeg = _thumbnail_jpeg(self.video.full(frame), source_box)
            track.thumbnail_score = score

    def _mark_missing(self, track: _Track, sample: _Sample) -> None:
        """The face was not found in this sample: estimate when it left, once."""
        if track.end_ms is not None:
            return
        # A face still shown is found at every sample, so it was last seen at the previous one.
        assert track.last_seen is not None, "only open tracks go missing"
        frames = [track.last_seen, *sample.between, sample.frame]
        last_present = _last_before_change(frames, lambda frame: not self._shows(frame, track.box))
        track.end_ms = self._edge_ms(frames[last_present], frames[last_present + 1])

    def _arrival_ms(self, box: Box) -> float:
        """When a newcomer in `box` came on screen: since the last whole-frame search."""
        return self._entry_ms(self.since_scan, box)

    def _return_ms(self, sample: _Sample, track: _Track, box: Box) -> float:
        """When a face that was away came back to `box`.

        Where it left, it was searched for at the previous sample; anywhere else, only at the
        last whole-frame search.
        """
        if _iou(box, track.box) < MIN_FOLLOW_IOU:
            return self._entry_ms(self.since_scan, box)
        return self._entry_ms([sample.previous or sample.frame, *sample.between, sample.frame], box)

    def _entry_ms(self, frames: list[_Frame], box: Box) -> float:
        if len(frames) < 2:  # the very first frame
            return frames[-1].t_ms
        last_absent = _last_before_change(frames, lambda frame: self._shows(frame, box))
        return self._edge_ms(frames[last_absent], frames[last_absent + 1])

    def _shows(self, frame: _Frame, box: Box) -> bool:
        return _face_near(self.video.gray(frame), box)

    def _edge_ms(self, before: _Frame, after: _Frame) -> float:
        """When the picture changed, between two decoded frames that differ.

        With every frame decoded the change is exactly at `after`; when frames were skipped in
        between, it could be at any of them, so the middle of that range is the best guess.
        """
        earliest = min(before.t_ms + self.video.frame_ms, after.t_ms)
        return (earliest + after.t_ms) / 2

    def _close_long_absences(self, now_ms: float) -> None:
        for track in list(self.active):
            if track.end_ms is not None and now_ms - track.end_ms > MAX_ABSENCE_MS:
                self._close(track)

    def _close(self, track: _Track) -> None:
        self.active.remove(track)
        self.closed.append(track)
        track.last_seen = None


# --- thumbnails ---------------------------------------------------------------------------


def _thumbnail_score(image: np.ndarray, face: _Face) -> float:
    """Sharper and more frontal is better: Laplacian variance times landmark symmetry."""
    left, top, right, bottom = face.box
    if right - left < 2 or bottom - top < 2:
        return 0.0
    gray = np.asarray(Image.fromarray(image[top:bottom, left:right]).resize((96, 96)))
    return _sharpness(gray.astype(np.float32)) * face.frontalness


def _sharpness(gray: np.ndarray) -> float:
    laplacian = (
        4 * gray[1:-1, 1:-1] - gray[:-2, 1:-1] - gray[2:, 1:-1] - gray[1:-1, :-2] - gray[1:-1, 2:]
    )
    return float(laplacian.var())


def _frontalness(shape: dlib.full_object_detection) -> float:
    """1 when the nose tip is as far from both outer eye corners (facing the camera)."""
    points = dlibmodels.landmark_array(shape)
    nose, left_eye, right_eye = points[30], points[36], points[45]
    to_left, to_right = np.linalg.norm(nose - left_eye), np.linalg.norm(nose - right_eye)
    return float(min(to_left, to_right) / max(to_left, to_right, 1e-6))


def _thumbnail_jpeg(frame_rgb: np.ndarray, box: Box) -> bytes:
    """A padded square crop around the face, at most THUMBNAIL_PX wide, as JPEG."""
    height, width = frame_rgb.shape[:2]
    side = round(max(box[2] - box[0], box[3] - box[1]) * (1 + THUMBNAIL_PADDING))
    side = min(side, width, height)
    center_x, center_y = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    left = int(min(max(center_x - side / 2, 0), width - side))
    top = int(min(max(center_y - side / 2, 0), height - side))
    crop = Image.fromarray(frame_rgb[top : top + side, left : left + side])
    if side > THUMBNAIL_PX:
        crop = crop.resize((THUMBNAIL_PX, THUMBNAIL_PX), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    crop.save(buffer, format="JPEG", quality=88)
    return buffer.getvalue()


# --- results ------------------------------------------------------------------------------


def _results(tracks: list[_Track], video: _Video) -> list[FaceTrackResult]:
    kept = sorted(
        (track for track in tracks if len(track.samples) >= MIN_DETECTIONS),
        key=lambda track: track.start_ms,
    )
    results = [
        FaceTrackResult(
            track_id=index,
            person=0,
            start_ms=round(track.start_ms),
            end_ms=round(track.end_ms or 0),
            samples=tuple(
                TrackSample(t_ms=round(t_ms), box=video.to_source(box))
                for t_ms, box in track.samples
            ),
            thumbnail_jpeg=track.thumbnail_jpeg,
            embedding=tuple(float(value) for value in track.identity),
        )
        for index, track in enumerate(kept)
    ]
    # `person` counts from 0 here, as it always has; people.group_people numbers from 1.
    person_of = {
        index: found.person_id - 1
        for found in group_people(results)
        for index in found.track_indexes
    }
    return [replace(result, person=person_of[index]) for index, result in enumerate(results)]
