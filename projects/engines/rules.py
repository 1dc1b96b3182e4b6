"""The Kling contract's request rules, as pure functions.

The app's forms, the local engine and the Kling simulator all check requests with these, so a
person sees the same words whichever engine is behind the app. Each check returns a list of
`RuleViolation`s (empty when the value is fine) carrying the contract's error code:
1200 for a missing or malformed parameter, 1201 for a well-formed but illegal value.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from projects.engines import limits

MISSING_OR_INVALID = 1200
ILLEGAL_VALUE = 1201


@dataclass(frozen=True)
class RuleViolation:
    """One broken rule: which field, what is wrong, and (when we can tell) how to fix it."""

    code: int
    field: str
    message: str
    fix: str = ""

    @property
    def text(self) -> str:
        """The message and its fix as one sentence pair, ready to show to a person."""
        return f"{self.message} {self.fix}".strip()


def seconds(ms: float) -> str:
    """Milliseconds as a short human reading: 1300 -> '1.3 s', 2000 -> '2 s'."""
    value = f"{ms / 1000:.3f}".rstrip("0").rstrip(".")
    return f"{value} s"


def _illegal(field: str, message: str, fix: str = "") -> list[RuleViolation]:
    return [RuleViolation(ILLEGAL_VALUE, field, message, fix)]


def _missing(field: str, message: str, fix: str = "") -> list[RuleViolation]:
    return [RuleViolation(MISSING_OR_INVALID, field, message, fix)]


def response_code(violations: Iterable[RuleViolation]) -> int | None:
    """The code an API answers with for these violations: 1200 wins over 1201, as it comes first."""
    codes = [violation.code for violation in violations]
    return min(codes) if codes else None


# --- single values ------------------------------------------------------------------------


def check_required(field: str, value: object) -> list[RuleViolation]:
    if value is None or value == "" or value == []:
        return _missing(field, f"{field} is required.")
    return []


def check_integer_ms(field: str, value: object) -> list[RuleViolation]:
    """Times are whole milliseconds (the official type is integer; booleans are not numbers)."""
    if value is None:
        return _missing(field, f"{field} is required (a whole number of milliseconds).")
    if isinstance(value, bool) or not isinstance(value, int):
        return _missing(field, f"{field} must be a whole number of milliseconds, not {value!r}.")
    if value < 0:
        return _illegal(field, f"{field} cannot be negative ({value} ms).")
    return []


def check_volume(field: str, value: object) -> list[RuleViolation]:
    low, high = limits.VOLUME_RANGE
    if isinstance(value, bool) or not isinstance(value, int | float):
        return _missing(field, f"{field} must be a number from {low:g} to {high:g}.")
    if not low <= value <= high:
        return _illegal(
            field,
            f"{field} must be between {low:g} and {high:g}; it is {value:g}.",
            f"Use {min(max(value, low), high):g} instead.",
        )
    return []


def check_tts_text(text: str) -> list[RuleViolation]:
    """Text for Kling's text-to-speech: up to 1000 characters (the lip-sync's own is 120)."""
    return check_text(text, max_chars=limits.TTS_MAX_TEXT_CHARS)


def check_text(text: str, *, max_chars: int = limits.MAX_TEXT_CHARS) -> list[RuleViolation]:
    if not text or not text.strip():
        return _missing("text", "Type the words the person should say.")
    if len(text) > max_chars:
        extra = len(text) - max_chars
        return _illegal(
            "text",
            f"The text may have at most {max_chars} characters; it has {len(text)}.",
            f"Shorten it by {extra} character{'s' if extra > 1 else ''}.",
        )
    return []


def round_voice_speed(speed: float | int | str | Decimal) -> Decimal:
    """`voice_speed` as Kling reads it: one decimal, extra digits rounded half-up (1.25 -> 1.3).

    Decimal, not float: round(1.25, 1) is 1.2 in binary floating point. The client, the forms
    and the simulator all round with this one function.
    """
    step = Decimal(1).scaleb(-limits.VOICE_SPEED_DECIMALS)
    return Decimal(str(speed)).quantize(step, rounding=ROUND_HALF_UP)


def check_voice_speed(speed: object) -> list[RuleViolation]:
    """Any number from 0.8 to 2.0 is accepted (it is rounded to one decimal when used)."""
    low, high = limits.VOICE_SPEED_RANGE
    if isinstance(speed, bool) or not isinstance(speed, int | float | Decimal):
        return _missing("voice_speed", f"voice_speed must be a number from {low:g} to {high:g}.")
    if not low <= speed <= high:
        return _illegal(
            "voice_speed",
            f"The voice speed must be between {low:g} and {high:g}; it is {speed:g}.",
            f"Use {min(max(speed, low), high):g} instead.",
        )
    return []


def check_voice_language(language: object) -> list[RuleViolation]:
    if language not in ("zh", "en"):
        return _illegal("voice_language", f"voice_language must be 'zh' or 'en', not {language!r}.")
    return []


def check_audio_duration(duration_ms: int, field: str = "sound_file") -> list[RuleViolation]:
    low, high = limits.AUDIO.min_duration_ms, limits.AUDIO.max_duration_ms
    if duration_ms < low:
        return _illegal(
            field,
            f"The audio must last at least {seconds(low)}; it lasts {seconds(duration_ms)}.",
            "Record or choose a longer audio file.",
        )
    if duration_ms > high:
        return _illegal(
            field,
            f"The audio may last at most {seconds(high)}; it lasts {seconds(duration_ms)}.",
            f"Cut it to {seconds(high)} or less before uploading.",
        )
    return []


def check_audio_file(
    *, audio_format: str, size_bytes: int, duration_ms: int, field: str = "sound_file"
) -> list[RuleViolation]:
    """Format (mp3/wav/m4a/aac), size (≤ 5 MB) and length (2-60 s) of an audio file."""
    found: list[RuleViolation] = []
    if audio_format not in limits.AUDIO.formats:
        allowed = "/".join(limits.AUDIO.formats)
        found += _illegal(
            field,
            f"The audio must be {allowed}; this one is {audio_format or 'unrecognised'}.",
            "Convert it to mp3 or wav.",
        )
    if size_bytes > limits.AUDIO.max_bytes:
        found += _illegal(
            field,
            f"The audio may be at most {_megabytes(limits.AUDIO.max_bytes)}; "
            f"it is {_megabytes(size_bytes)}.",
            "Use a shorter clip or a compressed format such as mp3.",
        )
    return found + check_audio_duration(duration_ms, field)


def check_video_file(
    *,
    video_format: str,
    size_bytes: int,
    duration_ms: int,
    width: int,
    height: int,
    video_limits: limits.VideoLimits = limits.ADVANCED_VIDEO,
    field: str = "video_url",
) -> list[RuleViolation]:
    """Format, size, length and frame size of a video, against one endpoint's limits."""
    found: list[RuleViolation] = []
    if video_format not in video_limits.formats:
        found += _illegal(
            field,
            f"The video must be {'/'.join(video_limits.formats)}; "
            f"this one is {video_format or 'unrecognised'}.",
            "Export it as MP4.",
        )
    if size_bytes > video_limits.max_bytes:
        found += _illegal(
            field,
            f"The video may be at most {_megabytes(video_limits.max_bytes)}; "
            f"it is {_megabytes(size_bytes)}.",
            "Export it at a lower bitrate.",
        )
    low, high = video_limits.min_duration_ms, video_limits.max_duration_ms
    if not low <= duration_ms <= high:
        found += _illegal(
            field,
            f"The video must last {seconds(low)} to {seconds(high)}; "
            f"it lasts {seconds(duration_ms)}.",
            "Trim it to fit." if duration_ms > high else "Use a longer video.",
        )
    small, big = video_limits.min_side_px, video_limits.max_side_px
    if not (small <= width <= big and small <= height <= big):
        found += _illegal(
            field,
            f"Each side of the video must be {small} to {big} px; it is {width}x{height}.",
            "Resize it, for example to 1280x720.",
        )
    return found


