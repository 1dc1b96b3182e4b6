"""Benchmark: how fast the local engine lip-syncs a 720p face video (real-time factor), and
how its mouth looks by the numbers.

Renders a 12 s 1280x720 25 fps video of a real face (scikit-image's astronaut photograph)
with a 10 s speech-like clip inserted, then with synthesised speech (which moves the mouth
through all its shapes), and prints one JSON object. The input is generated once under
var/bench/ and reused. Target: at least real time (factor >= 1.0) on the app's machine.

The mouth's figures come from the test measures (tests/support/mouthmeasure.py) on 640x360
talking heads of two real faces: the share of the change inside the lips and jaw, how well the
opening follows the speech envelope, the opening's width/height on "ooh", "aah" and "eee",
the widest opening on m/b/p, and the sound model's accuracy on held-out synthesised speech.
"""

from __future__ import annotations

import json
import sys
import time
import wave
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from projects.engines.local.faces import identify_faces  # noqa: E402
from projects.engines.local.render import render_advanced  # noqa: E402

BENCH_DIR = ROOT / "var" / "bench"
VIDEO = BENCH_DIR / "face_720p_12s.mp4"
CLIP = BENCH_DIR / "speech_like_10s.wav"
SIZE = (1280, 720)
FPS = 25
DURATION_S = 12
CLIP_S = 10
TARGET = 1.0
SPEECH = BENCH_DIR / "speech_tts.wav"
SPEECH_TEXT = (
    "Good morning everyone. My name is Paul, and today we look at the new plans for the "
    "harbour. Please ask questions."
)


def face_frame() -> np.ndarray:
    from skimage import data

    width, height = SIZE
    ramp = np.linspace(80, 160, width, dtype=np.float32)[None, :, None]
    frame = np.broadcast_to(ramp * np.array([0.9, 1.0, 1.1]), (height, width, 3))
    frame = frame.astype(np.uint8).copy()
    side = int(height * 0.7)
    card = Image.fromarray(data.astronaut()[30:230, 120:320]).resize((side, side))
    top, left = (height - side) // 2, (width - side) // 2
    frame[top : top + side, left : left + side] = np.asarray(card)
    return frame


def write_video() -> None:
    """A still face that drifts a few pixels per second, so the track and landmarks follow it."""
    base = face_frame()
    with av.open(str(VIDEO), "w") as container:
        stream = container.add_stream("libx264", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = *SIZE, "yuv420p"
        stream.options = {"preset": "veryfast", "crf": "20"}
        for number in range(DURATION_S * FPS):
            shifted = np.roll(base, number // 5, axis=1)
            frame = av.VideoFrame.from_ndarray(shifted, format="rgb24")
            frame.pts, frame.time_base = number, Fraction(1, FPS)
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))


