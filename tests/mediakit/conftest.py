"""Real generated media shared by the media toolkit's tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.mediagen import make_video


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("media")


@pytest.fixture(scope="module")
def clip(media: Path) -> Path:
    """The standard small, valid video: 2 s of 320x240 bars at 25 fps with a tone."""
    return make_video(media / "clip.mp4", faststart=True)
