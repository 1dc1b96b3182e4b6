"""Face identification of the local engine, on small videos made from real face photographs.

Each video is generated once per module (a few seconds, 640x360 at 12 fps) and identified
once; the tests then compare the tracks with the generator's ground truth.
"""

from __future__ import annotations

import io
import json

import av
import numpy as np
import pytest
from PIL import Image

from projects.engines.local import dlibmodels
from projects.engines.local.faces import (
    FaceTrackResult,
    TrackSample,
    embed_face_image,
    identify_faces,
)
from projects.engines.people import SAME_PERSON_DISTANCE, embedding_distance
from tests.support.facevideos import (
    ASTRONAUT,
    LFW,
    Appearance,
    TruthWindow,
    card_box,
    face_card,
    write_face_video,
)

TOLERANCE_MS = 200
SIZE = (640, 360)


def identified(
    tmp_path_factory: pytest.TempPathFactory,
    appearances: list[Appearance],
    duration_ms: int,
    size: tuple[int, int] = SIZE,
    **options: int,
) -> tuple[list[FaceTrackResult], list[TruthWindow]]:
    path = tmp_path_factory.mktemp("faces") / "video.mp4"
    truth = write_face_video(path, appearances, duration_ms=duration_ms, size=size)
    return identify_faces(path, **options), truth


def assert_windows_match(tracks: list[FaceTrackResult], truth: list[TruthWindow]) -> None:
    found = [(track.start_ms, track.end_ms) for track in tracks]
    expected = [(window.start_ms, window.end_ms) for window in sorted(truth, key=_start)]
    assert len(found) == len(expected), f"tracks {found}, expected {expected}"
    for (start, end), (true_start, true_end) in zip(found, expected, strict=True):
        assert abs(start - true_start) <= TOLERANCE_MS, f"start {start} vs {true_start}"
        assert abs(end - true_end) <= TOLERANCE_MS, f"end {end} vs {true_end}"


def _start(window: TruthWindow) -> int:
    return window.start_ms


def inside(box: tuple[int, int, int, int], outer: tuple[int, int, int, int]) -> bool:
    return outer[0] <= box[0] < box[2] <= outer[2] and outer[1] <= box[1] < box[3] <= outer[3]


# --- one face ---------------------------------------------------------------------------------

ONE_FACE = Appearance(ASTRONAUT, 1000, 5000, center=(0.4, 0.5), drift_px_per_s=40)


@pytest.fixture(scope="module")
def one_face(tmp_path_factory):
    return identified(tmp_path_factory, [ONE_FACE], duration_ms=6000)


def test_one_face_gives_one_track_in_its_true_window(one_face):
    tracks, truth = one_face
    assert_windows_match(tracks, truth)
    assert tracks[0].track_id == 0
    assert tracks[0].person == 0


def test_track_boxes_follow_the_moving_face_in_source_pixels(one_face):
    tracks, _ = one_face
    for sample in tracks[0].samples:
        assert inside(sample.box, card_box(ONE_FACE, sample.t_ms, SIZE)), sample
    first, last = tracks[0].samples[0].box, tracks[0].samples[-1].box
    moved = last[0] - first[0]
    assert 0.5 * 40 * 4 < moved < 1.5 * 40 * 4  # 40 px/s for about 4 s


def test_thumbnail_is_a_square_jpeg_of_the_face(one_face):
    tracks, _ = one_face
    thumbnail = Image.open(io.BytesIO(tracks[0].thumbnail_jpeg))
    assert thumbnail.format == "JPEG"
    assert thumbnail.width == thumbnail.height >= 100
    boxes = dlibmodels.detector()(np.asarray(thumbnail.convert("RGB")), 1)
    assert len(boxes) == 1, "the thumbnail should show the face, whole"


def test_boxes_are_scaled_back_to_source_pixels_when_detection_is_downscaled(tmp_path_factory):
    size = (960, 540)
    appearance = Appearance(ASTRONAUT, 0, 2000, center=(0.5, 0.5), height_frac=0.8)
    tracks, truth = identified(
        tmp_path_factory, [appearance], duration_ms=2500, size=size, detect_width=480
    )
    assert_windows_match(tracks, truth)
    card = card_box(appearance, 0, size)
    for sample in tracks[0].samples:
        assert inside(sample.box, card)
        # The astronaut's face is about 45 % of the card's width.
        assert 0.3 < (sample.box[2] - sample.box[0]) / (card[2] - card[0]) < 0.6


# --- several people ---------------------------------------------------------------------------

