"""A job's clip: crops placed at offsets with silence between and around, as an .m4a."""

from __future__ import annotations

import numpy as np
import pytest

from projects.engines import rules
from projects.engines.local import audio
from projects.engines.local.engine import _checked_audio
from projects.mediakit.clips import ClipPiece, build_clip
from projects.mediakit.errors import MediaError
from tests.support.numbered_media import RATE, best_lag_ms, speech_like, write_wav


@pytest.fixture
def voices(tmp_path):
    one = write_wav(tmp_path / "one.wav", speech_like(1, 3_000, 22_050), 22_050)
    two = write_wav(tmp_path / "two.wav", speech_like(2, 2_000), RATE)
    return one, two


def test_pieces_sit_at_their_offsets_with_silence_between_and_after(voices, tmp_path):
    one, two = voices
    pieces = [ClipPiece(one, 500, 2_000, 300), ClipPiece(two, 0, 1_000, 3_000, volume=0.5)]
    out = build_clip(pieces, 4_500, tmp_path / "clip.m4a")
    sound = audio.decode_audio(out)[0]
    assert sound.size / RATE == pytest.approx(4.6, abs=0.03)  # 100 ms of tail
    # Silence before, between (1.8-3.0 s) and after (4.0 s on).
    for start_ms, end_ms in ((0, 280), (1_830, 2_970), (4_030, 4_500)):
        quiet = sound[start_ms * RATE // 1000 : end_ms * RATE // 1000]
        assert np.abs(quiet).max() < 0.01, (start_ms, end_ms)
    first = audio.decode_audio(one)[0][RATE // 2 : 2 * RATE]
    second = audio.decode_audio(two)[0][:RATE]
    assert abs(best_lag_ms(sound, first, int(0.3 * RATE), RATE // 10)) <= 2
    assert abs(best_lag_ms(sound, second, 3 * RATE, RATE // 10)) <= 2
    placed = sound[3 * RATE : 4 * RATE]
    assert np.sqrt(np.mean(placed**2)) == pytest.approx(0.5 * np.sqrt(np.mean(second**2)), rel=0.1)


def test_the_clip_is_within_the_engines_audio_rules(voices, tmp_path):
    one, _ = voices
    out = build_clip([ClipPiece(one, 0, 800, 600)], 2_000, tmp_path / "clip.m4a")
    duration_ms = _checked_audio(out)  # format, size and length, as the local engine checks
    assert duration_ms >= 2_000
    assert not rules.check_crop(audio_ms=duration_ms, sound_start_ms=0, sound_end_ms=2_000)


def test_a_60_s_clip_fits_5_mb(voices, tmp_path):
    one, _ = voices
    pieces = [ClipPiece(one, 0, 3_000, start) for start in range(0, 57_000, 3_000)]
    out = build_clip(pieces, 60_000, tmp_path / "long.m4a")
    assert out.stat().st_size <= 5 * 1024 * 1024
    assert _checked_audio(out) == 60_000


def test_a_piece_past_the_clips_end_or_a_bad_length_is_refused(voices, tmp_path):
    one, _ = voices
    with pytest.raises(MediaError, match="does not fit"):
        build_clip([ClipPiece(one, 0, 2_000, 1_000)], 2_500, tmp_path / "clip.m4a")
    with pytest.raises(MediaError, match="2 to 60 s"):
        build_clip([ClipPiece(one, 0, 1_000, 0)], 1_500, tmp_path / "clip.m4a")
    assert not (tmp_path / "clip.m4a").exists()
