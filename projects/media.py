"""Media handling for the app: the one import for probing, checks, conversions and pictures.

Nothing here imports Django; storage, models and Celery tasks are built on these functions.
The implementation lives in `projects.mediakit`:

* probe       - `probe_media`: what a file really is, read by content in a killable subprocess
* checks      - `check_video` / `check_audio`: the engine's limits, each breach with its cure
* conform     - `conform_video` / `conform_audio`: "fix it for me" copies that fit the limits
* pictures    - poster, timeline thumbnail strip, uploaded-image check
* waveform    - peaks for the timeline (wavesurfer.js v7)
* safeopen    - the restricted way every one of them opens a file
"""

from __future__ import annotations

from projects.mediakit.checks import LimitProblem, check_audio, check_video
from projects.mediakit.conform import ConformReport, conform_audio, conform_video
from projects.mediakit.errors import MediaError
from projects.mediakit.pictures import (
    ImageInfo,
    ThumbnailStrip,
    check_image,
    make_poster,
    make_thumbnail_strip,
)
from projects.mediakit.probe import MediaInfo, probe_media
from projects.mediakit.waveform import waveform_peaks

__all__ = [
    "ConformReport",
    "ImageInfo",
    "LimitProblem",
    "MediaError",
    "MediaInfo",
    "ThumbnailStrip",
    "check_audio",
    "check_image",
    "check_video",
    "conform_audio",
    "conform_video",
    "make_poster",
    "make_thumbnail_strip",
    "probe_media",
    "waveform_peaks",
]
