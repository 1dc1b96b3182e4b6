""" "Fix it for me": copies that meet the engine's limits."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from projects.mediakit.checks import check_video
from projects.mediakit.conform import UPRIGHT_CHANGE, conform_audio, conform_video, turn_upright
from projects.mediakit.errors import MediaError
from projects.mediakit.probe import probe_media
from tests.support.mediagen import (
    make_audio,
    make_video,
)
from tests.support.numbered_media import psnr


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


def first_picture(path: Path) -> np.ndarray:
    with av.open(str(path)) as container:
        frame = next(container.decode(video=0))
        assert frame.rotation == 0, "a file that asks players to turn it"
        return frame.to_ndarray(format="rgb24")


@pytest.mark.parametrize("rotation", [90, 180, 270])
def test_a_video_stored_on_its_side_is_turned_upright(media: Path, rotation: int) -> None:
    shape = {"width": 240, "height": 320, "fps": 10, "duration_s": 2.0}
    upright = make_video(media / "upright.mp4", **shape, pattern="bars")
    sideways = make_video(media / "sideways.mp4", **shape, pattern="bars", rotation=rotation)
    info = probe_media(sideways, expect="video")
    report = turn_upright(sideways, media / "turned.mp4", info)
    out = report.output
    assert report.changes == [UPRIGHT_CHANGE]
    assert out is not None and out == probe_media(media / "turned.mp4")
    assert (out.width, out.height, out.rotation) == (240, 320, 0)
    assert (out.fps, out.has_audio) == (10, True)
    assert abs(out.duration_ms - info.duration_ms) <= 100
    turned, wanted = first_picture(media / "turned.mp4"), first_picture(upright)
    assert psnr(turned, wanted) >= 30
    # Any other turn of the pictures would not match: the test tells the directions apart.
    assert psnr(np.rot90(turned, 2), wanted) < 20


def test_fix_it_for_me_turns_a_video_stored_on_its_side_upright_too(media: Path) -> None:
    shape = {"width": 540, "height": 960, "fps": 10, "duration_s": 2.0, "pattern": "bars"}
    upright = make_video(media / "upright.mp4", **shape)
    sideways = make_video(media / "sideways.mov", **shape, rotation=-90)
    report = conform_video(sideways, media / "fixed.mp4")
    out = report.output
    assert out is not None and (out.width, out.height, out.rotation) == (540, 960, 0)
    assert report.changes == ["Re-encoded from H.264/MOV to H.264/AAC MP4", UPRIGHT_CHANGE]
    assert psnr(first_picture(media / "fixed.mp4"), first_picture(upright)) >= 30


def write_phone_clip(
    path: Path,
    *,
    size=(240, 320),
    seconds: float = 2.0,
    sound_from_s: float = 0.0,
    pictures_from_s: float = 0.0,
    colours=None,
) -> Path:
    """A sideways phone clip (rotation -90) whose sound and pictures start when told, as
    phones' files often do, tagged with `colours` (primaries, transfer, matrix)."""
    fps, rate = 10, 48_000
    with av.open(str(path), "w") as container:
        video = container.add_stream("libx264", rate=fps)
        video.width, video.height = size[1], size[0]
        video.pix_fmt = "yuv420p"
        video.set_display_rotation(-90)
        names = ("color_primaries", "color_trc", "colorspace")
        for name, value in zip(names, colours or (), strict=False):
            setattr(video.codec_context, name, value)
        audio = container.add_stream("aac", rate=rate)
        audio.layout = "mono"
        for index in range(round(seconds * fps)):
            picture = np.full((size[0], size[1], 3), index * 10 % 255, dtype=np.uint8)
            frame = av.VideoFrame.from_ndarray(picture, format="rgb24")
            frame.pts, frame.time_base = index + round(pictures_from_s * fps), Fraction(1, fps)
            container.mux(video.encode(frame))
        container.mux(video.encode(None))
        first = round(sound_from_s * rate)
        tone = 0.4 * np.sin(2 * np.pi * 440 * np.arange(round(seconds * rate)) / rate)
        for start in range(first, round(seconds * rate), 1024):
            chunk = tone[start - first : start - first + 1024].astype(np.float32)
            if chunk.size < 1024:
                break
            frame = av.AudioFrame.from_ndarray(chunk[None, :], format="fltp", layout="mono")
            frame.sample_rate, frame.pts, frame.time_base = rate, start, Fraction(1, rate)
            container.mux(audio.encode(frame))
        container.mux(audio.encode(None))
    return path


def first_sound_s(path: Path) -> float:
    """When the sound first rises above silence, in seconds on the file's own clock."""
    with av.open(str(path)) as container:
        for frame in container.decode(audio=0):
            loud = np.flatnonzero(np.abs(frame.to_ndarray()[0]) > 0.1)
            if loud.size:
                return float(frame.time) + loud[0] / frame.sample_rate
    raise AssertionError("no sound")


def test_sound_that_starts_after_the_pictures_stays_where_it_was(media: Path) -> None:
    phone = write_phone_clip(media / "late-sound.mp4", sound_from_s=0.5)
    assert abs(first_sound_s(phone) - 0.5) <= 0.03, "the clip made as meant"
    report = turn_upright(phone, media / "turned.mp4", probe_media(phone))
    assert abs(first_sound_s(media / "turned.mp4") - 0.5) <= 0.03
    assert report.output is not None and abs(report.output.duration_ms - 2_000) <= 100


def picture_times(path: Path) -> list[float]:
    with av.open(str(path)) as container:
        return [round(float(frame.time), 2) for frame in container.decode(video=0)]


def test_pictures_that_start_late_are_all_kept(media: Path) -> None:
    phone = write_phone_clip(media / "late.mp4", pictures_from_s=0.5, sound_from_s=0.5)
    turn_upright(phone, media / "turned.mp4", probe_media(phone))
    assert picture_times(media / "turned.mp4") == picture_times(phone)


def test_the_upright_copy_keeps_the_colours_the_file_names(media: Path) -> None:
    bt2020_hlg = (9, 18, 9)  # BT.2020 primaries and matrix, HLG transfer: an iPhone's HDR
    phone = write_phone_clip(media / "hdr.mp4", colours=bt2020_hlg)
    turn_upright(phone, media / "turned.mp4", probe_media(phone))
    with av.open(str(media / "turned.mp4")) as container:
        context = container.streams.video[0].codec_context
        assert (context.color_primaries, context.color_trc, context.colorspace) == bt2020_hlg


def test_an_upright_copy_larger_than_1080p_is_brought_down_to_it(media: Path) -> None:
    phone = write_phone_clip(media / "big.mp4", size=(1200, 2000), seconds=0.5)
    report = turn_upright(phone, media / "turned.mp4", probe_media(phone))
    assert report.output is not None
    assert (report.output.width, report.output.height) == (1152, 1920)
    assert report.changes == [
        UPRIGHT_CHANGE,
        "Downscaled from 1200\N{MULTIPLICATION SIGN}2000 to 1152\N{MULTIPLICATION SIGN}1920",
    ]


def test_a_copy_that_cannot_be_written_is_refused_in_words_and_leaves_nothing(
    media: Path,
) -> None:
    phone = write_phone_clip(media / "phone.mp4")
    before = set(media.rglob("*"))
    with pytest.raises(MediaError, match="could not turn this video upright"):
        turn_upright(phone, media / "no such folder" / "turned.mp4", probe_media(phone))
    assert set(media.rglob("*")) == before
