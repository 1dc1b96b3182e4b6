"""Posters, thumbnail strips and uploaded images."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from projects.mediakit.errors import MediaError
from projects.mediakit.pictures import check_image, make_poster, make_thumbnail_strip
from tests.support.mediagen import (
    write_png_bomb,
)


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


def test_tiles_in_one_long_keyframe_interval_are_the_exact_frames(tmp_path: Path) -> None:
    """A talking head made with one keyframe in 10 s: the tiles decoded on from each other
    are the frames a seek for each would give (the frame marker tells which frame it is)."""
    from tests.support.talking_heads import FPS, frame_marker, write_face_video

    video = write_face_video(tmp_path / "one_gop.mp4", duration_ms=4000, with_sound=False)
    strip = make_thumbnail_strip(video, count=8, height=360)
    pixels = np.asarray(Image.open(io.BytesIO(strip.jpeg)).convert("RGB"))
    tiles = [pixels[:, i * strip.tile_width : (i + 1) * strip.tile_width] for i in range(8)]
    # The first frame shown at or after each time.
    expected = [-(-(time_ms - 1) * FPS // 1000) for time_ms in strip.times_ms]
    assert [frame_marker(tile) for tile in tiles] == expected
