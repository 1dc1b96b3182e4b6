"""Waveform peaks for the timeline."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from projects.mediakit.errors import MediaError
from projects.mediakit.waveform import waveform_peaks
from tests.support.mediagen import (
    make_audio,
    make_video,
)


def test_waveform_peaks_follow_the_sound(media: Path) -> None:
    path = make_audio(media / "wave.wav", duration_s=2.0, channels=2)
    result = waveform_peaks(path, peaks_per_second=20)
    assert result["duration"] == 2.0 and result["channels"] == 2
    assert [len(channel) for channel in result["peaks"]] == [40, 40]
    assert all(0.45 <= abs(value) <= 0.5 for value in result["peaks"][0])  # a 0.5 tone
    silent = waveform_peaks(make_audio(media / "quiet.mp3", kind="silence"), peaks_per_second=10)
    assert max(abs(value) for value in silent["peaks"][0]) < 0.01
    json.dumps(result)  # ready for the page as it is


def test_waveform_is_thinned_for_long_files(media: Path) -> None:
    path = make_audio(media / "long.flac", duration_s=12.0)
    result = waveform_peaks(path, peaks_per_second=100, max_peaks=300)
    assert result["peaks_per_second"] == 25
    assert len(result["peaks"][0]) == 300


def test_waveform_of_a_video_uses_its_sound(clip: Path) -> None:
    result = waveform_peaks(clip, peaks_per_second=10)
    assert result["channels"] == 1
    assert 20 <= len(result["peaks"][0]) <= 21
    assert max(result["peaks"][0]) > 0.25  # the 0.3 tone


def test_waveform_of_a_silent_video_is_refused(media: Path) -> None:
    with pytest.raises(MediaError, match="no sound"):
        waveform_peaks(make_video(media / "nosound.mp4", tone_hz=None))
