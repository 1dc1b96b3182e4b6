"""Django forms. The timeline's rules are validated here too, not only in the browser."""

from __future__ import annotations

import re
from decimal import Decimal

from django import forms

from projects.engines import limits, rules
from projects.engines.rules import check_advanced_timing
from projects.mediakit.wording import length
from projects.models import (
    AudioClip,
    AudioSource,
    DetectedFace,
    Project,
    Role,
    SourceVideo,
)


class ProjectForm(forms.ModelForm):
    class Meta:
        model = Project
        fields = ["name"]
        labels = {"name": "Project name"}
        widgets = {"name": forms.TextInput(attrs={"placeholder": "e.g. Spring campaign"})}

    def clean_name(self) -> str:
        name = " ".join(self.cleaned_data["name"].split())
        if not name:
            raise forms.ValidationError("Give the project a name.")
        return name


class InvitationForm(forms.Form):
    """Whom to invite and as what. Whether the account exists is not checked here (nor said
    anywhere): see services/membership.py."""

    username = forms.CharField(max_length=150, label="Username")
    role = forms.ChoiceField(choices=Role.choices, initial=Role.EDITOR, label="Role")

    def clean_username(self) -> str:
        username = self.cleaned_data["username"].strip()
        if not username:
            raise forms.ValidationError("Type the username of the person to invite.")
        return username


