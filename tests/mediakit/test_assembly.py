"""Assembly: processed windows spliced frame-exactly into the source, under our own mix.

The first part uses numbered frames and stand-in results (a cut window with a mark drawn on
it, as an engine's result would differ from its input); the end-to-end test with real faces and
the local engine is in test_dub_local.py.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from projects.engines.local import audio
from projects.mediakit.assembly import Mix, MixLine, ProcessedWindow, assemble
from projects.mediakit.errors import MediaError
from projects.mediakit.streams import Mp4Writer
from projects.mediakit.windows import cut_window
from tests.support.numbered_media import (
    RATE,
    decode_pictures,
    psnr,
    read_number,
    soundtrack,
    speech_like,
    top_level_boxes,
    write_numbered_video,
    write_wav,
)

MARK = (slice(200, 230), slice(280, 310))  # bottom right corner, away from the numbers


def marked_result(window: Path, out: Path, fps: Fraction = Fraction(25)) -> Path:
    """What an engine might return: the window's frames with a white square drawn on them,
    re-encoded (at `fps`, repeating frames when it is higher), its sound replaced by noise."""
    with av.open(str(window)) as container:
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    repeat = int(fps / 25)
    writer = Mp4Writer(out, (320, 240), fps)
    noise = np.random.default_rng(1).uniform(-0.5, 0.5, (2, RATE // int(fps))).astype(np.float32)
    for image in frames:
        image[MARK] = 255
        for _ in range(repeat):
            writer.write_frame(av.VideoFrame.from_ndarray(image, format="rgb24"))
            writer.write_audio(noise[:, : writer.audio_due()])
    writer.close()
    return out


@pytest.fixture(scope="module")
def dub(tmp_path_factory) -> dict:
    folder = tmp_path_factory.mktemp("assembly")
    source = write_numbered_video(folder / "source.mp4", frame_count=200)
    first = cut_window(source, 1_000, 3_000, folder / "w1.mp4")
    second = cut_window(source, 4_000, 6_400, folder / "w2.mp4")
    voice = speech_like(3, 1_500)
    line = write_wav(folder / "line.wav", voice)
    windows = [
        ProcessedWindow(4_000, 6_400, marked_result(second.path, folder / "r2.mp4", Fraction(50))),
        ProcessedWindow(1_000, 3_000, marked_result(first.path, folder / "r1.mp4")),
    ]
    mix = Mix(0.5, (MixLine(line, 0, 1_500, 2_500, 1.5), MixLine(line, 500, 1_000, 7_000, 1.0)))
    result = assemble(source, windows, mix, folder / "dub.mp4")
    return {
        "source": source,
        "result": result,
        "voice": voice,
        "pictures": decode_pictures(result.path),
        "original": decode_pictures(source),
    }


def test_the_result_has_the_sources_frames_size_rate_and_format(dub):
    result = dub["result"]
    assert (result.frame_count, result.fps, result.width, result.height) == (200, 25, 320, 240)
    assert [read_number(picture) for picture in dub["pictures"]] == list(range(200))
    with av.open(str(result.path)) as container:
        assert container.streams.video[0].codec_context.name == "h264"
        assert container.streams.audio[0].codec_context.name == "aac"
        assert container.streams.video[0].average_rate == 25
    boxes = top_level_boxes(result.path)
    assert boxes.index("moov") < boxes.index("mdat")


def test_processed_windows_replace_exactly_their_span(dub):
    marked = [dub["pictures"][n][MARK].mean() > 250 for n in range(200)]
    inside = [25 <= n < 75 or 100 <= n < 160 for n in range(200)]
    assert marked == inside


def test_frames_outside_the_windows_are_the_sources(dub):
    for number in [*range(0, 25), *range(75, 100), *range(160, 200)]:
        assert psnr(dub["pictures"][number], dub["original"][number]) >= 40, number


def test_the_sound_is_our_mix_not_the_engines(dub):
    mixed = audio.decode_audio(dub["result"].path)[0]
    assert mixed.size == pytest.approx(8 * RATE, abs=RATE // 50)
    expected = 0.5 * soundtrack(8.0, ())[0]
    voice = dub["voice"]
    expected[int(2.5 * RATE) : 4 * RATE] += 1.5 * voice
    expected[7 * RATE : int(7.5 * RATE)] += voice[RATE // 2 : RATE]
    expected = audio.soft_limit(expected[None, :])[0][: mixed.size]
    steady = slice(RATE // 10, mixed.size - RATE // 10)
    error = np.sqrt(np.mean((mixed[steady] - expected[steady]) ** 2))
    assert error / np.sqrt(np.mean(expected[steady] ** 2)) < 0.05
    # Across each window's edges the sound runs on as mixed: nothing of the results' noise.
    for edge_s in (1.0, 3.0, 4.0, 6.4):
        around = slice(int((edge_s - 0.05) * RATE), int((edge_s + 0.05) * RATE))
        assert np.abs(mixed[around] - expected[around]).max() < 0.05, edge_s


def test_overlapping_windows_or_one_past_the_end_are_refused_leaving_nothing(dub, tmp_path):
    result = dub["result"].path
    out = tmp_path / "dub.mp4"
    overlapping = [ProcessedWindow(1_000, 3_000, result), ProcessedWindow(2_000, 4_000, result)]
    with pytest.raises(MediaError, match="overlap"):
        assemble(dub["source"], overlapping, Mix(1.0), out)
    with pytest.raises(MediaError, match="past the end"):
        assemble(dub["source"], [ProcessedWindow(7_000, 9_000, result)], Mix(1.0), out)
    assert list(tmp_path.iterdir()) == []
