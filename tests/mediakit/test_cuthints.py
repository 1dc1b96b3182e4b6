"""Cut hints: shot changes and silences found in one pass."""

from __future__ import annotations

import pytest

from projects.mediakit.cuthints import find_cut_hints
from tests.support.numbered_media import write_numbered_video


def test_shot_changes_and_silences_are_found_where_they_are(tmp_path):
    video = write_numbered_video(
        tmp_path / "scenes.mp4",
        frame_count=250,
        scene_starts=(60, 175),
        silences_ms=((1_000, 1_800), (6_000, 6_200), (8_000, 10_000)),
    )
    hints = find_cut_hints(video)
    assert hints.shot_changes == (2_400, 7_000)
    assert hints.duration_ms == 10_000
    assert len(hints.silences) == 2  # 200 ms is too short to count
    for (start, end), (true_start, true_end) in zip(
        hints.silences, ((1_000, 1_800), (8_000, 10_000)), strict=True
    ):
        assert start == pytest.approx(true_start, abs=30)
        assert end == pytest.approx(true_end, abs=30)


def test_a_video_without_sound_is_silent_throughout(tmp_path):
    video = write_numbered_video(tmp_path / "mute.mp4", frame_count=50, with_sound=False)
    hints = find_cut_hints(video)
    assert hints.silences == ((0, 2_000),) and hints.shot_changes == ()