LEFT = Appearance(ASTRONAUT, 500, 4500, center=(0.27, 0.5))
RIGHT = Appearance(LFW, 2000, 6500, center=(0.75, 0.5))


@pytest.fixture(scope="module")
def two_people(tmp_path_factory):
    return identified(tmp_path_factory, [LEFT, RIGHT], duration_ms=7500)


def test_two_people_entering_and_leaving_give_two_tracks_in_their_windows(two_people):
    tracks, truth = two_people
    assert_windows_match(tracks, truth)
    assert [track.track_id for track in tracks] == [0, 1]


def test_two_people_are_two_persons_each_followed_on_their_own_side(two_people):
    tracks, _ = two_people
    astronaut, other = tracks
    assert astronaut.person != other.person
    assert all(inside(s.box, card_box(LEFT, s.t_ms, SIZE)) for s in astronaut.samples)
    assert all(inside(s.box, card_box(RIGHT, s.t_ms, SIZE)) for s in other.samples)


def test_the_two_test_faces_are_really_different_people():
    """The fixture's premise: dlib itself tells the two photographs apart."""
    embeddings = []
    for face in (ASTRONAUT, LFW):
        frame = np.full((360, 640, 3), 110, np.uint8)
        card = np.asarray(Image.fromarray(face_card(face)).resize((240, 240)))
        frame[60:300, 200:440] = card
        box = dlibmodels.from_rectangle(dlibmodels.detector()(frame, 0)[0])
        embeddings.append(dlibmodels.embedding(frame, dlibmodels.landmarks(frame, box)))
    assert np.linalg.norm(embeddings[0] - embeddings[1]) > 0.6


# --- absences -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def comes_back(tmp_path_factory):
    leaves = Appearance(ASTRONAUT, 500, 2500, center=(0.3, 0.5))
    returns = Appearance(ASTRONAUT, 4000, 6500, center=(0.65, 0.5))
    return identified(tmp_path_factory, [leaves, returns], duration_ms=7000)


def test_a_person_away_for_more_than_a_second_comes_back_as_a_new_track(comes_back):
    tracks, truth = comes_back
    assert_windows_match(tracks, truth)
    assert [track.track_id for track in tracks] == [0, 1]
    assert tracks[0].person == tracks[1].person


def test_each_track_carries_its_face_embedding(two_people, comes_back):
    astronaut, other = two_people[0]
    leaves, returns = comes_back[0]
    for track in (astronaut, other, leaves, returns):
        assert len(track.embedding) == 128
    assert embedding_distance(leaves.embedding, returns.embedding) < SAME_PERSON_DISTANCE
    assert embedding_distance(astronaut.embedding, leaves.embedding) < SAME_PERSON_DISTANCE
    assert embedding_distance(astronaut.embedding, other.embedding) > SAME_PERSON_DISTANCE


TURNS_AWAY = Appearance(ASTRONAUT, 500, 5500, center=(0.5, 0.5), turned_away=((2500, 3100),))


def test_the_turned_away_face_is_really_not_detectable(tmp_path):
    path = tmp_path / "turned.mp4"
    write_face_video(path, [TURNS_AWAY], duration_ms=6000)
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            t_ms = frame.time * 1000
            faces = dlibmodels.detector()(frame.to_ndarray(format="rgb24"), 0)
            turned = 2500 <= t_ms < 3100
            if turned or 600 <= t_ms < 5400:
                assert len(faces) == (0 if turned else 1), t_ms


def test_a_face_turning_away_briefly_keeps_its_track(tmp_path_factory):
    tracks, truth = identified(tmp_path_factory, [TURNS_AWAY], duration_ms=6000)
    assert_windows_match(tracks, truth)
    box = tracks[0].box_at(2800)
    assert box is not None and inside(box, card_box(TURNS_AWAY, 500, SIZE))


def test_a_person_back_elsewhere_within_a_second_keeps_one_track(tmp_path_factory):
    leaves = Appearance(ASTRONAUT, 500, 3200, center=(0.25, 0.5))
    returns = Appearance(ASTRONAUT, 4050, 6500, center=(0.75, 0.5))  # 850 ms later
    tracks, truth = identified(tmp_path_factory, [leaves, returns], duration_ms=7000)
    merged = TruthWindow(ASTRONAUT, truth[0].start_ms, truth[1].end_ms)
    assert truth[1].start_ms - truth[0].end_ms < 1000
    assert_windows_match(tracks, [merged])


