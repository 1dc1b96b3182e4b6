"""The mouth warp on real faces, before any encoding: where it changes pixels, what stays put,
what moves as one piece, and what the opening looks like."""

from __future__ import annotations

import numpy as np
import pytest

from projects.engines.local import audio, sounds, tts
from projects.engines.local.faces import identify_faces
from projects.engines.local.mouth import (
    MAX_DROP_PER_WIDTH,
    MouthAnimator,
    MouthGeometry,
    MouthMotion,
    motion_for,
    warp_mouth,
)
from projects.engines.local.render import _dlib_landmarks
from tests.support import mouthmeasure
from tests.support.facevideos import ASTRONAUT, LFW
from tests.support.mouthpreview import FPS, talking_head
from tests.support.talking_heads import decode_frames

LINE = "Good morning! My brother Paul and I will be there at about five."


def one_hot(klass: int) -> np.ndarray:
    weights = np.zeros(len(sounds.CLASSES))
    weights[klass] = 1
    return weights


@pytest.fixture(scope="module", params=[ASTRONAUT, LFW])
def head(request, tmp_path_factory) -> dict:
    """A real face's talking-head frames, its track and its landmarks per frame."""
    folder = tmp_path_factory.mktemp("mouth")
    video = talking_head(folder / "face.mp4", request.param)
    frames = decode_frames(video)
    track = identify_faces(video)[0]
    boxes = [track.box_at(round(n * 1000 / FPS)) for n in range(len(frames))]
    landmarks = [mouthmeasure.landmarks(f, b) for f, b in zip(frames, boxes, strict=True)]
    return {"folder": folder, "frames": frames, "boxes": boxes, "landmarks": landmarks}


def speak_line(head: dict, *, phonemes: bool) -> list[np.ndarray]:
    """The head's frames with the mouth moved for LINE, as the renderer moves it."""
    wav = head["folder"] / "line.wav"
    spoken = tts.synthesize_timed(LINE, "ai_kaiya", "en", 1.0, wav)
    frames = head["frames"]
    speech = audio.fit_length(audio.decode_audio(wav), audio.ms_to_samples(len(frames) * 40))
    features = sounds.speech_features(
        speech, FPS, len(frames), spoken.phonemes if phonemes else None
    )
    animator = MouthAnimator(_dlib_landmarks)
    results = []
    for number, (frame, box) in enumerate(zip(frames, head["boxes"], strict=True)):
        image = frame.copy()
        animator.animate(
            image, box, motion_for(float(features.openness[number]), features.classes[number])
        )
        results.append(image)
    return results


@pytest.mark.parametrize("phonemes", [True, False], ids=["text", "uploaded"])
def test_the_change_stays_in_the_lips_and_jaw(head, phonemes):
    """At least 95 % of the absolute change over the line's frames lies inside the dilated
    outer lips and the jaw under them (with room for the jaw's drop)."""
    results = speak_line(head, phonemes=phonemes)
    share = mouthmeasure.change_inside_share(
        (source, result, mouthmeasure.lip_and_jaw_mask(points, source.shape))
        for source, result, points in zip(head["frames"], results, head["landmarks"], strict=True)
    )
    assert share >= 0.95, f"{share:.3f} of the change is in the lip-and-jaw region"
    assert any(
        np.abs(r.astype(int) - s).max() > 60 for s, r in zip(head["frames"], results, strict=True)
    )


def wide_open(head: dict, klass: int = sounds.OPEN) -> tuple[np.ndarray, np.ndarray, MouthGeometry]:
    frame, points = head["frames"][0], head["landmarks"][0]
    geometry = MouthGeometry.from_landmarks(points)
    result = frame.copy()
    warp_mouth(result, geometry, motion_for(1.0, one_hot(klass)))
    return frame, result, geometry


def test_the_upper_lip_stays_put(head):
    frame, result, _ = wide_open(head)
    points = head["landmarks"][0]
    # The upper lip's middle half, between its top edge and its inner edge.
    left, right = np.percentile(points[48:55, 0], [25, 75]).astype(int)
    top, bottom = int(points[50:53, 1].min()), int(points[61:64, 1].min())
    upper = (slice(top, bottom), slice(left, right))
    change = np.abs(result[upper].astype(int) - frame[upper]).mean()
    assert change < 3, change


