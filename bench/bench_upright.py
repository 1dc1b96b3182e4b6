"""What turning a phone's sideways video upright costs when it is probed.

A phone held upright stores a 1080x1920 picture as 1920x1080 and asks players to turn it;
the probe step writes an upright copy (see mediakit/conform.turn_upright). The baseline is a
plain decode + encode pass over the same picture already upright, with the same encoder
settings (`conform_video` at the upright copy's quality), taken in the same run; it also
runs its own sandboxed probe (about 0.15 s, 1 % of the pass), which makes the ratio a little
kinder than it is.

Target: turning upright takes at most 1.2x the plain pass (the turn itself is FFmpeg's
`transpose` filter, under 1 ms a frame). `--quick` uses 10 s instead of 60 s. Prints one
JSON object.
"""

from __future__ import annotations

import tempfile
import time
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from common import ROOT, log, quick_mode, report

from projects.mediakit.conform import UPRIGHT_CRF, conform_video, turn_upright
from projects.mediakit.probe import probe_media

WIDTH, HEIGHT, FPS = 1080, 1920, 30  # as the phone shows it
RATIO_TARGET = 1.2
RUNS = 2


def make_phone_video(path: Path, seconds: int, *, on_its_side: bool) -> Path:
    """Bars with a moving square and a tone; on its side the planes are stored turned a
    quarter clockwise and the file asks players to turn them back (rotation -90, as phones)."""
    with av.open(str(path), "w", options={"movflags": "+faststart"}) as container:
        video = container.add_stream("libx264", rate=FPS)
        video.width, video.height = (HEIGHT, WIDTH) if on_its_side else (WIDTH, HEIGHT)
        video.pix_fmt = "yuv420p"
        video.codec_context.options = {"preset": "ultrafast", "crf": "26"}
        if on_its_side:
            video.set_display_rotation(-90)
        audio = container.add_stream("aac", rate=48_000)
        audio.layout = "mono"
        for index in range(FPS * seconds):
            frame = _frame(index, FPS * seconds, on_its_side)
            frame.pts, frame.time_base = index, Fraction(1, FPS)
            container.mux(video.encode(frame))
        container.mux(video.encode(None))
        _encode_tone(container, audio, seconds)
    return path


def _frame(index: int, count: int, on_its_side: bool) -> av.VideoFrame:
    luma = np.tile((np.arange(WIDTH) * 7 // WIDTH * 30 + 40).astype(np.uint8), (HEIGHT, 1))
    top = index * (HEIGHT - 120) // count
    luma[top : top + 120, 480:600] = 16
    if on_its_side:
        luma = np.ascontiguousarray(np.rot90(luma, 1))  # turned back by the player's -90
    height, width = luma.shape
    chroma = np.full((height // 2, width), 128, dtype=np.uint8)
    return av.VideoFrame.from_ndarray(np.vstack([luma, chroma]), format="yuv420p")


def _encode_tone(container: av.container.OutputContainer, audio: av.AudioStream, seconds: int):
    rate, size = 48_000, audio.codec_context.frame_size
    t = np.arange(rate * seconds) / rate
    samples = (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)
    for start in range(0, samples.size, size):
        chunk = np.pad(samples[start : start + size], (0, max(0, start + size - samples.size)))
        frame = av.AudioFrame.from_ndarray(chunk[np.newaxis, :], format="fltp", layout="mono")
        frame.sample_rate, frame.pts, frame.time_base = rate, start, Fraction(1, rate)
        container.mux(audio.encode(frame))
    container.mux(audio.encode(None))


def timed(action) -> tuple[float, object]:
    started = time.perf_counter()
    result = action()
    return time.perf_counter() - started, result


def main() -> None:
    seconds = 10 if quick_mode() else 60
    (ROOT / "var" / "bench").mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=ROOT / "var" / "bench") as name:
        folder = Path(name)
        log(f"making {seconds} s phone videos, upright and on their side")
        upright = make_phone_video(folder / "upright.mp4", seconds, on_its_side=False)
        sideways = make_phone_video(folder / "sideways.mp4", seconds, on_its_side=True)
        info = probe_media(sideways, expect="video")
        plain_times, turn_times = [], []
        for attempt in range(RUNS):  # alternated, so neither always runs on a warmer machine
            log(f"run {attempt + 1} of {RUNS}: plain decode + encode pass, then turning upright")
            plain_s, _ = timed(
                lambda: conform_video(upright, folder / "plain.mp4", crf=UPRIGHT_CRF)
            )
            turn_s, turned = timed(lambda: turn_upright(sideways, folder / "turned.mp4", info))
            plain_times.append(plain_s)
            turn_times.append(turn_s)
    # The least of each: the run least disturbed by whatever else shares the machine.
    plain_s, turn_s = min(plain_times), min(turn_times)
    ratio = turn_s / plain_s
    out = turned.output
    report(
        "bench_upright",
        {
            "seconds": seconds,
            "stored": f"{info.width}x{info.height} rotation {info.rotation}",
            "upright": f"{out.width}x{out.height} rotation {out.rotation}",
            "turn_upright_s": round(turn_s, 2),
            "plain_pass_s": round(plain_s, 2),
            "turn_upright_runs_s": [round(value, 2) for value in turn_times],
            "plain_pass_runs_s": [round(value, 2) for value in plain_times],
            "turn_vs_plain_pass": round(ratio, 2),
            "turn_vs_real_time": round(turn_s / seconds, 2),
        },
        f"turning a 1080x1920 phone video upright <= {RATIO_TARGET}x a plain decode + encode "
        "pass over the same picture, same encoder settings",
        ratio <= RATIO_TARGET and (out.width, out.height, out.rotation) == (WIDTH, HEIGHT, 0),
    )


if __name__ == "__main__":
    main()
