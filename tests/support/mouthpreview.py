"""Talking heads lip-synced by the local engine, and the before/after strip of their mouths.

    python -m tests.support.mouthpreview docs/local-engine-mouth.png

renders a real face (the astronaut photograph) saying a short sentence with the local
engine's text path and writes the strip that the README shows; the tests write the same kind
of strip under test-artifacts/.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from projects.engines.local import tts
from projects.engines.local.faces import identify_faces
from projects.engines.local.render import render_basic
from tests.support import mouthmeasure
from tests.support.facevideos import ASTRONAUT, Appearance, write_face_video
from tests.support.talking_heads import decode_frames

FPS = 25
VOICE = "oversea_male1"
PREVIEW_TEXT = "Hello! My name is Anna. How are you today?"


def talking_head(path: Path, face: str = ASTRONAUT, duration_ms: int = 6000) -> Path:
    """A 640x360, 25 fps video of one still real face, as the tests' talking heads are."""
    if not path.exists():
        write_face_video(path, [Appearance(face, 0, duration_ms)], duration_ms=duration_ms, fps=FPS)
    return path


@dataclass
class Rendered:
    """A lip-synced video's frames beside the source frames they were made from."""

    sources: list[np.ndarray]
    results: list[np.ndarray]
    boxes: list[tuple[int, int, int, int]]  # the face track's
    landmarks: list[np.ndarray]  # dlib's, on the source frames
    speech: Path
    spoken: tts.SpokenText


def say(
    video: Path, text: str, folder: Path, *, with_phonemes: bool = True, voice: str = VOICE
) -> Rendered:
    """Lip-sync `video` to `text` spoken by the local voice, as the engine's text mode does
    (or, without phonemes, as for an uploaded recording of the same speech)."""
    speech = folder / f"speech-{abs(hash((text, voice)))}.wav"
    spoken = tts.synthesize_timed(text, voice, "en", 1.0, speech)
    out = folder / f"said-{abs(hash((text, voice, with_phonemes)))}.mp4"
    tracks = identify_faces(video)
    phonemes = spoken.phonemes if with_phonemes else None
    render_basic(video, speech, tracks, out, phonemes=phonemes)
    results = decode_frames(out)
    sources = decode_frames(video)[: len(results)]
    boxes = [tracks[0].box_at(round(number * 1000 / FPS)) for number in range(len(sources))]
    landmarks = [
        mouthmeasure.landmarks(frame, box) for frame, box in zip(sources, boxes, strict=True)
    ]
    return Rendered(sources, results, boxes, landmarks, speech, spoken)


def write_strip(
    rendered: Rendered, path: Path, *, step: int = 2, columns: int = 30, crop_height: int = 120
) -> Path:
    """Before (top) and after (bottom) mouth crops of every `step`-th frame."""
    numbers = list(range(0, len(rendered.results), step))[:columns]
    return mouthmeasure.before_after_strip(
        [(rendered.sources[n], rendered.results[n]) for n in numbers],
        lambda index: rendered.landmarks[numbers[index]],
        path,
        crop_height=crop_height,
    )


def main(argv: list[str]) -> None:
    import tempfile

    target = Path(argv[0]) if argv else Path("docs/local-engine-mouth.png")
    with tempfile.TemporaryDirectory() as folder:
        video = talking_head(Path(folder) / "face.mp4", duration_ms=4000)
        rendered = say(video, PREVIEW_TEXT, Path(folder))
        write_strip(rendered, target, step=4, columns=12, crop_height=96)
    # A 256-colour palette keeps the README's picture small.
    with Image.open(target) as strip:
        strip.convert("RGB").quantize(256).save(target, optimize=True)
    print(target)


if __name__ == "__main__":
    main(sys.argv[1:])