def check_page(page_num: object, page_size: object) -> list[RuleViolation]:
    found: list[RuleViolation] = []
    for field, value, (low, high) in (
        ("pageNum", page_num, limits.LIST_PAGE_NUM_RANGE),
        ("pageSize", page_size, limits.LIST_PAGE_SIZE_RANGE),
    ):
        if isinstance(value, bool) or not isinstance(value, int):
            found += _missing(field, f"{field} must be a whole number, not {value!r}.")
        elif not low <= value <= high:
            found += _illegal(field, f"{field} must be between {low} and {high}; it is {value}.")
    return found


def check_one_of(
    first: str, first_value: object, second: str, second_value: object
) -> list[RuleViolation]:
    """Exactly one of two fields (an empty string counts as absent)."""
    given = [bool(first_value), bool(second_value)]
    if not any(given):
        return _missing(first, f"One of {first} or {second} is required.")
    if all(given):
        return _illegal(first, f"Give either {first} or {second}, not both.")
    return []


# --- the advanced timeline ------------------------------------------------------------------


def check_crop(*, audio_ms: int, sound_start_ms: int, sound_end_ms: int) -> list[RuleViolation]:
    """The cropped clip lasts at least 2 s and ends within the audio."""
    found: list[RuleViolation] = []
    clip_ms = sound_end_ms - sound_start_ms
    if clip_ms < limits.MIN_CROP_MS:
        found += _illegal(
            "sound_end_time",
            f"The audio clip must last at least {seconds(limits.MIN_CROP_MS)}; "
            f"it lasts {seconds(max(clip_ms, 0))}.",
            _lengthen_crop_fix(audio_ms=audio_ms, sound_start_ms=sound_start_ms),
        )
    if sound_end_ms > audio_ms:
        found += _illegal(
            "sound_end_time",
            f"The clip ends at {seconds(sound_end_ms)}, after the audio's end "
            f"({seconds(audio_ms)}).",
            f"End it at {seconds(audio_ms)} or earlier.",
        )
    return found


