"""How long probing (and the poster, strip and peaks) takes on a 60 s 1920x1080 upload.

The input is generated once under var/bench/ (low-motion bars with a moving square and a tone,
x264 ultrafast) and reused. Prints one JSON object.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


from projects.mediakit.pictures import make_poster, make_thumbnail_strip  # noqa: E402
from projects.mediakit.probe import probe_media  # noqa: E402
from projects.mediakit.waveform import waveform_peaks  # noqa: E402

WIDTH, HEIGHT, FPS, SECONDS = 1920, 1080, 25, 60
SOURCE = ROOT / "var" / "bench" / "probe-60s-1080p.mp4"
RUNS = 5
TARGET_PROBE_S = 1.5


def make_source(path: Path) -> None:
    """Encode the file straight from YUV planes: no per-frame colour conversion."""
    path.parent.mkdir(parents=True, exist_ok=True)
    luma = np.tile((np.arange(WIDTH) * 7 // WIDTH * 30 + 40).astype(np.uint8), (HEIGHT, 1))
    chroma = np.full((HEIGHT // 2, WIDTH), 128, dtype=np.uint8)
    partial = path.with_suffix(".part.mp4")
    with av.open(str(partial), "w", options={"movflags": "+faststart"}) as container:
        video = container.add_stream("libx264", rate=FPS)
        video.width, video.height, video.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        video.codec_context.options = {"preset": "ultrafast", "crf": "30"}
        audio = container.add_stream("aac", rate=48_000)
        audio.layout = "mono"
        for index in range(FPS * SECONDS):
            plane = luma.copy()
            left = index * (WIDTH - 120) // (FPS * SECONDS)
            plane[480:600, left : left + 120] = 16
            frame = av.VideoFrame.from_ndarray(np.vstack([plane, chroma]), format="yuv420p")
            frame.pts, frame.time_base = index, Fraction(1, FPS)
            container.mux(video.encode(frame))
        container.mux(video.encode(None))
        _encode_tone(container, audio)
    partial.replace(path)


def _encode_tone(container: av.container.OutputContainer, audio: av.AudioStream) -> None:
    rate, size = 48_000, audio.codec_context.frame_size
    t = np.arange(rate * SECONDS) / rate
    samples = (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)
    for start in range(0, samples.size, size):
        chunk = samples[start : start + size]
        if chunk.size < size:
            chunk = np.pad(chunk, (0, size - chunk.size))
        frame = av.AudioFrame.from_ndarray(chunk[np.newaxis, :], format="fltp", layout="mono")
        frame.sample_rate, frame.pts, frame.time_base = rate, start, Fraction(1, rate)
        container.mux(audio.encode(frame))
    container.mux(audio.encode(None))


def timed(action) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def main() -> None:
    if not SOURCE.exists():
        make_source(SOURCE)
    probe_times = [timed(lambda: probe_media(SOURCE, timeout_s=30)) for _ in range(RUNS)]
    info = probe_media(SOURCE)
    median_probe = statistics.median(probe_times)
    figures = {
        "file_mb": round(SOURCE.stat().st_size / 1e6, 1),
        "duration_ms": info.duration_ms,
        "frame": f"{info.width}x{info.height}",
        "probe_median_s": round(median_probe, 3),
        "probe_max_s": round(max(probe_times), 3),
        "poster_s": round(timed(lambda: make_poster(SOURCE)), 3),
        "thumbnail_strip_10_s": round(timed(lambda: make_thumbnail_strip(SOURCE, count=10)), 3),
        "waveform_peaks_s": round(timed(lambda: waveform_peaks(SOURCE)), 3),
    }
    print(
        json.dumps(
            {
                "name": "bench_probe",
                "figures": figures,
                "target": f"probe of a 60 s 1080p MP4 (subprocess included) < {TARGET_PROBE_S} s",
                "met": median_probe < TARGET_PROBE_S,
            }
        )
    )


if __name__ == "__main__":
    main()
