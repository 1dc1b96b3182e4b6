"""Benchmark: how fast the local engine lip-syncs a 720p face video (real-time factor).

Renders a 12 s 1280x720 25 fps video of a real face (scikit-image's astronaut photograph)
with a 10 s speech-like clip inserted, and prints one JSON object. The input is generated once
under var/bench/ and reused. Target: at least real time (factor >= 1.0) on the app's machine.
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


def main() -> None:
    BENCH_DIR.mkdir(parents=True, exist_ok=True)
    if not VIDEO.exists():
        write_video()
    if not CLIP.exists():
        write_clip()
    started = time.perf_counter()
    tracks = identify_faces(VIDEO)
    identify_s = time.perf_counter() - started
    track = max(tracks, key=lambda t: t.end_ms - t.start_ms)
    timings = {}
    for name, watermark in (("render", None), ("render_with_watermark", BENCH_DIR / "out_wm.mp4")):
        started = time.perf_counter()
        result = render_advanced(
            VIDEO,
            CLIP,
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
                    "identify_faces_seconds": round(identify_s, 2),
                    "faces_found": len(tracks),
                },
                "target": f"realtime_factor >= {TARGET} (1280x720, 25 fps, no watermark)",
                "met": factor >= TARGET,
            }
        )
    )


if __name__ == "__main__":
    main()