def _lengthen_crop_fix(*, audio_ms: int, sound_start_ms: int) -> str:
    """How to make a short crop long enough without running past the audio's end (which the
    other crop rule forbids): later end, else earlier start, else another clip."""
    if sound_start_ms + limits.MIN_CROP_MS <= audio_ms:
        return f"End it at {seconds(sound_start_ms + limits.MIN_CROP_MS)} or later."
    if audio_ms >= limits.MIN_CROP_MS:
        return f"Start it at {seconds(audio_ms - limits.MIN_CROP_MS)} or earlier."
    return "Choose a longer audio clip."


def check_insert_inside_video(
    *, video_ms: int, clip_ms: int, sound_insert_ms: int
) -> list[RuleViolation]:
    """The inserted range [insert, insert + clip] lies inside the video."""
    end_ms = sound_insert_ms + clip_ms
    if end_ms <= video_ms:
        return []
    latest = video_ms - clip_ms
    if latest < 0:
        fix = f"Shorten the clip to {seconds(video_ms)} or less."
    else:
        fix = f"Insert it at {seconds(latest)} or earlier."
    return _illegal(
        "sound_insert_time",
        f"The clip would end at {seconds(end_ms)}, after the video's end ({seconds(video_ms)}).",
        fix,
    )


def overlap_ms(start_a: int, end_a: int, start_b: int, end_b: int) -> int:
    return max(0, min(end_a, end_b) - max(start_a, start_b))


def check_face_overlap(
    *,
    video_ms: int,
    face_start_ms: int,
    face_end_ms: int,
    clip_ms: int,
    sound_insert_ms: int,
) -> list[RuleViolation]:
    """The inserted clip overlaps the face's window by at least 2 s; suggest the smallest move."""
    need = limits.MIN_FACE_OVERLAP_MS
    clip_end = sound_insert_ms + clip_ms
    have = overlap_ms(sound_insert_ms, clip_end, face_start_ms, face_end_ms)
    if have >= need:
        return []
    message = (
        f"The clip must overlap the face's window by at least {seconds(need)}; "
        f"it overlaps {seconds(have)}."
    )
    if face_end_ms - face_start_ms < need:
        return _illegal(
            "sound_insert_time",
            message,
            f"This face is on screen for only {seconds(face_end_ms - face_start_ms)}; "
            "pick another face.",
        )
    # Inserts that give enough overlap form one interval; so do inserts inside the video.
    lowest = max(face_start_ms + need - clip_ms, 0)
    highest = min(face_end_ms - need, video_ms - clip_ms)
    if lowest > highest:
        return _illegal("sound_insert_time", message, "Shorten the clip or pick another face.")
    target = min(max(sound_insert_ms, lowest), highest)
    shift = target - sound_insert_ms
    direction = "later" if shift > 0 else "earlier"
    return _illegal("sound_insert_time", message, f"Move it {seconds(abs(shift))} {direction}.")


def check_advanced_timing(
    *,
    audio_ms: int,
    video_ms: int,
    face_start_ms: int,
    face_end_ms: int,
    sound_start_ms: int,
    sound_end_ms: int,
    sound_insert_ms: int,
) -> list[RuleViolation]:
    """Every timeline rule of an advanced lip-sync, in the order a person would fix them."""
    found = check_crop(audio_ms=audio_ms, sound_start_ms=sound_start_ms, sound_end_ms=sound_end_ms)
    if found:
        # Placement rules depend on the clip's length: judge them once the crop is right.
        return found
    clip_ms = sound_end_ms - sound_start_ms
    found = check_insert_inside_video(
        video_ms=video_ms, clip_ms=clip_ms, sound_insert_ms=sound_insert_ms
    )
    return found + check_face_overlap(
        video_ms=video_ms,
        face_start_ms=face_start_ms,
        face_end_ms=face_end_ms,
        clip_ms=clip_ms,
        sound_insert_ms=sound_insert_ms,
    )