def write_clip(rate: int = 22_050) -> None:
    """Voiced syllables: harmonics of 140 Hz under a 3-4 Hz opening and closing envelope."""
    t = np.arange(CLIP_S * rate) / rate
    envelope = np.clip(np.sin(2 * np.pi * 1.8 * t), 0, None) ** 1.5
    voice = sum(np.sin(2 * np.pi * 140 * k * t) / k for k in range(1, 9))
    samples = (0.3 * envelope * voice / 2.7 * 32767).astype("<i2")
    with wave.open(str(CLIP), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(samples.tobytes())


def mouth_figures() -> dict:
    """The mouth's quality figures and their targets, on real faces (see the module doc)."""
    import tempfile

    from projects.engines.local import audio, sounds, train_sounds
    from tests.support import mouthmeasure
    from tests.support.facevideos import ASTRONAUT, LFW
    from tests.support.mouthpreview import FPS, say, talking_head

    figures: dict = {}
    with tempfile.TemporaryDirectory(dir=BENCH_DIR) as folder:
        folder = Path(folder)
        for face in (ASTRONAUT, LFW):
            video = talking_head(folder / f"{face}.mp4", face)
            said = say(video, "Hello there, how are you today? I hope the weather is fine.",
                       folder, with_phonemes=False)  # fmt: skip
            heights = [
                mouthmeasure.opening(s, r, p).height
                for s, r, p in zip(said.sources, said.results, said.landmarks, strict=True)
            ]
            envelope = audio.frame_rms(audio.decode_audio(said.speech), FPS, len(heights))
            figures[f"{face}_envelope_r"] = round(mouthmeasure.pearson(heights, envelope), 3)
            line = say(video, "My mother made plum pie, Bob. Maybe more soup, please.", folder)
            width = mouthmeasure.mouth_width(line.landmarks[0])
            closed = [
                round((p.start_ms + p.end_ms) / 2 * FPS / 1000)
                for p in line.spoken.phonemes
                if p.name in ("m", "b", "p")
            ]
            figures[f"{face}_widest_opening_on_m_b_p_per_width"] = round(
                max(
                    mouthmeasure.opening(line.sources[n], line.results[n], line.landmarks[n]).height
                    for n in closed
                )
                / width,
                3,
            )
            vowels = say(video, "Ooh... Aah... Eee.", folder)
            for phoneme in vowels.spoken.phonemes:
                if phoneme.name:
                    length = phoneme.end_ms - phoneme.start_ms
                    middle = [
                        n
                        for n in range(len(vowels.results))
                        if 0.3 <= (n * 1000 / FPS - phoneme.start_ms) / length <= 0.7
                    ]
                    ratio = np.median([
                        mouthmeasure.opening(
                            vowels.sources[n], vowels.results[n], vowels.landmarks[n]
                        ).ratio
                        for n in middle
                    ])  # fmt: skip
                    figures[f"{face}_width_per_height_{phoneme.name.strip('ˈː')}"] = round(
                        float(ratio), 2
                    )
    features, labels = train_sounds.labelled_frames(train_sounds.corpus(held_out=True))
    scores = train_sounds.accuracy(sounds.sound_model(), features, labels)
    figures["sound_model_held_out_accuracy"] = round(scores["overall"], 3)
    return figures


def mouth_targets_met(figures: dict) -> bool:
    met = figures["sound_model_held_out_accuracy"] >= 0.75
    for face in ("astronaut", "lfw"):
        met &= figures[f"{face}_envelope_r"] >= 0.8
        met &= figures[f"{face}_widest_opening_on_m_b_p_per_width"] <= 0.1
        u, a, i = (figures[f"{face}_width_per_height_{v}"] for v in ("u", "ɑ", "i"))
        met &= a >= 1.2 * u and i >= 1.2 * a
    return bool(met)


def write_speech() -> None:
    from projects.engines.local.tts import synthesize

    synthesize(SPEECH_TEXT, "oversea_male1", "en", 0.9, SPEECH)


def main() -> None:
    BENCH_DIR.mkdir(parents=True, exist_ok=True)
    if not VIDEO.exists():
        write_video()
    if not CLIP.exists():
        write_clip()
    if not SPEECH.exists():
        write_speech()
    started = time.perf_counter()
    tracks = identify_faces(VIDEO)
    identify_s = time.perf_counter() - started
    track = max(tracks, key=lambda t: t.end_ms - t.start_ms)
    timings = {}
    runs = (
        ("render", CLIP, None),
        ("render_with_watermark", CLIP, BENCH_DIR / "out_wm.mp4"),
        ("render_speech", SPEECH, None),
    )
    for name, clip, watermark in runs:
        started = time.perf_counter()
        result = render_advanced(
            VIDEO,
            clip,
            track,
            sound_start_ms=0,
            sound_end_ms=CLIP_S * 1000,
            sound_insert_ms=1000,
            out_path=BENCH_DIR / "out.mp4",
            watermark_out_path=watermark,
        )
        timings[name] = time.perf_counter() - started
    video_s = result.duration_ms / 1000
    factor = video_s / timings["render"]
    speech_factor = video_s / timings["render_speech"]
    mouth = mouth_figures()
    print(
        json.dumps(
            {
                "name": "local_render_720p25",
                "figures": {
                    "video_seconds": video_s,
                    "render_seconds": round(timings["render"], 2),
                    "realtime_factor": round(factor, 2),
                    "render_with_watermark_seconds": round(timings["render_with_watermark"], 2),
                    "realtime_factor_with_watermark": round(
                        video_s / timings["render_with_watermark"], 2
                    ),
                    "realtime_factor_speech": round(speech_factor, 2),
                    "identify_faces_seconds": round(identify_s, 2),
                    "faces_found": len(tracks),
                    **mouth,
                },
                "target": (
                    f"realtime_factor and realtime_factor_speech >= {TARGET} (1280x720, 25 fps, "
                    "no watermark); per face: envelope_r >= 0.8, widest opening on m/b/p <= 0.1 "
                    "of the mouth's width, width/height u < ɑ < i each by >= 20 %; "
                    "sound model held-out accuracy >= 0.75"
                ),
                "met": factor >= TARGET and speech_factor >= TARGET and mouth_targets_met(mouth),
            }
        )
    )


if __name__ == "__main__":
    main()
