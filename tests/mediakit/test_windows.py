"""Cutting a window frame-exactly, with its sound, as an MP4 the engine accepts."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

from projects.engines.base import MediaRef
from projects.engines.local import audio
from projects.engines.local.engine import LocalEngine
from projects.mediakit.errors import MediaError
from projects.mediakit.windows import cut_window
from tests.support.numbered_media import (
    RATE,
    decode_pictures,
    read_number,
    soundtrack,
    top_level_boxes,
    write_numbered_video,
)

SILENCES = ((1_000, 1_600), (5_000, 5_200))


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("windows")
    return write_numbered_video(folder / "source.mp4", frame_count=200, silences_ms=SILENCES)


def test_the_window_holds_exactly_its_frames(source, tmp_path):
    cut = cut_window(source, 2_000, 5_600, tmp_path / "window.mp4")
    pictures = decode_pictures(cut.path)
    assert [read_number(picture) for picture in pictures] == list(range(50, 140))
    assert (cut.first_frame, cut.frame_count, cut.duration_ms) == (50, 90, 3_600)


def test_the_window_is_h264_aac_faststart_at_the_sources_size_and_rate(source, tmp_path):
    cut = cut_window(source, 0, 2_000, tmp_path / "window.mp4")
    with av.open(str(cut.path)) as container:
        video, sound = container.streams.video[0], container.streams.audio[0]
        assert video.codec_context.name == "h264" and sound.codec_context.name == "aac"
        assert (video.codec_context.width, video.codec_context.height) == (320, 240)
        assert video.average_rate == 25
    boxes = top_level_boxes(cut.path)
    assert boxes.index("moov") < boxes.index("mdat")


def test_the_sound_is_the_sources_over_the_same_span(source, tmp_path):
    cut = cut_window(source, 4_000, 6_000, tmp_path / "window.mp4")
    sound = audio.decode_audio(cut.path)[0]
    expected = soundtrack(8.0, SILENCES)[0][4 * RATE : 6 * RATE]
    assert sound.size == pytest.approx(2 * RATE, abs=RATE // 100)
    steady = slice(RATE // 20, sound.size - RATE // 20)
    error = np.sqrt(np.mean((sound[steady] - expected[steady]) ** 2))
    assert error < 0.02  # AAC at 128 kbit/s: the same tone, the same silence at 5.0-5.2 s
    assert np.abs(sound[int(1.05 * RATE) : int(1.15 * RATE)]).max() < 0.01


def test_a_window_can_be_scaled_for_the_engine(source, tmp_path):
    cut = cut_window(source, 0, 2_000, tmp_path / "big.mp4", size=(683, 512))
    with av.open(str(cut.path)) as container:
        codec = container.streams.video[0].codec_context
        assert (codec.width, codec.height) == (682, 512)


def test_the_local_engine_accepts_a_cut_window(source, tmp_path):
    cut = cut_window(source, 1_000, 4_000, tmp_path / "window.mp4")
    session = LocalEngine(tmp_path / "engine").identify_faces(MediaRef(path=str(cut.path)))
    assert session.faces == []  # no face in numbered frames: an answer, not an error


def test_a_window_past_the_end_is_refused_and_nothing_is_left(source, tmp_path):
    out = tmp_path / "window.mp4"
    with pytest.raises(MediaError, match="runs past its end"):
        cut_window(source, 6_000, 9_000, out)
    with pytest.raises(MediaError, match="is empty"):
        cut_window(source, 3_000, 3_000, out)
    assert list(tmp_path.iterdir()) == []