# --- one fix for the whole line ---------------------------------------------------------------


@dataclass(frozen=True)
class TimingFix:
    """The nearest crop and insert time that keep every timing rule at once, or, when no crop
    or insert time can, why not.

    `sentence` says what the fix changes ("Use the audio from 2 s to 4 s.") or, for a line that
    cannot be fixed here, what the person has to change instead (another clip, another face).
    """

    sentence: str
    sound_start_ms: int | None = None
    sound_end_ms: int | None = None
    sound_insert_ms: int | None = None

    @property
    def can_apply(self) -> bool:
        return self.sound_start_ms is not None


def suggest_timing_fix(
    *,
    audio_ms: int,
    video_ms: int,
    face_start_ms: int,
    face_end_ms: int,
    sound_start_ms: int,
    sound_end_ms: int,
    sound_insert_ms: int,
) -> TimingFix | None:
    """One fix for every broken timing rule of a line; None when no rule is broken.

    Fixing rules one by one can go round in circles (a longer crop runs past the audio's end,
    an earlier end makes it too short again), so the fix is worked out for all rules together:
    the crop that changes least, then the insert time nearest the current one.
    """
    broken = check_advanced_timing(
        audio_ms=audio_ms,
        video_ms=video_ms,
        face_start_ms=face_start_ms,
        face_end_ms=face_end_ms,
        sound_start_ms=sound_start_ms,
        sound_end_ms=sound_end_ms,
        sound_insert_ms=sound_insert_ms,
    )
    if not broken:
        return None
    need = limits.MIN_FACE_OVERLAP_MS
    shortest = max(limits.MIN_CROP_MS, need)  # a clip shorter than the overlap cannot give it
    face_on_video_ms = max(min(face_end_ms, video_ms) - face_start_ms, 0)
    if audio_ms < shortest:
        return TimingFix(
            f"Nothing here can make this line work: the audio clip lasts only "
            f"{seconds(audio_ms)}, less than the {seconds(shortest)} the rules need. "
            "Choose a longer clip."
        )
    if face_on_video_ms < need:
        return TimingFix(
            f"Nothing here can make this line work: the face is on screen for only "
            f"{seconds(face_on_video_ms)}, less than the {seconds(need)} the rules need. "
            "Pick another face."
        )
    start_ms, end_ms = _nearest_crop(
        sound_start_ms, sound_end_ms, audio_ms=audio_ms, shortest=shortest, longest=video_ms
    )
    clip_ms = end_ms - start_ms
    # The inserts with enough overlap that keep the clip inside the video (never empty here).
    lowest = max(face_start_ms + need - clip_ms, 0)
    highest = min(face_end_ms - need, video_ms - clip_ms)
    insert_ms = min(max(sound_insert_ms, lowest), highest)
    changes = []
    if (start_ms, end_ms) != (sound_start_ms, sound_end_ms):
        changes.append(f"use the audio from {seconds(start_ms)} to {seconds(end_ms)}")
    if insert_ms != sound_insert_ms:
        changes.append(f"place it at {seconds(insert_ms)} on the video")
    sentence = " and ".join(changes) + "."
    return TimingFix(sentence[0].upper() + sentence[1:], start_ms, end_ms, insert_ms)


def _nearest_crop(
    start_ms: int, end_ms: int, *, audio_ms: int, shortest: int, longest: int
) -> tuple[int, int]:
    """The crop inside the audio, `shortest` to `longest` long, that moves its edges least:
    a short crop grows at its end, or at its start where the audio ends first; a long one is
    cut at its end."""
    start_ms = max(start_ms, 0)
    end_ms = min(end_ms, audio_ms)
    if end_ms - start_ms < shortest:
        end_ms = min(max(end_ms, start_ms + shortest), audio_ms)
        start_ms = max(min(start_ms, end_ms - shortest), 0)
    if end_ms - start_ms > longest:
        end_ms = start_ms + longest
    return start_ms, end_ms


def _megabytes(size_bytes: int) -> str:
    return f"{size_bytes / limits.MB:.1f} MB"
