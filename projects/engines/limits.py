"""The Kling contract's numeric limits, one place for the app, the local engine and the simulator.

Where the sources disagree (KLING_CONTRACT.md), the stricter reading is kept here; the client
tolerates the looser one.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class VideoLimits:
    formats: tuple[str, ...]
    max_bytes: int
    min_duration_ms: int
    max_duration_ms: int
    min_side_px: int
    max_side_px: int


@dataclass(frozen=True)
class AudioLimits:
    formats: tuple[str, ...]
    max_bytes: int
    min_duration_ms: int
    max_duration_ms: int


MB = 1024 * 1024

# Advanced lip-sync (identify-face + face_choose): the video a face is picked from.
ADVANCED_VIDEO = VideoLimits(
    formats=("mp4", "mov"),
    max_bytes=100 * MB,
    min_duration_ms=2_000,
    max_duration_ms=60_000,
    min_side_px=512,
    max_side_px=2160,
)

# Basic (whole-video) lip-sync: 2-10 s (one source says 60: we keep the stricter), sides 720-1920.
BASIC_VIDEO = VideoLimits(
    formats=("mp4", "mov"),
    max_bytes=100 * MB,
    min_duration_ms=2_000,
    max_duration_ms=10_000,
    min_side_px=720,
    max_side_px=1920,
)

AUDIO = AudioLimits(
    formats=("mp3", "wav", "m4a", "aac"),
    max_bytes=5 * MB,
    min_duration_ms=2_000,
    max_duration_ms=60_000,
)

MIN_CROP_MS = 2_000  # sound_end_time - sound_start_time
MIN_FACE_OVERLAP_MS = 2_000  # inserted range vs the face's window
VOLUME_RANGE = (0.0, 2.0)
VOICE_SPEED_RANGE = (0.8, 2.0)
MAX_TEXT_CHARS = 120
SESSION_TTL_S = 24 * 3600
FACE_ABSENCE_SPLIT_MS = 1_000  # a face gone longer than this comes back as a new face
RESULT_RETENTION_DAYS = 30
LIST_PAGE_NUM_RANGE = (1, 1000)
LIST_PAGE_SIZE_RANGE = (1, 500)