@pytest.mark.parametrize("gap_ms", [0, 500], ids=["cut", "half-second-gap"])
def test_another_person_in_the_same_place_starts_a_new_track(tmp_path_factory, gap_ms):
    first = Appearance(ASTRONAUT, 500, 3300, center=(0.5, 0.5))
    second = Appearance(LFW, 3300 + gap_ms, 6500, center=(0.5, 0.5), height_frac=0.6)
    tracks, truth = identified(tmp_path_factory, [first, second], duration_ms=7000)
    assert_windows_match(tracks, truth)
    assert tracks[0].person != tracks[1].person


def test_a_video_without_faces_gives_no_tracks(tmp_path_factory):
    tracks, truth = identified(tmp_path_factory, [], duration_ms=2000)
    assert tracks == [] and truth == []


# --- bad input --------------------------------------------------------------------------------


def test_a_corrupt_file_raises_value_error(tmp_path):
    path = tmp_path / "corrupt.mp4"
    path.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 40)
    with pytest.raises(ValueError, match="could not be read"):
        identify_faces(path)


def test_a_truncated_video_raises_value_error(tmp_path):
    whole = tmp_path / "whole.mp4"
    write_face_video(whole, [ONE_FACE], duration_ms=2000)
    truncated = tmp_path / "truncated.mp4"
    truncated.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    with pytest.raises(ValueError):
        identify_faces(truncated)


def test_a_file_without_video_raises_value_error(tmp_path):
    path = tmp_path / "audio.wav"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("pcm_s16le", rate=8000)
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 8000), np.int16), layout="mono")
        frame.rate = 8000
        container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    with pytest.raises(ValueError, match="no video"):
        identify_faces(path)


# --- the result type ------------------------------------------------------------------------


def make_track(samples: tuple[TrackSample, ...]) -> FaceTrackResult:
    return FaceTrackResult(
        track_id=3,
        person=1,
        start_ms=1000,
        end_ms=3000,
        samples=samples,
        thumbnail_jpeg=b"\xff\xd8 not really a jpeg \xff\xd9",
    )


def test_to_dict_and_from_dict_round_trip_through_json(one_face):
    for track in [*one_face[0], make_track((TrackSample(1000, (1, 2, 3, 4)),))]:
        text = json.dumps(track.to_dict())
        assert FaceTrackResult.from_dict(json.loads(text)) == track


def test_box_at_interpolates_between_samples_and_is_none_outside_the_window():
    track = make_track(
        (TrackSample(1100, (100, 100, 200, 200)), TrackSample(2100, (200, 120, 300, 220)))
    )
    assert track.box_at(1600) == (150, 110, 250, 210)
    assert track.box_at(1350) == (125, 105, 225, 205)
    assert track.box_at(1000) == (100, 100, 200, 200)  # before the first sample: held
    assert track.box_at(3000) == (200, 120, 300, 220)  # after the last sample: held
    assert track.box_at(999) is None
    assert track.box_at(3001) is None


def test_box_at_follows_a_real_track(one_face):
    tracks, _ = one_face
    track = tracks[0]
    for before, after in zip(track.samples, track.samples[1:], strict=False):
        middle = track.box_at((before.t_ms + after.t_ms) // 2)
        assert middle is not None
        assert min(before.box[0], after.box[0]) <= middle[0] <= max(before.box[0], after.box[0])


# --- landmarks ----------------------------------------------------------------------------


def test_mouth_points_lie_in_the_lower_half_of_the_face_box(tmp_path):
    path = tmp_path / "mouth.mp4"
    write_face_video(path, [ONE_FACE], duration_ms=2000)
    with av.open(str(path)) as container:
        frame = next(f for f in container.decode(video=0) if f.time >= 1.5)
    rgb = frame.to_ndarray(format="rgb24")
    left, top, right, bottom = dlibmodels.from_rectangle(dlibmodels.detector()(rgb, 0)[0])
    points = dlibmodels.mouth_points(rgb, (left, top, right, bottom))
    assert points.shape == (20, 2)
    middle = (top + bottom) / 2
    assert np.all((points[:, 0] > left) & (points[:, 0] < right))
    assert np.all((points[:, 1] > middle) & (points[:, 1] < bottom))
    # A mouth is wider than tall, and centred under the nose.
    width, height = np.ptp(points, axis=0)
    assert width > height
    assert abs(points[:, 0].mean() - (left + right) / 2) < 0.15 * (right - left)


def test_an_engines_face_picture_gives_the_same_persons_embedding(two_people):
    astronaut, other = two_people[0]
    found = embed_face_image(astronaut.thumbnail_jpeg)
    assert embedding_distance(found, astronaut.embedding) < 0.3
    assert embedding_distance(found, other.embedding) > SAME_PERSON_DISTANCE
    assert embed_face_image(b"not a picture") == ()
