"""Media probing, limit checks, conversions, pictures and peaks, on real generated files."""

from __future__ import annotations

import io
import json
from dataclasses import replace
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from projects.engines.limits import ADVANCED_VIDEO, AUDIO
from projects.media import (
    MediaError,
    MediaInfo,
    check_audio,
    check_image,
    check_video,
    conform_audio,
    conform_video,
    make_poster,
    make_thumbnail_strip,
    probe_media,
    waveform_peaks,
)
from projects.mediakit.probe import inspect_media
from tests.mediagen import (
    make_audio,
    make_video,
    truncated_copy,
    write_ffconcat,
    write_hls_playlist,
    write_lying_wav,
    write_png_bomb,
)

NOT_A_VIDEO = "This file is not a video we can read. Export it as MP4 (H.264) and try again."


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("media")


@pytest.fixture(scope="module")
def clip(media: Path) -> Path:
    """The standard small, valid video: 2 s of 320x240 bars at 25 fps with a tone."""
    return make_video(media / "clip.mp4", faststart=True)


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


# --- probing by content -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "container", "video_codec", "audio_codec"),
    [
        ("v.mp4", "mp4", "h264", "aac"),
        ("v.mov", "mov", "h264", "aac"),
        ("v.webm", "webm", "vp9", "opus"),
        ("v.mkv", "matroska", "h264", "aac"),
        ("v.avi", "avi", "mpeg4", "mp3"),
    ],
)
def test_probe_reads_videos(media: Path, name, container, video_codec, audio_codec) -> None:
    path = make_video(media / name, width=160, height=120, fps=10, duration_s=2.0)
    info = probe_media(path)
    assert (info.kind, info.container) == ("video", container)
    assert (info.video_codec, info.audio_codec) == (video_codec, audio_codec)
    assert (info.width, info.height, info.fps) == (160, 120, 10.0)
    assert info.has_audio and info.sample_rate == 48_000
    assert abs(info.duration_ms - 2000) <= 110  # one frame at 10 fps (AVI counts MP3 padding)
    assert info.size_bytes == path.stat().st_size


@pytest.mark.parametrize(
    ("name", "container", "codec"),
    [
        ("s.wav", "wav", "pcm_s16le"),
        ("s.mp3", "mp3", "mp3"),
        ("s.m4a", "m4a", "aac"),
        ("s.aac", "aac", "aac"),
        ("s.flac", "flac", "flac"),
    ],
)
def test_probe_reads_audio(media: Path, name, container, codec) -> None:
    path = make_audio(media / name, duration_s=2.5, channels=2)
    info = probe_media(path)
    assert (info.kind, info.container, info.audio_codec) == ("audio", container, codec)
    assert (info.sample_rate, info.channels) == (44_100, 2)
    assert info.width is None and info.video_codec is None
    assert abs(info.duration_ms - 2500) <= 60


def test_probe_ignores_the_file_name(media: Path, clip: Path) -> None:
    disguised = media / "holiday.wav"
    disguised.write_bytes(clip.read_bytes())
    info = probe_media(disguised)
    assert (info.kind, info.container) == ("video", "mp4")


def test_silent_video_has_no_audio(media: Path) -> None:
    info = probe_media(make_video(media / "silent.mp4", tone_hz=None))
    assert info.kind == "video" and not info.has_audio and info.audio_codec is None


def test_text_renamed_mp4_is_not_a_video(media: Path) -> None:
    path = media / "notes.mp4"
    path.write_text("Meeting notes: bring the good microphone.\n" * 20)
    with pytest.raises(MediaError) as caught:
        probe_media(path, expect="video")
    assert caught.value.message == NOT_A_VIDEO


def test_zero_bytes_is_refused(media: Path) -> None:
    path = media / "empty.mp4"
    path.write_bytes(b"")
    with pytest.raises(MediaError, match="empty"):
        probe_media(path)


def test_missing_file_is_refused(media: Path) -> None:
    with pytest.raises(MediaError, match="could not find"):
        probe_media(media / "nowhere.mp4")


@pytest.mark.parametrize("name", ["playlist.mp4", "playlist.m3u8"])
def test_hls_playlist_is_refused_without_opening_what_it_names(
    media: Path, clip: Path, name: str
) -> None:
    playlist = write_hls_playlist(media / name, clip)
    with pytest.raises(MediaError, match="not a video"):
        probe_media(playlist, expect="video")


def test_the_hls_playlist_really_points_at_a_readable_file(media: Path, clip: Path) -> None:
    """Control: unrestricted FFmpeg follows the playlist to the clip; our probe must not."""
    playlist = write_hls_playlist(media / "control.m3u8", clip)
    with av.open(str(playlist)) as container:
        assert container.format.name == "hls"
        assert container.streams.video[0].codec_context.width == 320