class RenameForm(forms.Form):
    """A new name for a video, an audio clip or a task."""

    name = forms.CharField(
        max_length=200,
        required=False,
        label="New name",
        error_messages={"max_length": "Keep the name under 200 characters."},
    )

    def __init__(self, *args, required: bool = True, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["name"].required = required
        self.fields["name"].error_messages["required"] = "Type the new name."

    def clean_name(self) -> str:
        return " ".join(self.cleaned_data["name"].split())


class UrlImportForm(forms.Form):
    url = forms.URLField(
        label="Address of the file",
        max_length=2000,
        assume_scheme="https",
        error_messages={"invalid": "Enter a full web address starting with https:// or http://."},
    )
    kind = forms.ChoiceField(choices=[("video", "Video"), ("audio", "Audio clip")], label="It is a")

    def clean_url(self) -> str:
        url = self.cleaned_data["url"]
        if not url.lower().startswith(("http://", "https://")):
            raise forms.ValidationError("Only web addresses (http:// or https://) can be imported.")
        return url


class KlingImportForm(forms.Form):
    """A video made on Kling, as Kling shows it: its address and its id."""

    url = forms.URLField(
        label="The video's address on Kling",
        max_length=2000,
        assume_scheme="https",
        error_messages={
            "required": "Paste the video's address as Kling shows it (https://…).",
            "invalid": "Paste the video's full address, starting with https://.",
        },
    )
    video_id = forms.CharField(
        label="The video's id on Kling",
        max_length=128,
        error_messages={"required": "Paste the video's id as Kling shows it."},
    )

    def clean_url(self) -> str:
        url = self.cleaned_data["url"]
        if not url.lower().startswith(("http://", "https://")):
            raise forms.ValidationError("Only web addresses (http:// or https://) can be imported.")
        return url

    def clean_video_id(self) -> str:
        video_id = self.cleaned_data["video_id"].strip()
        if not re.fullmatch(r"[A-Za-z0-9_-]+", video_id):
            raise forms.ValidationError(
                "A Kling video id is letters and digits only (for example 823415095642574912); "
                "copy it again from Kling."
            )
        return video_id


# A time as people type it: "5.5", "5,5" (a decimal comma), "5", ".5". Digit grouping
# ("1,234.5") and units ("5 s") do not match, so they are refused rather than guessed at.
SECONDS_TEXT = re.compile(r"\d+(?:[.,]\d*)?|[.,]\d+")


class SecondsField(forms.DecimalField):
    """A time in seconds, to the millisecond. "5,5" reads as 5.5 s, as "5.5" does; whatever else
    is not a plain number of seconds is refused with a sentence, never read as another number.

    A text box, not `type=number`: Chromium's number box reads "5,5" as 55 in English.
    """

    default_error_messages = {
        "invalid": "Type the time in seconds, for example 5.5 (a comma works too).",
        "min_value": "A time cannot be negative.",
        "max_decimal_places": "Type the time to the millisecond at most, for example 5.125.",
        "max_digits": "That time is far longer than any video.",
        "max_whole_digits": "That time is far longer than any video.",
    }

    def __init__(self, **kwargs) -> None:
        kwargs.setdefault("min_value", 0)
        kwargs.setdefault("max_digits", 7)
        kwargs.setdefault("decimal_places", 3)
        kwargs.setdefault(
            "widget",
            forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off", "size": "8"}),
        )
        super().__init__(**kwargs)

    def to_python(self, value: object) -> Decimal | None:
        if value in self.empty_values:
            return None
        text = str(value).strip()
        if not SECONDS_TEXT.fullmatch(text):
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid")
        return super().to_python(text.replace(",", "."))


def _seconds_field(label: str, help_text: str = "") -> SecondsField:
    return SecondsField(label=label, help_text=help_text)


def _volume_field(label: str) -> forms.FloatField:
    return forms.FloatField(
        label=label,
        min_value=0,
        max_value=2,
        initial=1.0,
        widget=forms.NumberInput(attrs={"type": "range", "min": "0", "max": "2", "step": "0.05"}),
    )


class TaskForm(forms.Form):
    """An advanced lip-sync: a face, a cropped clip placed on the video's timeline, volumes.

    The timeline checks the same rules live in the browser; this form is the authority.
    """

    face = forms.ModelChoiceField(
        queryset=DetectedFace.objects.none(),
        widget=forms.HiddenInput,
        error_messages={
            "required": "Pick the face to lip-sync first.",
            "invalid_choice": "That face is no longer in the list; pick a face again.",
        },
    )
    audio = forms.ModelChoiceField(
        queryset=AudioClip.objects.none(),
        label="Audio clip",
        empty_label="Choose a clip…",
        error_messages={"required": "Choose the audio clip to use."},
    )
    sound_start = _seconds_field("Crop start (s)", "Where the clip starts in the audio.")
    sound_end = _seconds_field("Crop end (s)", "Where the clip ends in the audio.")
    sound_insert = _seconds_field("Place at (s)", "Where the clip starts on the video.")
    sound_volume = _volume_field("New audio volume")
    original_audio_volume = _volume_field("Original audio volume")
    watermark = forms.BooleanField(
        required=False, label="Also make a watermarked copy (for sharing drafts)"
    )

    def __init__(self, *args, video: SourceVideo, faces: list[DetectedFace], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.video = video
        self.fields["face"].queryset = DetectedFace.objects.filter(pk__in=[f.pk for f in faces])
        # Only clips that can be used as they are; the page says why the others are not offered.
        self.fields["audio"].queryset = (
            AudioClip.objects.filter(project=video.project).usable().order_by("-created_at")
        )

    def clean_audio(self) -> AudioClip:
        clip = self.cleaned_data["audio"]
        if clip.problems:
            raise forms.ValidationError(
                f"This clip does not meet the engine's limits: {clip.problems[0]['message']}"
            )
        return clip

    def clean(self) -> dict:
        data = super().clean()
        if self.errors:
            return data
        ms = {
            name: round(data[name] * 1000) for name in ("sound_start", "sound_end", "sound_insert")
        }
        face, clip = data["face"], data["audio"]
        violations = check_advanced_timing(
            audio_ms=clip.duration_ms or 0,
            video_ms=self.video.duration_ms or 0,
            face_start_ms=face.start_ms,
            face_end_ms=face.end_ms,
            sound_start_ms=ms["sound_start"],
            sound_end_ms=ms["sound_end"],
            sound_insert_ms=ms["sound_insert"],
        )
        for violation in violations:
            self.add_error(None, violation.text)
        data.update({f"{name}_ms": value for name, value in ms.items()})
        return data


class VoiceSpeedField(forms.DecimalField):
    """A voice's speed, 0.8-2.0: any number in range is taken and rounded half-up to one
    decimal, as Kling does with extra digits (1.25 becomes 1.3)."""

    def __init__(self, **kwargs) -> None:
        low, high = (Decimal(str(bound)) for bound in limits.VOICE_SPEED_RANGE)
        kwargs.setdefault("label", "Speed")
        super().__init__(
            min_value=low,
            max_value=high,
            initial=Decimal("1.0"),
            widget=forms.NumberInput(attrs={"step": "any", "min": str(low), "max": str(high)}),
            error_messages={
                "min_value": f"The voice speed must be between {low} and {high}.",
                "max_value": f"The voice speed must be between {low} and {high}.",
                "invalid": f"Type a number from {low} to {high} for the speed.",
            },
            **kwargs,
        )

    def clean(self, value: object) -> Decimal | None:
        speed = super().clean(value)
        return None if speed is None else rules.round_voice_speed(speed)


class QuickTaskForm(forms.Form):
    """The basic (whole-video) lip-sync: text with a voice, or an audio clip."""

    mode = forms.ChoiceField(
        choices=[("text", "Type the words"), ("audio", "Use an audio clip")],
        widget=forms.RadioSelect,
        initial="text",
        label="Speech from",
    )
    text = forms.CharField(
        required=False,
        max_length=120,
        label="Words to say",
        widget=forms.Textarea(attrs={"rows": 3, "maxlength": "120", "data-counter": "120"}),
    )
    voice_id = forms.ChoiceField(required=False, label="Voice")
    voice_language = forms.ChoiceField(
        required=False, choices=[("en", "English"), ("zh", "Chinese")], label="Language"
    )
    voice_speed = VoiceSpeedField(required=False)
    audio = forms.ModelChoiceField(
        queryset=AudioClip.objects.none(),
        required=False,
        label="Audio clip",
        empty_label="Choose a clip…",
    )

    def __init__(self, *args, video: SourceVideo, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.video = video
        self.fields["voice_id"].choices = voice_choices()
        self.fields["audio"].queryset = (
            AudioClip.objects.filter(project=video.project).usable().exclude(source=AudioSource.TTS)
        )

    def clean(self) -> dict:
        data = super().clean()
        if self.errors:
            return data
        for problem in basic_video_problems(self.video):
            self.add_error(None, problem)
        if data["mode"] == "text":
            text = " ".join((data.get("text") or "").split())
            if not text:
                self.add_error(
                    "text", "Type the words the person should say (up to 120 characters)."
                )
            if not data.get("voice_id"):
                self.add_error("voice_id", "Choose a voice.")
            data["text"] = text
            data["voice_speed"] = data.get("voice_speed") or Decimal("1.0")
            data["voice_language"] = data.get("voice_language") or "en"
        else:
            clip = data.get("audio")
            if clip is None:
                self.add_error("audio", "Choose the audio clip to use.")
            elif clip.problems:
                self.add_error("audio", clip.problems[0]["message"])
        return data


class TtsClipForm(forms.Form):
    """An audio clip made from typed text with one of the engine's voices.

    Text up to Kling's text-to-speech limit (1000 characters; the clip must still be 2-60 s
    for a lip-sync). When Kling's voices speak (`kling_voices`), each voice is taken only in
    its own language(s): some copies of Kling's reference refuse the others.
    """

    text = forms.CharField(
        max_length=limits.TTS_MAX_TEXT_CHARS,
        label="Words to say",
        widget=forms.Textarea(
            attrs={
                "rows": 3,
                "maxlength": str(limits.TTS_MAX_TEXT_CHARS),
                "data-counter": str(limits.TTS_MAX_TEXT_CHARS),
            }
        ),
    )
    voice_id = forms.ChoiceField(label="Voice")
    voice_language = forms.ChoiceField(
        choices=[("en", "English"), ("zh", "Chinese")], label="Language"
    )
    voice_speed = VoiceSpeedField()

    def __init__(self, *args, kling_voices: bool | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["voice_id"].choices = voice_choices()
        if kling_voices is None:
            from projects.services import speech

            kling_voices = speech.by_engine()
        self.kling_voices = kling_voices

    def clean_text(self) -> str:
        text = " ".join(self.cleaned_data["text"].split())
        if not text:
            raise forms.ValidationError("Type the words to say.")
        return text

    def clean(self) -> dict:
        data = super().clean()
        if self.kling_voices and data.get("voice_id") and data.get("voice_language"):
            problem = language_problem(data["voice_id"], data["voice_language"])
            if problem:
                self.add_error("voice_language", problem)
        return data


LANGUAGE_NAMES = {"en": "English", "zh": "Chinese"}


def language_problem(voice_id: str, language: str) -> str:
    """Why Kling's voice would not speak `language`, in words; "" when it does."""
    from projects.engines.voices import get_voice

    voice = get_voice(voice_id)
    if language in voice.own_languages:
        return ""
    own = " or ".join(LANGUAGE_NAMES[code] for code in voice.own_languages)
    wanted = LANGUAGE_NAMES.get(language, language)
    return (
        f"Kling's voice {voice.short_name} speaks {own}, not {wanted}. Choose {own}, "
        f"or pick a voice that speaks {wanted}."
    )


def voice_choices() -> list[tuple[str, str]]:
    from projects.engines.voices import VOICES

    return [(voice.voice_id, voice.label) for voice in VOICES]


def basic_video_problems(video: SourceVideo) -> list[str]:
    """The whole-video lip-sync's tighter limits (2-10 s, sides 720-1920 px), in words."""
    if not video.media_info.get("probe"):
        return ["This video has not been checked yet."]
    return [problem["message"] for problem in video.quick_mode_problems]


class FixForm(forms.Form):
    """ "Fix it for me": where the kept part starts when the file is longer than the engine
    takes. Blank means the start; anything else must be a time inside the file."""

    trim_start = SecondsField(
        label="Keep from (seconds)",
        required=False,
        error_messages={
            "invalid": "Type where the kept part starts in seconds, e.g. 12.5 (a comma works too).",
            "min_value": "The kept part cannot start before the beginning (0 s).",
            "max_digits": "That is far past the end of the file: type a start in seconds.",
            "max_whole_digits": "That is far past the end of the file: type a start in seconds.",
            "max_decimal_places": "Type the start in seconds to the millisecond at most.",
        },
    )

    def __init__(self, *args, duration_ms: int | None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.duration_ms = duration_ms or 0

    def clean_trim_start(self) -> int:
        """The start in whole milliseconds. Compared before any arithmetic: a huge number
        never becomes a huge integer, nor overflows."""
        seconds = self.cleaned_data["trim_start"] or Decimal(0)
        if seconds > Decimal(self.duration_ms) / 1000:
            raise forms.ValidationError(
                f"The kept part must start between 0 s and the end of the file "
                f"({length(self.duration_ms)})."
            )
        return round(seconds * 1000)


class DubLineForm(forms.Form):
    """A line of a dub: who says it, from an audio clip (cropped) or typed text with a voice,
    and where it starts. What the line rules say of it is shown beside it once added."""

    person = forms.TypedChoiceField(
        coerce=int,
        label="Who says it",
        error_messages={"invalid_choice": "Choose one of the people found in the video."},
    )
    source = forms.ChoiceField(
        choices=[("clip", "An audio clip"), ("text", "Typed text")],
        initial="clip",
        widget=forms.RadioSelect,
        label="Speech",
    )
    audio = forms.ModelChoiceField(
        queryset=AudioClip.objects.none(),
        required=False,
        label="Clip",
        error_messages={"invalid_choice": "Choose one of this project's ready audio clips."},
    )
    crop_start = SecondsField(label="From (s)", required=False, help_text="In the clip.")
    crop_end = SecondsField(label="To (s)", required=False, help_text="Empty: its end.")
    text = forms.CharField(
        max_length=120,
        required=False,
        label="Words to say",
        error_messages={
            "max_length": "A voice says at most 120 characters at a time: split the text into "
            "two lines."
        },
        widget=forms.Textarea(attrs={"rows": 2, "maxlength": "120", "data-counter": "120"}),
    )
    voice_id = forms.ChoiceField(label="Voice", required=False)
    voice_language = forms.ChoiceField(
        choices=[("en", "English"), ("zh", "Chinese")], label="Language", required=False
    )
    voice_speed = forms.DecimalField(
        min_value=Decimal("0.8"),
        max_value=Decimal("2.0"),
        decimal_places=1,
        initial=Decimal("1.0"),
        required=False,
        label="Speed",
        widget=forms.NumberInput(attrs={"step": "0.1", "min": "0.8", "max": "2.0"}),
    )
    at = SecondsField(label="Starts at (s)", help_text="On the video, to the millisecond.")
    volume = _volume_field("Volume")

    def __init__(self, *args, people=(), clips=None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["person"].choices = [(p.number, f"Person {p.number}") for p in people]
        if clips is not None:
            self.fields["audio"].queryset = clips
        self.fields["voice_id"].choices = voice_choices()

    def clean(self) -> dict:
        data = super().clean()
        if data.get("source") == "text":
            if not data.get("text", "").strip():
                self.add_error("text", "Type the words the person says.")
            if not data.get("voice_id"):
                self.add_error("voice_id", "Choose a voice.")
        elif data.get("source") == "clip" and not data.get("audio"):
            self.add_error("audio", "Choose the audio clip to use.")
        return data


class DubLineChangeForm(forms.Form):
    """A line moved, cropped or typed on the dub's editor: the fields left out keep their value."""

    at = SecondsField(label="Starts at (s)", help_text="On the video, to the millisecond.")
    crop_start = SecondsField(label="From (s)", required=False)
    crop_end = SecondsField(label="To (s)", required=False)
    volume = forms.FloatField(label="Volume", min_value=0, max_value=2, required=False)


class DubVolumeForm(forms.Form):
    original_volume = _volume_field("Original sound")

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        words = "a volume from 0 (silent) to 2"
        self.fields["original_volume"].error_messages.update(
            {
                "invalid": f"Give {words}.",
                "min_value": f"Give {words}.",
                "max_value": f"Give {words}.",
                "required": f"Give {words}.",
            }
        )


def seconds_to_ms(value: Decimal | None) -> int | None:
    return None if value is None else int(value * 1000)
