"""The engine's limits applied to a probed file, each breach with words and a possible cure.

A problem's `fix` names the conversion that cures it ("trim", "downscale", "upscale",
"reencode", "compress_audio"), or is None when only the person can (record a longer clip).
Every video fix is carried out by `conform_video`, every audio fix by `conform_audio`.
"""

from __future__ import annotations

from dataclasses import dataclass

from projects.engines.limits import (
    ADVANCED_VIDEO,
    AUDIO,
    BASIC_VIDEO,
    AudioLimits,
    VideoLimits,
)
from projects.mediakit.probe import MediaInfo
from projects.mediakit.wording import (
    clock,
    codec_label,
    container_label,
    frame_size,
    megabytes,
    seconds,
)

# Codecs the engine is known to read inside MP4/MOV; others (ProRes, VP9, AV1 ...) are converted.
ENGINE_VIDEO_CODECS = frozenset({"h264", "hevc"})
Fix = str  # "trim" | "downscale" | "upscale" | "reencode" | "compress_audio"


@dataclass(frozen=True)
class LimitProblem:
    code: str  # too_long, too_short, too_small, too_large, file_too_big, wrong_format, ...
    message: str
    fix: Fix | None = None


def check_video(info: MediaInfo, *, basic: bool = False) -> list[LimitProblem]:
    """Every way `info` breaks the video limits (basic lip-sync's tighter ones if `basic`)."""
    limits = BASIC_VIDEO if basic else ADVANCED_VIDEO
    if info.kind != "video":
        return [
            LimitProblem(
                "not_video",
                "This file has sound but no pictures. Please choose a video file.",
            )
        ]
    problems = [
        _video_format_problem(info, limits),
        _video_size_problem(info, limits),
        _duration_problem(info.duration_ms, limits, "video"),
        _frame_size_problem(info, limits),
    ]
    return [problem for problem in problems if problem is not None]


def check_audio(info: MediaInfo) -> list[LimitProblem]:
    """Every way `info` breaks the engine's audio limits."""
    if not info.has_audio:
        return [
            LimitProblem(
                "no_audio",
                "This file has no sound in it. Please choose a file with speech.",
            )
        ]
    problems = [
        _audio_format_problem(info),
        _audio_size_problem(info),
        _duration_problem(info.duration_ms, AUDIO, "sound"),
    ]
    return [problem for problem in problems if problem is not None]


def _video_format_problem(info: MediaInfo, limits: VideoLimits) -> LimitProblem | None:
    accepted = " or ".join(name.upper() for name in limits.formats)
    if info.container not in limits.formats:
        return LimitProblem(
            "wrong_format",
            f"This video is a {container_label(info.container)} file; the engine accepts only "
            f"{accepted}. "
            "We can convert it to MP4 (H.264) for you.",
            "reencode",
        )
    if info.video_codec not in ENGINE_VIDEO_CODECS:
        return LimitProblem(
            "unusual_codec",
            f"This video is encoded as {codec_label(info.video_codec)}, which the "
            "engine may not read. We can convert it to MP4 (H.264) for you.",
            "reencode",
        )
    return None


def _video_size_problem(info: MediaInfo, limits: VideoLimits) -> LimitProblem | None:
    if info.size_bytes <= limits.max_bytes:
        return None
    return LimitProblem(
        "file_too_big",
        f"This video file is {megabytes(info.size_bytes)}; the engine accepts at most "
        f"{megabytes(limits.max_bytes)}. We can make a smaller copy for you, "
        "or you can export it at a lower quality.",
        "reencode",
    )


def _duration_problem(
    duration_ms: int, limits: VideoLimits | AudioLimits, noun: str
) -> LimitProblem | None:
    min_ms, max_ms = limits.min_duration_ms, limits.max_duration_ms
    what = "This video" if noun == "video" else "This sound"
    if duration_ms < min_ms:
        return LimitProblem(
            "too_short",
            f"{what} is {seconds(duration_ms, unlike=min_ms)} long; the engine needs at least "
            f"{seconds(min_ms)}. Please choose a longer clip.",
        )
    if duration_ms > max_ms:
        return LimitProblem(
            "too_long",
            f"{what} is {seconds(duration_ms, unlike=max_ms)} long; the engine accepts at most "
            f"{seconds(max_ms)}. Trim it here, or let us make a {seconds(max_ms)} copy "
            f"starting at {clock(0)}." + _disputed(limits),
            "trim",
        )
    return None


def _frame_size_problem(info: MediaInfo, limits: VideoLimits) -> LimitProblem | None:
    width, height = info.width or 0, info.height or 0
    short, long = sorted((width, height))
    size = frame_size(width, height)
    bounds = f"between {limits.min_side_px} and {limits.max_side_px} pixels"
    if long > limits.max_side_px:
        can_fix = short * limits.max_side_px // long >= limits.min_side_px
        return LimitProblem(
            "too_large",
            f"This video is {size} pixels; each side must be {bounds}. "
            + ("We can make a smaller copy for you." if can_fix else _aspect_advice())
            + _disputed(limits),
            "downscale" if can_fix else None,
        )
    if short < limits.min_side_px:
        can_fix = long * limits.min_side_px // short <= limits.max_side_px if short else False
        return LimitProblem(
            "too_small",
            f"This video is {size} pixels; each side must be {bounds}. "
            + ("We can make an enlarged copy for you." if can_fix else _aspect_advice())
            + _disputed(limits),
            "upscale" if can_fix else None,
        )
    return None


def _disputed(limits: VideoLimits | AudioLimits) -> str:
    """Where public sources disagree on a limit, say that the stricter one is kept."""
    note = getattr(limits, "disputed", "")
    return f" {note}" if note else ""


def _aspect_advice() -> str:
    return "Its shape is too narrow to fit, so please crop it to a wider frame and try again."


def _audio_format_problem(info: MediaInfo) -> LimitProblem | None:
    if info.container in AUDIO.formats and info.kind == "audio":
        return None
    accepted = ", ".join(name.upper() for name in AUDIO.formats)
    return LimitProblem(
        "wrong_format",
        f"This sound is in a {container_label(info.container)} file; the engine accepts "
        f"{accepted}. "
        "We can convert it to M4A for you.",
        "reencode",
    )


def _audio_size_problem(info: MediaInfo) -> LimitProblem | None:
    if info.size_bytes <= AUDIO.max_bytes:
        return None
    return LimitProblem(
        "file_too_big",
        f"This sound file is {megabytes(info.size_bytes)}; the engine accepts at most "
        f"{megabytes(AUDIO.max_bytes)}. We can compress it for you (as M4A) without "
        "audible loss for speech.",
        "compress_audio",
    )