def test_ffconcat_list_is_refused_without_opening_what_it_names(media: Path, clip: Path) -> None:
    listing = write_ffconcat(media / "list.mp4", clip)
    with av.open(str(listing), options={"safe": "0"}) as container:  # control: it would work
        assert container.streams.video[0].codec_context.width == 320
    with pytest.raises(MediaError, match="not a video"):
        probe_media(listing, expect="video")


def test_truncated_mp4_with_index_at_the_end_is_refused(media: Path) -> None:
    whole = make_video(media / "whole.mp4")
    cut = truncated_copy(whole, media / "cut.mp4", keep_fraction=0.6)
    with pytest.raises(MediaError, match="damaged"):
        probe_media(cut)


def test_truncated_faststart_mp4_is_caught_by_its_missing_packets(media: Path, clip: Path) -> None:
    """The index survives at the front, but the pictures it lists are gone."""
    cut = truncated_copy(clip, media / "cut-fast.mp4", keep_fraction=0.5)
    with pytest.raises(MediaError) as caught:
        probe_media(cut)
    assert "says it lasts 2 s but holds only" in caught.value.message


def test_wav_header_claiming_ten_hours_is_refused(media: Path) -> None:
    path = write_lying_wav(media / "liar.wav", real_seconds=2.5, claimed_seconds=36_000)
    with pytest.raises(MediaError) as caught:
        probe_media(path)
    assert "says it lasts 10:00:00 but holds only 2.5 s" in caught.value.message


def test_garbage_after_a_valid_header_is_refused(media: Path, clip: Path) -> None:
    """A file whose container is intact but whose picture data is noise is caught by decoding."""
    data = bytearray(clip.read_bytes())
    mdat = data.find(b"mdat")
    rng = np.random.default_rng(3)
    data[mdat + 8 :] = rng.integers(0, 256, len(data) - mdat - 8, dtype=np.uint8).tobytes()
    path = media / "noise.mp4"
    path.write_bytes(bytes(data))
    with pytest.raises(MediaError, match="damaged"):
        probe_media(path)


def test_png_is_not_a_video(media: Path) -> None:
    path = media / "picture.mp4"
    Image.new("RGB", (64, 64), "red").save(path, format="PNG")
    with pytest.raises(MediaError, match="not a video"):
        probe_media(path, expect="video")


def test_probe_is_stopped_at_its_deadline(media: Path, clip: Path) -> None:
    with pytest.raises(MediaError, match=r"took longer than 0\.01 s"):
        probe_media(clip, timeout_s=0.01)


def test_in_process_inspection_agrees_with_the_subprocess(clip: Path) -> None:
    assert inspect_media(clip) == probe_media(clip)


def test_media_info_travels_as_json(clip: Path) -> None:
    info = probe_media(clip)
    assert MediaInfo(**json.loads(json.dumps(info.to_dict()))) == info


# --- limit checks ---------------------------------------------------------------------------


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


# --- fix it for me -------------------------------------------------------------------------


def test_conform_reencodes_webm_downscales_and_trims(media: Path) -> None:
    source = make_video(media / "wide.webm", width=1280, height=720, fps=10, duration_s=3.0)
    result = media / "wide-fixed.mp4"
    report = conform_video(
        source, result, trim_start_ms=1000, max_duration_ms=1500, max_long_side=640, min_side=256
    )
    assert report.changes == [
        "Re-encoded from VP9/WebM to H.264/AAC MP4",
        "Trimmed to 0:01\N{EN DASH}0:02.5",
        "Downscaled from 1280\N{MULTIPLICATION SIGN}720 to 640\N{MULTIPLICATION SIGN}360",
    ]
    out = probe_media(result)
    assert out == report.output
    assert (out.container, out.video_codec, out.audio_codec) == ("mp4", "h264", "aac")
    assert (out.width, out.height) == (640, 360)
    assert abs(out.duration_ms - 1500) <= 100
    with av.open(str(result)) as container:
        assert container.streams.video[0].codec_context.pix_fmt == "yuv420p"
    head = result.read_bytes()[:200]
    assert head.find(b"moov") < head.find(b"mdat") or b"mdat" not in head  # faststart