def test_the_lower_lip_moves_down_as_one_piece(head):
    """The lower lip's middle is the source's lower lip, shifted down by the jaw's drop: its
    texture is carried, not stretched."""
    frame, result, geometry = wide_open(head)
    points = head["landmarks"][0]
    drop = round(MAX_DROP_PER_WIDTH * geometry.width)
    x = int(points[66, 0])
    columns = slice(x - 2, x + 3)
    lip = slice(int(points[66, 1]), int(points[57, 1]) + 1)
    source_lip = frame[lip, columns].astype(int)
    errors = {
        shift: np.abs(result[lip.start + shift : lip.stop + shift, columns] - source_lip).mean()
        for shift in range(0, drop + 4)
    }
    best = min(errors, key=errors.get)
    assert abs(best - drop) <= 2, (best, drop)
    assert errors[best] < 12, errors[best]


def test_the_opening_is_dark_and_stays_between_the_lip_corners(head):
    frame, result, geometry = wide_open(head)
    points = head["landmarks"][0]
    opening = mouthmeasure.opening(frame, result, points)
    assert opening.height >= 0.3 * geometry.width
    _, columns = np.nonzero(mouthmeasure.opening_mask(frame, result, points))
    assert columns.min() >= points[48, 0] - 1 and columns.max() <= points[54, 0] + 1
    inside = mouthmeasure.opening_mask(frame, result, points)
    assert mouthmeasure._luma(result)[inside].mean() < 60  # dark, like a mouth's inside


def test_shapes_by_sound_class(head):
    """Round is narrowest for its height, spread widest, closed does not open at all."""
    ratios = {}
    for klass in (sounds.ROUND, sounds.OPEN, sounds.SPREAD):
        frame, result, _ = wide_open(head, klass)
        ratios[klass] = mouthmeasure.opening(frame, result, head["landmarks"][0]).ratio
    assert ratios[sounds.ROUND] * 1.2 <= ratios[sounds.OPEN]
    assert ratios[sounds.OPEN] * 1.2 <= ratios[sounds.SPREAD]
    frame, result, _ = wide_open(head, sounds.CLOSED)
    assert mouthmeasure.opening(frame, result, head["landmarks"][0]).height == 0


def test_upper_teeth_are_drawn_for_a_closed_mouth_opened_wide(head):
    """A mouth shut in the source shows no teeth of its own: a hint of upper teeth is drawn
    just under the upper lip when it opens wide, not when it opens a little. A mouth that
    already shows teeth keeps its own (above the lower lip's inner edge) and gets none drawn."""
    frame, found = head["frames"][0], head["landmarks"][0]
    shut = found.copy()
    shut[[61, 62, 63]] = shut[[67, 66, 65]]  # as if the inner lips met: no teeth show

    def under_the_upper_lip(points: np.ndarray, openness: float) -> float:
        geometry = MouthGeometry.from_landmarks(points)
        result = frame.copy()
        warp_mouth(result, geometry, motion_for(openness, one_hot(sounds.OPEN)))
        x, y = int(points[66, 0]), int(np.ceil(points[66, 1]))
        return float(mouthmeasure._luma(result[y + 1 : y + 3, x - 1 : x + 2]).mean())

    assert MouthGeometry.from_landmarks(shut).source_gap == 0
    assert under_the_upper_lip(shut, 1.0) > 130  # teeth
    assert under_the_upper_lip(shut, 0.25) < 90  # the dark inside
    if MouthGeometry.from_landmarks(found).source_gap > 0.09 * mouthmeasure.mouth_width(found):
        assert under_the_upper_lip(found, 1.0) < 90


def test_a_still_motion_changes_nothing(head):
    frame = head["frames"][0]
    result = frame.copy()
    warp_mouth(result, MouthGeometry.from_landmarks(head["landmarks"][0]), MouthMotion(0, 1, 1))
    assert np.array_equal(result, frame)


def test_the_box_fallback_lands_on_the_mouth(head):
    """When the landmark model fails, the face box's template still puts the mouth near it."""
    box, points = head["boxes"][0], head["landmarks"][0]
    guessed = MouthGeometry.from_box(box)
    found = MouthGeometry.from_landmarks(points)
    face = box[2] - box[0]
    assert np.hypot(*(guessed.origin - found.origin)) < 0.12 * face
    assert guessed.width == pytest.approx(found.width, rel=0.35)
