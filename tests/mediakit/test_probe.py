"""Probing by content: what a file really is, whatever its name, and what is refused."""

from __future__ import annotations

import json
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from projects.mediakit.errors import MediaError
from projects.mediakit.probe import MediaInfo, inspect_media, probe_media
from tests.support.mediagen import (
    make_audio,
    make_video,
    truncated_copy,
    write_ffconcat,
    write_hls_playlist,
    write_lying_wav,
)

NOT_A_VIDEO = "This file is not a video we can read. Export it as MP4 (H.264) and try again."


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


@pytest.mark.parametrize(("asked", "rotation"), [(0, 0), (90, 90), (180, 180), (-90, 270)])
def test_the_turn_a_phone_asks_players_for_is_read(media: Path, asked: int, rotation: int) -> None:
    source = make_video(media / f"phone{rotation}.mp4", width=320, height=240, rotation=asked)
    info = probe_media(source, expect="video")
    assert info.rotation == rotation
    stored = (320, 240) if rotation in (0, 180) else (240, 320)
    assert (info.width, info.height) == stored, "the size of the pictures as stored"
