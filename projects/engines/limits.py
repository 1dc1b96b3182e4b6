"""The Kling contract's numeric limits, one place for the app, the local engine and the simulator.

Where the sources disagree (docs/kling.md), the stricter reading is kept here; the client
tolerates the looser one.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class _DurationAndSize:
    """Seconds and megabytes for the sentences people read."""

    @property
    def min_seconds(self) -> int:
        return self.min_duration_ms // 1000

    @property
    def max_seconds(self) -> int:
        return self.max_duration_ms // 1000

    @property
    def max_megabytes(self) -> int:
        return self.max_bytes // MB


@dataclass(frozen=True)
class VideoLimits(_DurationAndSize):
    formats: tuple[str, ...]
    max_bytes: int
    min_duration_ms: int
    max_duration_ms: int
    min_side_px: int
    max_side_px: int
    disputed: str = ""  # where public sources disagree: said to the person after the limit


@dataclass(frozen=True)
class AudioLimits(_DurationAndSize):
    formats: tuple[str, ...]
    max_bytes: int
    min_duration_ms: int
    max_duration_ms: int


MB = 1024 * 1024

# Each value names where it comes from: "contract §N" is docs/kling.md (the official reference
# as we read it); the seeds are the proxy's copies. Where copies disagree the stricter value is
# kept and `disputed` says so in the message a person reads, so nobody pays for a refused task.

# Advanced lip-sync (identify-face + face_choose): the video a face is picked from (contract §1).
ADVANCED_VIDEO = VideoLimits(
    formats=("mp4", "mov"),
    max_bytes=100 * MB,
    min_duration_ms=2_000,
    max_duration_ms=60_000,
    min_side_px=512,
    max_side_px=2160,
)

# Basic (whole-video) lip-sync (contract §4): 2-10 s and sides 720-1920 px in the official
# reference and seeds 000/004; seed 003 says 60 s. We keep the stricter reading.
BASIC_VIDEO = VideoLimits(
    formats=("mp4", "mov"),
    max_bytes=100 * MB,
    min_duration_ms=2_000,
    max_duration_ms=10_000,
    min_side_px=720,
    max_side_px=1920,
    disputed=(
        "Some copies of Kling's reference allow longer or larger videos; we keep to the limits "
        "every copy accepts, so the task is not refused after it is paid for."
    ),
)

# A video to dub: cut into windows the engine takes (ADVANCED_VIDEO), so it may be longer and
# larger than one task's video. Our own limits, not the engine's.
DUB_SOURCE = VideoLimits(
    formats=("mp4", "mov"),
    max_bytes=2 * 1024 * MB,
    min_duration_ms=2_000,
    max_duration_ms=30 * 60_000,
    min_side_px=ADVANCED_VIDEO.min_side_px,
    max_side_px=ADVANCED_VIDEO.max_side_px,
)
# A video's problems that a dub does not share: its windows are cut (shorter, smaller files)
# and scaled to the engine's sides when sent.
DUB_IGNORED_PROBLEMS = frozenset({"too_long", "file_too_big", "too_small", "too_large"})

# Audio for face_choose.sound_file and audio2video (contract §2 and §4).
AUDIO = AudioLimits(
    formats=("mp3", "wav", "m4a", "aac"),
    max_bytes=5 * MB,
    min_duration_ms=2_000,
    max_duration_ms=60_000,
)

MIN_CROP_MS = 2_000  # sound_end_time - sound_start_time (contract §2)
MIN_FACE_OVERLAP_MS = 2_000  # inserted range vs the face's window (contract §2)
VOLUME_RANGE = (0.0, 2.0)  # sound_volume, original_audio_volume (contract §2)
# voice_speed: "accurate to one decimal place; extra digits are rounded" (contract §4 and §8).
VOICE_SPEED_RANGE = (0.8, 2.0)
VOICE_SPEED_DECIMALS = 1
MAX_TEXT_CHARS = 120  # the basic lip-sync's text2video `text` (contract §4)
TTS_MAX_TEXT_CHARS = 1000  # POST /v1/audio/tts `text` (contract §8)
# A TTS audio used as face_choose.audio_id must be 2-60 s long (contract §2 and §8).
TTS_AUDIO_FOR_ADVANCED_MS = (2_000, 60_000)
SESSION_TTL_S = 24 * 3600  # identify-face's session_id (contract §1; one source is vaguer)
AUDIO_ID_TTL_S = 30 * 24 * 3600  # a TTS audio_id is accepted for 30 days (contract §2, §8)
VIDEO_ID_TTL_S = 30 * 24 * 3600  # a Kling-made video_id is accepted for 30 days (contract §1)
FACE_ABSENCE_SPLIT_MS = 1_000  # a face gone longer than this comes back as a new face (§1)
RESULT_RETENTION_DAYS = 30  # result and TTS files are deleted after 30 days (contract §3, §8)
LIST_PAGE_NUM_RANGE = (1, 1000)  # list endpoints' pageNum (contract §3)
LIST_PAGE_SIZE_RANGE = (1, 500)  # list endpoints' pageSize (contract §3)
