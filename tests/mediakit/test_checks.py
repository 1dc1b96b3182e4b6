"""The engine's limits on a probed file: each breach with its cure, in plain words."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from projects.engines.limits import ADVANCED_VIDEO, AUDIO
from projects.mediakit.checks import check_audio, check_video
from projects.mediakit.probe import MediaInfo, probe_media
from tests.support.mediagen import (
    make_audio,
    make_video,
)


def _info(**changes) -> MediaInfo:
    """A valid engine-ready video's facts, with some changed (for the pure limit rules)."""
    base = MediaInfo(
        container="mp4",
        format_name="mov",
        kind="video",
        duration_ms=10_000,
        size_bytes=5_000_000,
        width=1280,
        height=720,
        fps=25.0,
        video_codec="h264",
        audio_codec="aac",
        has_audio=True,
        sample_rate=48_000,
        channels=2,
    )
    return replace(base, **changes)


def test_engine_ready_video_has_no_problems() -> None:
    assert check_video(_info()) == []


def test_too_long_video_offers_a_trim() -> None:
    [problem] = check_video(_info(duration_ms=74_000))
    assert problem.code == "too_long" and problem.fix == "trim"
    assert problem.message == (
        "This video is 74 s long; the engine accepts at most 60 s. "
        "Trim it here, or let us make a 60 s copy starting at 0:00."
    )


def test_video_just_over_the_limit_does_not_read_as_the_limit() -> None:
    [problem] = check_video(_info(duration_ms=60_400))
    assert "60.4 s long" in problem.message
    [padded] = check_video(_info(duration_ms=60_010))  # AAC padding past a 60 s picture
    assert "60.01 s long" in padded.message


def test_too_short_video_has_no_automatic_fix() -> None:
    [problem] = check_video(_info(duration_ms=1_500))
    assert (problem.code, problem.fix) == ("too_short", None)
    assert "1.5 s" in problem.message and "at least 2 s" in problem.message


def test_small_video_offers_upscale_and_4k_offers_downscale() -> None:
    [small] = check_video(_info(width=320, height=240))
    assert (small.code, small.fix) == ("too_small", "upscale")
    [large] = check_video(_info(width=4096, height=2160))
    assert (large.code, large.fix) == ("too_large", "downscale")


def test_very_narrow_video_cannot_be_fixed_by_scaling() -> None:
    [problem] = check_video(_info(width=3000, height=400))
    assert problem.code == "too_large" and problem.fix is None
    assert "crop" in problem.message


def test_big_file_webm_and_prores_offer_reencoding() -> None:
    assert [p.code for p in check_video(_info(size_bytes=ADVANCED_VIDEO.max_bytes + 1))] == [
        "file_too_big"
    ]
    [webm] = check_video(_info(container="webm", video_codec="vp9"))
    assert (webm.code, webm.fix) == ("wrong_format", "reencode")
    [prores] = check_video(_info(container="mov", video_codec="prores"))
    assert (prores.code, prores.fix) == ("unusual_codec", "reencode")


def test_basic_lip_sync_has_tighter_limits() -> None:
    info = _info(duration_ms=30_000, width=640, height=640)
    assert check_video(info) == []
    assert {p.code for p in check_video(info, basic=True)} == {"too_long", "too_small"}


def test_sound_file_is_not_a_video() -> None:
    [problem] = check_video(_info(kind="audio", width=None, height=None, video_codec=None))
    assert problem.code == "not_video"


def test_real_files_hit_exactly_their_rule(media: Path) -> None:
    """The cheapest real file for each rule: a 1 s clip is too short and nothing else."""
    short = probe_media(make_video(media / "short.mp4", width=512, height=512, duration_s=1.0))
    assert [p.code for p in check_video(short)] == ["too_short"]
    small = probe_media(make_video(media / "small.mp4", width=256, height=256, fps=5))
    assert [p.code for p in check_video(small)] == ["too_small"]


def test_audio_checks(media: Path) -> None:
    good = probe_media(make_audio(media / "ok.mp3", duration_s=2.5))
    assert check_audio(good) == []
    tiny = probe_media(make_audio(media / "tiny.wav", duration_s=1.0))
    assert [(p.code, p.fix) for p in check_audio(tiny)] == [("too_short", None)]
    flac = probe_media(make_audio(media / "s.flac", duration_s=2.5))
    assert [(p.code, p.fix) for p in check_audio(flac)] == [("wrong_format", "reencode")]


def test_audio_size_and_length_limits() -> None:
    wav = _info(
        kind="audio",
        container="wav",
        width=None,
        height=None,
        video_codec=None,
        audio_codec="pcm_s16le",
        size_bytes=AUDIO.max_bytes + 1,
        duration_ms=61_000,
    )
    problems = {p.code: p for p in check_audio(wav)}
    assert problems["file_too_big"].fix == "compress_audio"
    assert problems["too_long"].fix == "trim"
    assert "61 s long" in problems["too_long"].message


def test_video_without_sound_is_not_audio() -> None:
    [problem] = check_audio(_info(has_audio=False, audio_codec=None))
    assert problem.code == "no_audio"
