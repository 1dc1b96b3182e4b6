"""The real work behind the simulator: the local engine does what Kling would do.

Everything the simulator computes goes through `identify` and `render`, so the HTTP layer,
the state machine and the fault injection never depend on how the pictures are made. The
local engine is imported when first used: it loads dlib's models, which the admin endpoints
and the error paths never need.
"""

from __future__ import annotations

import math
import shutil
from dataclasses import dataclass
from pathlib import Path

from projects.engines.simulator.jobs import AdvancedJob, BasicJob
from projects.engines.simulator.media import inspect

UNIT_SECONDS = 5  # one credit unit per started 5 s of output: enough to show a string amount


@dataclass(frozen=True)
class Rendered:
    path: Path
    watermark_path: Path | None
    duration_ms: int

    @property
    def units(self) -> str:
        return str(max(1, math.ceil(self.duration_ms / 1000 / UNIT_SECONDS)))


def identify(video_path: Path) -> list:
    """The faces in a video, as the local engine's FaceTrackResults."""
    from projects.engines.local.faces import identify_faces

    return identify_faces(video_path)


def render(job: AdvancedJob | BasicJob, out_dir: Path, result_id: str) -> Rendered:
    """Make the lip-synced video (and its watermarked copy when asked) in `out_dir`."""
    out_path = out_dir / f"{result_id}.mp4"
    if isinstance(job, AdvancedJob):
        watermark_path = out_dir / f"{result_id}-watermark.mp4" if job.watermark else None
        _render_advanced(job, out_path, watermark_path)
    else:
        watermark_path = None
        _render_basic(job, out_path, out_dir / f"{result_id}-speech.wav")
    duration_ms = inspect(out_path, field="result").duration_ms
    return Rendered(path=out_path, watermark_path=watermark_path, duration_ms=duration_ms)


def copy_prerendered(
    source: Path, job: AdvancedJob | BasicJob, out_dir: Path, result_id: str
) -> Rendered:
    """A result without rendering, for benchmarks: a copy of `source` under the task's name."""
    out_path = out_dir / f"{result_id}.mp4"
    shutil.copyfile(source, out_path)
    watermark_path = None
    if isinstance(job, AdvancedJob) and job.watermark:
        watermark_path = out_dir / f"{result_id}-watermark.mp4"
        shutil.copyfile(source, watermark_path)
    duration_ms = inspect(out_path, field="result").duration_ms
    return Rendered(path=out_path, watermark_path=watermark_path, duration_ms=duration_ms)


def _render_advanced(job: AdvancedJob, out_path: Path, watermark_path: Path | None) -> None:
    from projects.engines.local.render import render_advanced

    render_advanced(
        job.video_path,
        job.audio_path,
        job.track,
        sound_start_ms=job.sound_start_ms,
        sound_end_ms=job.sound_end_ms,
        sound_insert_ms=job.sound_insert_ms,
        sound_volume=job.sound_volume,
        original_audio_volume=job.original_audio_volume,
        out_path=out_path,
        watermark_out_path=watermark_path,
    )


def _render_basic(job: BasicJob, out_path: Path, speech_path: Path) -> None:
    from projects.engines.local.faces import identify_faces
    from projects.engines.local.render import render_basic

    audio_path, phonemes = job.audio_path, None
    if job.mode == "text2video":
        from projects.engines.local.tts import synthesize_timed

        phonemes = synthesize_timed(
            job.text, job.voice_id, job.voice_language, job.voice_speed, speech_path
        ).phonemes
        audio_path = speech_path
    tracks = identify_faces(job.video_path)
    if not tracks:
        raise NoFaceError("There is no human in the video.")
    render_basic(job.video_path, audio_path, tracks, out_path, phonemes=phonemes)


class NoFaceError(ValueError):
    """The basic lip-sync found no face to animate: the task fails with Kling's words."""
