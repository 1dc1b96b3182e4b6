"""Django forms. The timeline's rules are validated here too, not only in the browser."""

from __future__ import annotations

from decimal import Decimal

from django import forms
from django.contrib.auth import get_user_model

from projects.engines.rules import check_advanced_timing
from projects.models import (
    AudioClip,
    AudioSource,
    DetectedFace,
    MediaStatus,
    Membership,
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


class AddMemberForm(forms.Form):
    username = forms.CharField(max_length=150, label="Username")
    role = forms.ChoiceField(choices=Role.choices, initial=Role.EDITOR, label="Role")

    def __init__(self, *args, project: Project, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.project = project

    def clean_username(self) -> object:
        username = self.cleaned_data["username"].strip()
        user = get_user_model().objects.filter(username__iexact=username, is_active=True).first()
        if user is None:
            raise forms.ValidationError(
                f"There is no active user called “{username}”. Check the spelling, or ask an "
                "administrator to create the account first."
            )
        if Membership.objects.filter(project=self.project, user=user).exists():
            raise forms.ValidationError(
                f"{user.username} is already a member. Change their role in the list below."
            )
        return user


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


def _seconds_field(label: str, help_text: str = "") -> forms.DecimalField:
    return forms.DecimalField(
        label=label,
        min_value=0,
        max_digits=7,
        decimal_places=3,
        help_text=help_text,
        widget=forms.NumberInput(attrs={"step": "0.001", "min": "0", "inputmode": "decimal"}),
    )


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
        self.fields["audio"].queryset = AudioClip.objects.filter(
            project=video.project, status=MediaStatus.READY
        ).order_by("-created_at")

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
    voice_speed = forms.DecimalField(
        required=False,
        min_value=Decimal("0.8"),
        max_value=Decimal("2.0"),
        decimal_places=1,
        initial=Decimal("1.0"),
        label="Speed",
        widget=forms.NumberInput(attrs={"step": "0.1", "min": "0.8", "max": "2.0"}),
    )
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
        self.fields["audio"].queryset = AudioClip.objects.filter(
            project=video.project, status=MediaStatus.READY
        ).exclude(source=AudioSource.TTS)

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
    """An audio clip made from typed text with one of the engine's voices."""

    text = forms.CharField(
        max_length=120,
        label="Words to say",
        widget=forms.Textarea(attrs={"rows": 2, "maxlength": "120", "data-counter": "120"}),
    )
    voice_id = forms.ChoiceField(label="Voice")
    voice_language = forms.ChoiceField(
        choices=[("en", "English"), ("zh", "Chinese")], label="Language"
    )
    voice_speed = forms.DecimalField(
        min_value=Decimal("0.8"),
        max_value=Decimal("2.0"),
        decimal_places=1,
        initial=Decimal("1.0"),
        label="Speed",
        widget=forms.NumberInput(attrs={"step": "0.1", "min": "0.8", "max": "2.0"}),
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["voice_id"].choices = voice_choices()

    def clean_text(self) -> str:
        text = " ".join(self.cleaned_data["text"].split())
        if not text:
            raise forms.ValidationError("Type the words to say.")
        return text


def voice_choices() -> list[tuple[str, str]]:
    from projects.engines.voices import VOICES

    return [(voice.voice_id, voice.label) for voice in VOICES]


def basic_video_problems(video: SourceVideo) -> list[str]:
    """The whole-video lip-sync's tighter limits (2-10 s, sides 720-1920 px), in words."""
    from projects.media import MediaInfo, check_video

    probe = video.media_info.get("probe")
    if not probe:
        return ["This video has not been checked yet."]
    return [problem.message for problem in check_video(MediaInfo(**probe), basic=True)]