def test_conform_enlarges_to_even_sides(media: Path) -> None:
    source = make_video(media / "tiny.mov", width=250, height=150, fps=5, duration_s=2.0)
    report = conform_video(source, media / "tiny-fixed.mp4")
    assert report.output is not None
    assert (report.output.width, report.output.height) == (854, 512)
    assert report.changes == [
        "Re-encoded from H.264/MOV to H.264/AAC MP4",
        "Enlarged from 250\N{MULTIPLICATION SIGN}150 to 854\N{MULTIPLICATION SIGN}512",
    ]
    assert check_video(report.output) == [
        problem for problem in check_video(report.output) if problem.code == "too_short"
    ]


def test_conform_keeps_a_silent_video_silent(media: Path) -> None:
    source = make_video(media / "mute.mp4", width=512, height=512, fps=5, tone_hz=None)
    report = conform_video(source, media / "mute-fixed.mp4")
    assert report.output is not None and not report.output.has_audio
    assert report.changes == []


def test_conform_refuses_an_impossible_shape_and_leaves_nothing(media: Path) -> None:
    source = make_video(media / "strip.mp4", width=640, height=64, fps=5)
    target = media / "strip-fixed.mp4"
    with pytest.raises(MediaError, match="too narrow"):
        conform_video(source, target)
    assert not target.exists()
    assert not list(media.glob(".strip-fixed*"))


def test_conform_audio_fits_a_big_wav_into_the_byte_limit(media: Path) -> None:
    source = make_audio(media / "speech.wav", kind="noise", duration_s=4.0, channels=2)
    budget = 40_000  # bytes: forces a low bitrate, as 5 MB does for a long recording
    report = conform_audio(source, media / "speech.m4a", max_bytes=budget)
    out = report.output
    assert out is not None
    assert (out.container, out.audio_codec) == ("m4a", "aac")
    assert out.size_bytes <= budget
    assert abs(out.duration_ms - 4000) <= 60
    assert report.changes[0].startswith("Converted from WAV (PCM) to AAC in an M4A file at ")


def test_conform_audio_trims_and_takes_sound_from_a_video(media: Path, clip: Path) -> None:
    report = conform_audio(clip, media / "from-video.m4a", trim_start_ms=500, max_duration_ms=1000)
    assert report.changes[:3] == [
        "Took the sound from the video",
        "Converted from MP4 (AAC) to AAC in an M4A file at 192 kbit/s",
        "Trimmed to 0:00.5\N{EN DASH}0:01.5",
    ]
    assert report.output is not None and abs(report.output.duration_ms - 1000) <= 60


# --- pictures ------------------------------------------------------------------------------


def test_poster_is_a_jpeg_of_the_video(clip: Path) -> None:
    poster = make_poster(clip)
    image = Image.open(io.BytesIO(poster))
    assert (image.format, image.size) == ("JPEG", (320, 240))
    left_bar = np.asarray(image.convert("RGB"))[120, 10]
    assert left_bar.min() > 200  # the first colour bar is white


def test_thumbnail_strip_tiles_follow_the_moving_marker(clip: Path) -> None:
    strip = make_thumbnail_strip(clip, count=4, height=48)
    assert (strip.tile_width, strip.tile_height, strip.count) == (64, 48, 4)
    assert strip.times_ms == (250, 750, 1250, 1750)
    pixels = np.asarray(Image.open(io.BytesIO(strip.jpeg)).convert("L"), dtype=float)
    assert pixels.shape == (48, 256)
    tiles = [pixels[:, i * 64 : (i + 1) * 64] for i in range(4)]
    marker_columns = [int(np.argmin(tile[24])) for tile in tiles]
    assert marker_columns == sorted(marker_columns) and len(set(marker_columns)) == 4


def test_png_bomb_is_refused_without_decoding(media: Path) -> None:
    bomb = write_png_bomb(media / "bomb.png", side=60_000)
    assert bomb.stat().st_size < 2_000_000
    with pytest.raises(MediaError, match="too large to open safely"):
        check_image(bomb)
    assert Image.MAX_IMAGE_PIXELS != 40_000_000  # the guard is scoped


def test_ordinary_images_pass_and_truncated_ones_do_not(media: Path) -> None:
    path = media / "face.png"
    Image.fromarray(np.random.default_rng(1).integers(0, 255, (300, 400, 3), np.uint8)).save(path)
    info = check_image(path)
    assert (info.format, info.width, info.height) == ("PNG", 400, 300)
    broken = media / "broken.png"
    broken.write_bytes(path.read_bytes()[:5000])
    with pytest.raises(MediaError, match="not a picture we can read"):
        check_image(broken)
    gif = media / "anim.gif"
    Image.new("RGB", (10, 10)).save(gif)
    with pytest.raises(MediaError, match="PNG, JPEG or WebP"):
        check_image(gif)


# --- waveform -------------------------------------------------------------------------------


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
