"""The data model. Value ranges and uniqueness are enforced by the database, not only by forms."""

from __future__ import annotations

import secrets
import uuid
from dataclasses import asdict
from datetime import datetime, timedelta
from functools import cached_property

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Lower
from django.urls import reverse
from django.utils import timezone

from projects.engines import limits
from projects.engines.base import Cure, EngineName, TaskKind
from projects.engines.voices import UnknownVoiceError, get_voice
from projects.mediakit import captions, checks, formats
from projects.mediakit.probe import MediaInfo
from projects.mediakit.wording import clock

# Stored names never come from the file's name (it may be hostile; the original is kept in a
# field for display only). A video or audio file is stored under this neutral suffix until the
# probe has found what it is; then it is stored again as what it is (services/media.py).
UNPROBED_SUFFIX = "unprobed"


def _media_path(prefix: str, instance: models.Model, suffix: str) -> str:
    return f"{prefix}/{instance.project_id}/{uuid.uuid4().hex}.{suffix}"


def video_upload_to(instance: SourceVideo, filename: str) -> str:
    return _media_path("videos", instance, UNPROBED_SUFFIX)


def poster_upload_to(instance: SourceVideo, filename: str) -> str:
    return _media_path("posters", instance, "jpg")


def strip_upload_to(instance: SourceVideo, filename: str) -> str:
    return _media_path("strips", instance, "jpg")


def audio_upload_to(instance: AudioClip, filename: str) -> str:
    return _media_path("audio", instance, UNPROBED_SUFFIX)


def probed_name(stored_name: str, extension: str) -> str:
    """Where a probed file is kept: its stored name, with the extension of what it is."""
    folder, _slash, file_name = stored_name.rpartition("/")
    return f"{folder}/{file_name.split('.', 1)[0]}.{extension}"


def face_upload_to(instance: DetectedFace, filename: str) -> str:
    return f"faces/{instance.video.project_id}/{uuid.uuid4().hex}.jpg"


def result_upload_to(instance: LipSyncTask, filename: str) -> str:
    # One fixed name per task and copy: a retried download overwrites rather than orphans.
    suffix = "-watermarked" if "watermark" in filename else ""
    return f"results/{instance.project_id}/{instance.pk}{suffix}.mp4"


def new_callback_token() -> str:
    return secrets.token_urlsafe(32)  # 256 bits


# The engine's vocabulary (projects.engines.base) as model choices, with the words people read.
ENGINE_CHOICES = [(name.value, name.label) for name in EngineName]
KIND_CHOICES = [(kind.value, kind.label) for kind in TaskKind]
# What a person does about a failure that trying again cannot cure (the button it offers).
CURE_CHOICES = [
    (Cure.NONE.value, "Try again"),
    (Cure.CHANGE_CLIP.value, "Change the clip"),
    (Cure.IDENTIFY_AGAIN.value, "Identify again"),
]


class Role(models.TextChoices):
    OWNER = "owner", "Owner"
    EDITOR = "editor", "Editor"
    REVIEWER = "reviewer", "Reviewer"


class Project(models.Model):
    name = models.CharField(max_length=120)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL, through="Membership", related_name="projects"
    )
    # An archived project is hidden from the project list (unless asked for) and can be restored.
    archived_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        permissions = [("view_all_projects", "Can see every project (staff)")]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("projects:detail", args=[self.pk])

    @property
    def is_archived(self) -> bool:
        return self.archived_at is not None


class Membership(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices)
    created_at = models.DateTimeField(auto_now_add=True)
    # Review decisions newer than this are listed in the editor's notice.
    decisions_seen_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "project"], name="one_membership_per_user"),
            models.CheckConstraint(condition=Q(role__in=Role.values), name="membership_role_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.user} ({self.role}) in {self.project}"


class InvitationState(models.TextChoices):
    PENDING = "pending", "Waiting for an answer"
    ACCEPTED = "accepted", "Accepted"
    DECLINED = "declined", "Declined"
    WITHDRAWN = "withdrawn", "Withdrawn"


# An invitation not answered in this time lapses: a name typed today does not open a project
# to an account made under that name months later.
INVITATION_LIFETIME = timedelta(days=14)


class Invitation(models.Model):
    """An owner's offer of a role in a project to a username; the person joins only by
    accepting it. The name is kept as typed, whether or not such an account exists, so that
    the owner's view never tells which names are real (services/membership.py)."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="invitations")
    username = models.CharField(max_length=150)
    role = models.CharField(max_length=16, choices=Role.choices)
    state = models.CharField(
        max_length=16, choices=InvitationState.choices, default=InvitationState.PENDING
    )
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    answered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                Lower("username"),
                "project",
                condition=Q(state="pending"),
                name="one_pending_invitation_per_name",
            ),
            models.CheckConstraint(condition=Q(role__in=Role.values), name="invitation_role_valid"),
            models.CheckConstraint(
                condition=Q(state__in=InvitationState.values), name="invitation_state_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.username} invited to {self.project} as {self.get_role_display()}"

    @property
    def expires_at(self):
        return self.created_at + INVITATION_LIFETIME

    @property
    def is_open(self) -> bool:
        """Still waiting for an answer, and not lapsed."""
        return self.state == InvitationState.PENDING and timezone.now() < self.expires_at

    @classmethod
    def open_ones(cls) -> models.QuerySet[Invitation]:
        return cls.objects.filter(
            state=InvitationState.PENDING, created_at__gt=timezone.now() - INVITATION_LIFETIME
        )


class MediaStatus(models.TextChoices):
    UPLOADED = "uploaded", "Uploaded"
    PROBING = "probing", "Checking"
    READY = "ready", "Ready"
    REJECTED = "rejected", "Rejected"


class ProbedMediaQuerySet(models.QuerySet):
    def usable(self) -> models.QuerySet:
        """Rows for which `is_usable` holds, chosen by the database (ready, no problem listed),
        with a file: quick mode's typed text is spoken by the engine and has none."""
        return self.listed().filter(status=MediaStatus.READY, media_info__problems=[])

    def listed(self) -> models.QuerySet:
        """Rows people see in lists: not quick mode's typed text, which is ready without a
        file (the engine speaks it) and is no clip one can play or place; not the windows and
        clips a dub cuts and merges to send to the engine."""
        return self.exclude(status=MediaStatus.READY, file="").filter(made_for_dub__isnull=True)


class ProbedMedia(models.Model):
    """What videos and audio clips share: the file's facts, its probe, its state, its owner.

    `media_info["problems"]` holds each way the file breaks the engine's limits, as
    {"code", "message", "fix"} dicts written by the probe.
    """

    size_bytes = models.PositiveBigIntegerField(default=0)
    sha256 = models.CharField(max_length=64, blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    media_info = models.JSONField(default=dict, blank=True)
    waveform = models.JSONField(default=dict, blank=True)
    status = models.CharField(
        max_length=16, choices=MediaStatus.choices, default=MediaStatus.UPLOADED
    )
    rejection_reason = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ProbedMediaQuerySet.as_manager()

    class Meta:
        abstract = True
        ordering = ["-created_at"]

    @property
    def is_checking(self) -> bool:
        """Still being fetched, converted or probed: the page polls until it is settled."""
        return self.status in (MediaStatus.UPLOADED, MediaStatus.PROBING)

    @property
    def is_settled(self) -> bool:
        return not self.is_checking

    @property
    def is_ready(self) -> bool:
        return self.status == MediaStatus.READY

    @property
    def is_rejected(self) -> bool:
        return self.status == MediaStatus.REJECTED

    @property
    def needs_fix(self) -> bool:
        """Readable, but breaking an engine limit until fixed."""
        return self.is_ready and bool(self.problems)

    @property
    def is_usable(self) -> bool:
        """Checked here and within the engine's limits: it can be placed on a timeline or sent.
        (Quick mode's typed speech has neither a file nor a problems list.)"""
        return self.is_ready and bool(self.file) and self.media_info.get("problems") == []

    @property
    def state_label(self) -> str:
        """The badge's words. "Ready" only for a file that can be used as it is."""
        if self.is_checking:
            return "Checking…"
        if self.needs_fix:
            return "Needs a fix"
        return self.get_status_display()

    @property
    def state_key(self) -> str:
        """The badge's style: checking, needs-fix, ready or rejected."""
        if self.is_checking:
            return "checking"
        return "needs-fix" if self.needs_fix else self.status

    @property
    def can_delete(self) -> bool:
        return not self.delete_refusal

    @property
    def delete_refusal(self) -> str:
        """Why the file cannot be deleted now, in words (empty when it can): a worker is still
        reading it, or lip-sync tasks use it."""
        if self.is_checking:
            return "It is still being checked; wait until that has ended."
        used_by = self.tasks.count()
        if used_by:
            tasks = "1 lip-sync task uses" if used_by == 1 else f"{used_by} lip-sync tasks use"
            return f"{tasks} it: delete {'it' if used_by == 1 else 'them'} first."
        return ""

    @property
    def unusable_reason(self) -> str:
        """Why the file cannot be used yet, in one sentence (empty when it can)."""
        if self.is_checking:
            return "It is still being checked."
        if self.is_rejected:
            return self.rejection_reason
        return self.problems[0]["message"] if self.problems else ""

    @property
    def problems(self) -> list[dict]:
        return self.media_info.get("problems", [])

    @property
    def engine_max_duration_ms(self) -> int:
        raise NotImplementedError

    @property
    def too_long_for_engine(self) -> bool:
        """Longer than the engine takes: "fix it for me" then asks where the kept part starts."""
        return (self.duration_ms or 0) > self.engine_max_duration_ms

    @property
    def fixable(self) -> bool:
        return any(problem.get("fix") for problem in self.problems)

    UNPROBED_CONTENT_TYPE = formats.UNKNOWN_CONTENT_TYPE

    @property
    def content_type(self) -> str:
        """What the probe found the file to be, as a content type for serving and storing."""
        probe = self.media_info.get("probe")
        if not probe:
            return self.UNPROBED_CONTENT_TYPE
        return formats.content_type(probe.get("container"), probe.get("kind"))


class FaceSearchState(models.TextChoices):
    NOT_STARTED = "not_started", "Not searched yet"
    RUNNING = "running", "Looking for faces"
    DONE = "done", "Searched"
    FAILED = "failed", "The search failed"


# media_info["pictures"] while a ready video's thumbnail strip and waveform are being made.
PICTURES_PENDING = "pending"


class SourceVideo(ProbedMedia):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="videos")
    file = models.FileField(upload_to=video_upload_to, max_length=255)
    original_name = models.CharField(max_length=255)
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    fps = models.FloatField(null=True, blank=True)
    has_audio = models.BooleanField(default=False)
    poster = models.FileField(upload_to=poster_upload_to, blank=True, max_length=255)
    thumbnail_strip = models.FileField(upload_to=strip_upload_to, blank=True, max_length=255)
    strip_tile_count = models.PositiveSmallIntegerField(default=0)
    # The latest face search: its state, and for a finished one the engine session it made.
    face_search_state = models.CharField(
        max_length=16, choices=FaceSearchState.choices, default=FaceSearchState.NOT_STARTED
    )
    face_search_message = models.TextField(blank=True)  # why it failed, for the person
    face_search_engine = models.CharField(max_length=16, choices=ENGINE_CHOICES, blank=True)
    face_session_id = models.CharField(max_length=128, blank=True)
    face_search_finished_at = models.DateTimeField(null=True, blank=True)
    # A video Kling made (imported from Kling, or a task's result): Kling takes its id instead
    # of a URL until it expires (limits.VIDEO_ID_TTL_S), and need not download it again.
    kling_video_id = models.CharField(max_length=128, blank=True)
    kling_video_expires_at = models.DateTimeField(null=True, blank=True)
    # Our own search for people over the whole video (for dubbing), and where it may be cut.
    people_search_state = models.CharField(
        max_length=16, choices=FaceSearchState.choices, default=FaceSearchState.NOT_STARTED
    )
    people_search_message = models.TextField(blank=True)
    cut_hints = models.JSONField(default=dict, blank=True)
    # A window cut from a dub's source, or a job's result, sent to the engine: not listed.
    made_for_dub = models.ForeignKey(
        "Dub", on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )

    class Meta(ProbedMedia.Meta):
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=MediaStatus.values), name="video_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(face_search_state__in=FaceSearchState.values),
                name="video_face_search_state_valid",
            ),
            models.CheckConstraint(
                condition=Q(fps__isnull=True) | Q(fps__gt=0), name="video_fps_positive"
            ),
        ]

    def __str__(self) -> str:
        return self.original_name

    def get_absolute_url(self) -> str:
        return reverse("projects:video", args=[self.pk])

    @property
    def usable_kling_video_id(self) -> str:
        """The Kling video_id Kling still accepts for this video, or "" (then its URL is sent)."""
        return _still_valid(self.kling_video_id, self.kling_video_expires_at)

    # Served as a video (never as a page) even before the probe has said which kind.
    UNPROBED_CONTENT_TYPE = "video/mp4"

    @property
    def engine_max_duration_ms(self) -> int:
        return limits.ADVANCED_VIDEO.max_duration_ms

    @property
    def is_searching_faces(self) -> bool:
        return self.face_search_state == FaceSearchState.RUNNING

    @property
    def is_making_pictures(self) -> bool:
        """Ready, with its thumbnail strip and waveform still being made (the face search
        runs meanwhile)."""
        return self.is_ready and self.media_info.get("pictures") == PICTURES_PENDING

    @property
    def faces_panel_polls(self) -> bool:
        """The face cards are polled while the search runs, and after it (showing the faces
        found) until the timeline's pictures are made: then the page reloads with its timeline."""
        return self.is_searching_faces or self.is_making_pictures

    @property
    def faces_searched(self) -> bool:
        return self.face_search_state == FaceSearchState.DONE

    @property
    def face_search_failed(self) -> bool:
        return self.face_search_state == FaceSearchState.FAILED

    @property
    def delete_refusal(self) -> str:
        if self.is_searching_faces or self.is_searching_people:
            return "We are looking for faces in it; wait until that has ended."
        if self.dubs.exists():
            return "A dub of it is kept: delete the dub first (on the dub's page)."
        return super().delete_refusal

    @property
    def can_search_faces(self) -> bool:
        """Faces are looked for in a ready video that meets the limits, one search at a time."""
        return self.is_ready and not self.problems and not self.is_searching_faces

    # -- Quick mode (the whole-video lip-sync) has tighter limits: limits.BASIC_VIDEO.

    @cached_property
    def quick_mode_problems(self) -> list[dict]:
        """Each way a checked video breaks quick mode's limits, as `problems` lists them."""
        probe = self.media_info.get("probe")
        if not self.is_ready or not probe:
            return []
        return [asdict(problem) for problem in checks.check_video(MediaInfo(**probe), basic=True)]

    @property
    def fits_quick_mode(self) -> bool:
        return self.is_ready and bool(self.media_info.get("probe")) and not self.quick_mode_problems

    @property
    def quick_mode_fixable(self) -> bool:
        """ "Fix it for me" can make a copy that quick mode takes: every problem has a cure."""
        problems = self.quick_mode_problems
        return bool(problems) and all(problem["fix"] for problem in problems)

    @property
    def too_long_for_quick_mode(self) -> bool:
        return (self.duration_ms or 0) > limits.BASIC_VIDEO.max_duration_ms

    # -- Dubbing: the video is cut into windows, so its own limits are limits.DUB_SOURCE.

    @property
    def dub_refusal(self) -> str:
        """Why this video cannot be dubbed, in one sentence (empty when it can)."""
        if not self.is_ready:
            return self.unusable_reason or "It is still being checked."
        if (self.duration_ms or 0) > limits.DUB_SOURCE.max_duration_ms:
            return (
                f"This video lasts {clock(self.duration_ms or 0)}; a dub takes videos of up to "
                f"{limits.DUB_SOURCE.max_duration_ms // 60_000} minutes."
            )
        if self.size_bytes > limits.DUB_SOURCE.max_bytes:
            return (
                "This video is larger than a dub takes "
                f"({limits.DUB_SOURCE.max_bytes // limits.MB // 1024} GB)."
            )
        if (self.duration_ms or 0) < limits.DUB_SOURCE.min_duration_ms:
            return "This video is shorter than the engine's 2 s."
        for problem in self.problems:
            if problem["code"] not in limits.DUB_IGNORED_PROBLEMS:
                return problem["message"]
        return ""

    @property
    def can_dub(self) -> bool:
        return not self.dub_refusal

    @property
    def is_searching_people(self) -> bool:
        return self.people_search_state == FaceSearchState.RUNNING

    @property
    def people_searched(self) -> bool:
        return self.people_search_state == FaceSearchState.DONE

    @property
    def can_search_people(self) -> bool:
        """People are looked for once, in a video a dub can take, one search at a time."""
        return self.can_dub and not (self.is_searching_people or self.people_searched)


class DetectedFace(models.Model):
    video = models.ForeignKey(SourceVideo, on_delete=models.CASCADE, related_name="faces")
    engine = models.CharField(max_length=16)
    session_id = models.CharField(max_length=128)
    session_expires_at = models.DateTimeField()
    engine_face_id = models.CharField(max_length=64)
    thumbnail = models.FileField(upload_to=face_upload_to, blank=True, max_length=255)
    start_ms = models.PositiveIntegerField()
    end_ms = models.PositiveIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["start_ms", "engine_face_id"]  # PICKER_ORDER
        constraints = [
            models.UniqueConstraint(
                fields=["video", "engine", "session_id", "engine_face_id"],
                name="one_face_per_session_face_id",
            ),
            models.CheckConstraint(
                condition=Q(end_ms__gte=F("start_ms")), name="face_window_ordered"
            ),
        ]

    def __str__(self) -> str:
        return f"Person {self.person_number} ({clock(self.start_ms)}–{clock(self.end_ms)})"

    # The order the face picker lists a search's faces in; "Person 2" is the second of them.
    PICKER_ORDER = ("start_ms", "engine_face_id")

    @property
    def person_number(self) -> int:
        """1 for the first face of its search in the picker's order, 2 for the next …"""
        known = getattr(self, "listed_as", None)  # set by selectors that list many at once
        if known is not None:
            return known
        earlier = DetectedFace.objects.filter(
            video_id=self.video_id, engine=self.engine, session_id=self.session_id
        ).filter(
            Q(start_ms__lt=self.start_ms)
            | Q(start_ms=self.start_ms, engine_face_id__lt=self.engine_face_id)
        )
        return earlier.count() + 1


class FaceChoice(models.Model):
    """The face a person last picked on a video's page, kept until they pick another: leaving
    the page (to add audio, say) and coming back does not lose it."""

    video = models.ForeignKey(SourceVideo, on_delete=models.CASCADE, related_name="face_choices")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    face = models.ForeignKey(DetectedFace, on_delete=models.CASCADE, related_name="choices")
    chosen_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["video", "user"], name="one_face_choice_per_user")
        ]

    def __str__(self) -> str:
        return f"{self.user_id} chose {self.face_id} on video {self.video_id}"


class AudioSource(models.TextChoices):
    UPLOAD = "upload", "Uploaded file"
    URL = "url", "Imported from a URL"
    RECORDING = "recording", "Recorded"
    TTS = "tts", "Text to speech"


def _still_valid(engine_id: str, expires_at: datetime | None) -> str:
    """An id the engine gave us, while the engine still accepts it (a minute's margin, so a
    request sent now does not arrive after it expired)."""
    if not engine_id or expires_at is None:
        return ""
    return engine_id if expires_at > timezone.now() + ENGINE_ID_MARGIN else ""


ENGINE_ID_MARGIN = timedelta(minutes=1)


class AudioClip(ProbedMedia):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="audio_clips")
    source = models.CharField(max_length=16, choices=AudioSource.choices)
    file = models.FileField(upload_to=audio_upload_to, blank=True, max_length=255)
    original_name = models.CharField(max_length=255, blank=True)
    tts_text = models.CharField(max_length=limits.TTS_MAX_TEXT_CHARS, blank=True)
    voice_id = models.CharField(max_length=64, blank=True)
    voice_language = models.CharField(
        max_length=2, blank=True, choices=[("zh", "Chinese"), ("en", "English")]
    )
    voice_speed = models.DecimalField(max_digits=2, decimal_places=1, null=True, blank=True)
    # What is said in an uploaded clip, as WebVTT timed from the clip's start (checked on attach).
    captions_vtt = models.TextField(blank=True)
    # Speech made by Kling's text-to-speech: its audio_id is sent instead of the file until it
    # expires (limits.AUDIO_ID_TTL_S); the file is our own copy.
    kling_audio_id = models.CharField(max_length=128, blank=True)
    kling_audio_expires_at = models.DateTimeField(null=True, blank=True)
    # A dub job's clip (its lines merged with silence), sent to the engine: not listed.
    made_for_dub = models.ForeignKey(
        "Dub", on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )

    class Meta(ProbedMedia.Meta):
        constraints = [
            models.CheckConstraint(
                condition=Q(source__in=AudioSource.values), name="audio_source_valid"
            ),
            models.CheckConstraint(
                condition=Q(status__in=MediaStatus.values), name="audio_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(voice_speed__isnull=True)
                | Q(voice_speed__gte=0.8, voice_speed__lte=2.0),
                name="audio_voice_speed_range",
            ),
            models.CheckConstraint(
                condition=~Q(source="tts") | (~Q(tts_text="") & ~Q(voice_id="")),
                name="audio_tts_has_text_and_voice",
            ),
        ]

    def __str__(self) -> str:
        if self.source == AudioSource.TTS:
            text = self.tts_text if len(self.tts_text) <= 40 else self.tts_text[:39] + "…"
            return f"“{text}” ({self.voice_label})"
        return self.original_name or f"Audio {self.pk}"

    @property
    def voice_label(self) -> str:
        """The voice's name as the voice picker shows it (typed speech only)."""
        try:
            return get_voice(self.voice_id).label
        except UnknownVoiceError:
            return self.voice_id

    @property
    def caption_cues(self) -> list[captions.Cue]:
        """What is said, timed from the clip's start: its attached captions, or for typed
        speech its words over the whole clip (over quick mode's longest video when the clip
        was never recorded here)."""
        if self.captions_vtt:
            return captions.parse_vtt(self.captions_vtt.encode())
        if self.source == AudioSource.TTS and self.tts_text:
            return [
                captions.Cue(
                    0, self.duration_ms or limits.BASIC_VIDEO.max_duration_ms, self.tts_text
                )
            ]
        return []

    @property
    def voice_short_name(self) -> str:
        try:
            return get_voice(self.voice_id).short_name
        except UnknownVoiceError:
            return self.voice_id

    @property
    def engine_max_duration_ms(self) -> int:
        return limits.AUDIO.max_duration_ms

    @property
    def usable_kling_audio_id(self) -> str:
        """The TTS audio_id Kling still accepts, or "" (then our copy of the file is sent)."""
        return _still_valid(self.kling_audio_id, self.kling_audio_expires_at)

    @property
    def delete_refusal(self) -> str:
        if self.pk and self.dub_lines.exists():
            return "A dub's line uses it: remove the line first."
        return super().delete_refusal


class TaskStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    QUEUED = "queued", "Queued"
    SUBMITTING = "submitting", "Submitting"
    SUBMITTED = "submitted", "Submitted"
    PROCESSING = "processing", "Processing"
    SUCCEED = "succeed", "Done"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


# The lifecycle's groups: each rule about a task's state is read from one of these.
FINAL_STATUSES = frozenset({TaskStatus.SUCCEED, TaskStatus.FAILED, TaskStatus.CANCELLED})
IN_FLIGHT_STATUSES = (TaskStatus.SUBMITTING, TaskStatus.SUBMITTED, TaskStatus.PROCESSING)
AT_ENGINE_STATUSES = (TaskStatus.SUBMITTED, TaskStatus.PROCESSING)
# Not yet sent: cancelling costs nothing. Ended without a result: can be tried again.
CANCELLABLE_STATUSES = (TaskStatus.DRAFT, TaskStatus.QUEUED)
# Not being sent nor at the engine: its row may go (the engine would report to nothing).
DELETABLE_STATUSES = (*CANCELLABLE_STATUSES, *FINAL_STATUSES)
RETRYABLE_STATUSES = (TaskStatus.FAILED, TaskStatus.CANCELLED)
# Before and after are compared from a second before the new speech: the ear gets the
# original voice to set the new one against, and nobody waits through the unchanged start.
COMPARE_LEAD_IN_MS = 1_000


class ReviewState(models.TextChoices):
    PENDING = "pending", "Awaiting review"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"


class LipSyncTask(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="tasks")
    video = models.ForeignKey(SourceVideo, on_delete=models.PROTECT, related_name="tasks")
    face = models.ForeignKey(
        DetectedFace, on_delete=models.SET_NULL, null=True, blank=True, related_name="tasks"
    )
    audio = models.ForeignKey(
        AudioClip, on_delete=models.PROTECT, null=True, blank=True, related_name="tasks"
    )
    kind = models.CharField(max_length=16, choices=KIND_CHOICES, default=TaskKind.ADVANCED)
    title = models.CharField(max_length=120, blank=True)  # a name given by people; see display_name
    sound_start_ms = models.PositiveIntegerField(default=0)
    sound_end_ms = models.PositiveIntegerField(default=0)
    sound_insert_ms = models.PositiveIntegerField(default=0)
    sound_volume = models.FloatField(default=1.0)
    original_audio_volume = models.FloatField(default=1.0)
    watermark_wanted = models.BooleanField(default=False)
    engine = models.CharField(max_length=16, choices=ENGINE_CHOICES)
    external_task_id = models.CharField(max_length=64, unique=True)
    engine_task_id = models.CharField(max_length=128, blank=True)
    callback_token = models.CharField(max_length=64, default=new_callback_token, editable=False)
    status = models.CharField(max_length=16, choices=TaskStatus.choices, default=TaskStatus.DRAFT)
    status_message = models.TextField(blank=True)
    credits_charged = models.DecimalField(max_digits=10, decimal_places=2, null=True, blank=True)
    # The engine's id of the result video (Kling accepts it as a video_id for 30 days).
    result_video_id = models.CharField(max_length=128, blank=True)
    result_file = models.FileField(upload_to=result_upload_to, blank=True, max_length=255)
    watermarked_result_file = models.FileField(
        upload_to=result_upload_to, blank=True, max_length=255
    )
    review_state = models.CharField(
        max_length=16, choices=ReviewState.choices, default=ReviewState.PENDING
    )
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    review_note = models.TextField(blank=True)
    reviewed_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Pipeline bookkeeping (see services/pipeline.py).
    status_changed_at = models.DateTimeField(default=timezone.now)
    create_attempts = models.PositiveSmallIntegerField(default=0)
    poll_count = models.PositiveIntegerField(default=0)
    poll_seq = models.PositiveIntegerField(default=0)
    next_poll_at = models.DateTimeField(null=True, blank=True)
    last_hint_at = models.DateTimeField(null=True, blank=True)
    # Who is downloading the result (a worker's delivery of a poll or of a callback's hint),
    # and since when: a poll and a callback arriving together download it once.
    download_claim = models.CharField(max_length=64, blank=True)
    download_claimed_at = models.DateTimeField(null=True, blank=True)
    retry_of = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="retries"
    )
    # Sending (see services/pipeline.py): when the sending began (the give-up deadline counts
    # from it), whether a create may have reached the engine without our knowing its fate,
    # and whether the person cancelled while we waited to try again.
    sending_since = models.DateTimeField(null=True, blank=True)
    create_unsure = models.BooleanField(default=False)
    cancel_requested = models.BooleanField(default=False)
    failure_cure = models.CharField(max_length=16, choices=CURE_CHOICES, blank=True, default="")

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=TaskStatus.values), name="task_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(kind__in=[kind.value for kind in TaskKind]), name="task_kind_valid"
            ),
            models.CheckConstraint(
                condition=Q(review_state__in=ReviewState.values), name="task_review_state_valid"
            ),
            models.CheckConstraint(
                condition=Q(sound_volume__gte=0, sound_volume__lte=2),
                name="task_sound_volume_range",
            ),
            models.CheckConstraint(
                condition=Q(original_audio_volume__gte=0, original_audio_volume__lte=2),
                name="task_original_volume_range",
            ),
            models.CheckConstraint(
                condition=Q(kind=TaskKind.BASIC)
                | Q(sound_end_ms__gte=F("sound_start_ms") + limits.MIN_CROP_MS),
                name="task_crop_at_least_2s",
            ),
            models.CheckConstraint(
                condition=Q(credits_charged__isnull=True) | Q(credits_charged__gte=0),
                name="task_credits_not_negative",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "status_changed_at"]),
            models.Index(fields=["review_state", "status"]),
            models.Index(fields=["project", "created_at"]),
        ]

    def __str__(self) -> str:
        # Cheap, for lists of many (the panel's audit trail); pages name a task by display_name.
        return f"Task {str(self.id)[:8]} ({self.get_status_display()})"

    def save(self, *args, **kwargs) -> None:
        if not self.external_task_id:
            self.external_task_id = str(self.id)
        super().save(*args, **kwargs)

    def get_absolute_url(self) -> str:
        return reverse("projects:task", args=[self.pk])

    @property
    def display_name(self) -> str:
        """The task as people know it: who speaks what, and where.

        "Person 2 · speech_4s.wav at 0:05" for a chosen face, "Whole video · Sunny" for quick
        mode (the voice, for typed words; the clip's name otherwise).
        """
        if self.title:
            return self.title
        if self.kind == TaskKind.BASIC:
            return f"{TaskKind.BASIC.label} · {self._speech_name(voice_only=True)}"
        who = f"Person {self.face.person_number}" if self.face_id else "A face no longer found"
        return f"{who} · {self._speech_name()} at {clock(self.sound_insert_ms)}"

    def _speech_name(self, *, voice_only: bool = False) -> str:
        clip = self.audio
        if clip is None:
            return "no speech"
        if clip.source == AudioSource.TTS and voice_only:
            return clip.voice_short_name
        return clip.original_name or str(clip)

    @property
    def caption_cues(self) -> list[captions.Cue]:
        """The result's captions: what its speech says, where it is heard on the video."""
        if self.audio is None:
            return []
        said = self.audio.caption_cues
        if self.kind == TaskKind.BASIC:
            return said  # the speech runs from the start of the result
        return captions.placed(
            said,
            crop_start_ms=self.sound_start_ms,
            crop_end_ms=self.sound_end_ms,
            at_ms=self.sound_insert_ms,
        )

    @property
    def has_captions(self) -> bool:
        return self.has_result and bool(self.caption_cues)

    @property
    def captions_language(self) -> str:
        """The captions' language code when we know it (the voice's), else empty."""
        return self.audio.voice_language if self.audio is not None else ""

    @property
    def on_chosen_face(self) -> bool:
        """A lip-sync of one chosen face, placed on the timeline (not the whole video)."""
        return self.kind == TaskKind.ADVANCED

    @property
    def is_final(self) -> bool:
        return self.status in FINAL_STATUSES

    @property
    def is_at_engine(self) -> bool:
        return self.status in AT_ENGINE_STATUSES

    @property
    def can_retry(self) -> bool:
        """Ended without a result, and not for a reason that the same request meets again."""
        return self.status in RETRYABLE_STATUSES and not self.cure_needed

    @property
    def cure_needed(self) -> bool:
        """It failed for a reason only a change cures (see `cure_label`)."""
        return self.status == TaskStatus.FAILED and bool(self.failure_cure)

    @property
    def cure_label(self) -> str:
        """The action that can cure the failure: "Change the clip" or "Identify again"."""
        return self.get_failure_cure_display() if self.cure_needed else ""

    @property
    def is_waiting_to_retry(self) -> bool:
        """Being sent, between two attempts: the next one is scheduled, none is under way."""
        return (
            self.status == TaskStatus.SUBMITTING
            and self.next_poll_at is not None
            and self.create_attempts > 0
            and not self.cancel_requested
        )

    @property
    def is_cancelling(self) -> bool:
        """Cancelled while a create may have reached the engine: we look it up first."""
        return self.status == TaskStatus.SUBMITTING and self.cancel_requested

    @property
    def can_cancel(self) -> bool:
        """Not sent yet, or waiting between attempts to send (never during an attempt)."""
        return self.status in CANCELLABLE_STATUSES or self.is_waiting_to_retry

    @property
    def can_continue(self) -> bool:
        """A finished result can become a new source video ("Continue from this result")."""
        return self.status == TaskStatus.SUCCEED and bool(self.result_file)

    @property
    def can_delete(self) -> bool:
        """Not while it is being sent or is at the engine: it can go once that has ended."""
        return self.status in DELETABLE_STATUSES

    @property
    def delete_refusal(self) -> str:
        if self.can_delete:
            return ""
        return "It is at the engine now; it can be deleted once it has ended."

    @property
    def can_duplicate(self) -> bool:
        """ "Duplicate and change" reopens the timeline, which only a chosen-face task has."""
        return self.on_chosen_face

    @property
    def has_failed(self) -> bool:
        return self.status == TaskStatus.FAILED

    @property
    def needs_attention(self) -> bool:
        """Failed, or sent back to draft: the person has something to do."""
        return self.status in (TaskStatus.FAILED, TaskStatus.DRAFT)

    @property
    def has_result(self) -> bool:
        return self.status == TaskStatus.SUCCEED and bool(self.result_file)

    @property
    def is_reviewable(self) -> bool:
        """Only a finished video can be approved or rejected."""
        return self.status == TaskStatus.SUCCEED

    @property
    def compare_from_ms(self) -> int:
        """Where before and after are watched from: a second before the new speech; the start
        for a whole-video lip-sync, where the speech starts with the video."""
        if self.kind != TaskKind.ADVANCED:
            return 0
        return max(0, self.sound_insert_ms - COMPARE_LEAD_IN_MS)


class ReviewQueueManager(models.Manager):
    def get_queryset(self) -> models.QuerySet:
        return (
            super()
            .get_queryset()
            .filter(status=TaskStatus.SUCCEED, review_state=ReviewState.PENDING)
        )


class ReviewQueueTask(LipSyncTask):
    """Finished tasks awaiting a decision: the reviewers' first stop in the review panel."""

    objects = ReviewQueueManager()

    class Meta:
        proxy = True
        ordering = ["finished_at", "created_at"]  # oldest first: first come, first reviewed
        verbose_name = "review queue task"
        verbose_name_plural = "review queue"


class ApiCall(models.Model):
    """One request to an engine, kept for the reviewers and for debugging."""

    task = models.ForeignKey(
        LipSyncTask, on_delete=models.CASCADE, null=True, blank=True, related_name="api_calls"
    )
    video = models.ForeignKey(
        SourceVideo, on_delete=models.CASCADE, null=True, blank=True, related_name="api_calls"
    )
    audio = models.ForeignKey(
        AudioClip, on_delete=models.CASCADE, null=True, blank=True, related_name="api_calls"
    )
    engine = models.CharField(max_length=16)
    method = models.CharField(max_length=8)
    endpoint = models.CharField(max_length=255)
    http_status = models.PositiveSmallIntegerField(null=True, blank=True)
    business_code = models.CharField(max_length=32, blank=True)
    request_id = models.CharField(max_length=128, blank=True)
    duration_ms = models.PositiveIntegerField(default=0)
    response_body = models.TextField(blank=True)
    error = models.TextField(blank=True)
    # Units the engine charged for this call (`final_unit_deduction` of a text-to-speech or a
    # face identification); a task's own charge is its credits_charged.
    units = models.DecimalField(max_digits=10, decimal_places=2, null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(task__isnull=False) | Q(video__isnull=False) | Q(audio__isnull=False),
                name="api_call_belongs_to_task_video_or_audio",
            )
        ]

    RESPONSE_BODY_LIMIT = 4000
    # The method of a row that records a callback the engine sent us, beside our calls to it.
    CALLBACK_METHOD = "IN"

    def __str__(self) -> str:
        return f"{self.method} {self.endpoint} → {self.http_status}"

    def save(self, *args, **kwargs) -> None:
        self.response_body = self.response_body[: self.RESPONSE_BODY_LIMIT]
        super().save(*args, **kwargs)

    @property
    def is_callback(self) -> bool:
        return self.method == self.CALLBACK_METHOD


class MediaLink(models.Model):
    """One stored file an engine may fetch through a signed link (projects/serving.py).

    The link names this row's random id, never the storage path; rows past the links'
    lifetime are deleted as new ones are made.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=255)
    content_type = models.CharField(max_length=100)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    def __str__(self) -> str:
        return f"Link to {self.name}"


class EngineQueue(models.Model):
    """One row per engine, locked while tasks are moved from queued to submitting.

    Locking it serialises the concurrency check, so that two workers cannot both see a free
    slot and start one task each beyond LIPSYNC_MAX_CONCURRENT.
    """

    engine = models.CharField(max_length=16, primary_key=True)

    def __str__(self) -> str:
        return self.engine


class AuditVerb(models.TextChoices):
    UPLOADED = "uploaded", "uploaded"
    IMPORTED = "imported", "imported from a URL"
    FIXED = "fixed", "asked for a fixed copy of"
    SUBMITTED = "submitted", "submitted"
    RETRIED = "retried", "retried"
    DUPLICATED = "duplicated", "duplicated"
    CANCELLED = "cancelled", "cancelled"
    APPROVED = "approved", "approved"
    REJECTED = "rejected", "rejected"
    MEMBER_ADDED = "member_added", "added a member to"
    MEMBER_REMOVED = "member_removed", "removed a member from"
    INVITED = "invited", "invited someone to"
    INVITATION_ACCEPTED = "invitation_accepted", "accepted an invitation to"
    INVITATION_DECLINED = "invitation_declined", "declined an invitation to"
    INVITATION_WITHDRAWN = "invitation_withdrawn", "withdrew an invitation to"
    LOGIN_LOCKED = "login_locked", "locked logins after repeated failures"
    RENAMED = "renamed", "renamed"
    DELETED = "deleted", "deleted"
    ARCHIVED = "archived", "archived the project"
    RESTORED = "restored", "restored the project"
    # The pipeline's own steps, written with no actor ("the system").
    RETRYING = "retrying", "is retrying sending"
    FINISHED = "finished", "finished"
    FAILED = "failed", "failed"
    GAVE_UP = "gave_up", "gave up on"


# Events about the site rather than one project: they have no project, and only people who see
# every project read them in the review panel.
SITE_VERBS = (AuditVerb.LOGIN_LOCKED,)


class AuditEvent(models.Model):
    """Who did what and when. Written once; never changed or deleted through the app."""

    created_at = models.DateTimeField(default=timezone.now, editable=False)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+"
    )
    project = models.ForeignKey(
        Project, on_delete=models.CASCADE, null=True, blank=True, related_name="audit_events"
    )
    verb = models.CharField(max_length=32, choices=AuditVerb.choices)
    task = models.ForeignKey(
        LipSyncTask, on_delete=models.SET_NULL, null=True, blank=True, related_name="audit_events"
    )
    video = models.ForeignKey(
        SourceVideo, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    audio = models.ForeignKey(
        AudioClip, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    note = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["project", "created_at"])]
        constraints = [
            models.CheckConstraint(condition=Q(verb__in=AuditVerb.values), name="audit_verb_valid"),
            models.CheckConstraint(
                condition=Q(project__isnull=False) | Q(verb__in=SITE_VERBS),
                name="audit_project_unless_site_event",
            ),
        ]

    def __str__(self) -> str:
        who = self.actor.get_username() if self.actor_id else "the system"
        return f"{who} {self.get_verb_display()} ({self.created_at:%Y-%m-%d %H:%M})"

    def save(self, *args, **kwargs) -> None:
        if self.pk is not None:
            raise ValueError("Audit events are never changed once written.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValueError("Audit events are never deleted.")


# --- Dubs: a whole video, many lines, several people ------------------------------------------


def person_upload_to(instance: Person, filename: str) -> str:
    return f"people/{instance.video.project_id}/{uuid.uuid4().hex}.jpg"


def dub_result_upload_to(instance: Dub, filename: str) -> str:
    # One fixed name per dub: assembling again overwrites rather than orphans.
    return f"dubs/{instance.project_id}/{instance.pk}.mp4"


class Person(models.Model):
    """Someone seen in a video, over its whole length: their face tracks grouped by look.

    Numbered from 1 in order of first appearance. `windows` are their on-screen stretches in
    ms ([[start, end], ...]); `tracks` our face search's tracks of them (with face boxes), to
    find them again in a window the engine identifies.
    """

    video = models.ForeignKey(SourceVideo, on_delete=models.CASCADE, related_name="people")
    number = models.PositiveSmallIntegerField()
    thumbnail = models.FileField(upload_to=person_upload_to, blank=True, max_length=255)
    windows = models.JSONField(default=list)
    embedding = models.JSONField(default=list)
    tracks = models.JSONField(default=list)

    class Meta:
        ordering = ["video", "number"]
        constraints = [
            models.UniqueConstraint(fields=["video", "number"], name="one_person_number_per_video"),
            models.CheckConstraint(condition=Q(number__gte=1), name="person_number_from_1"),
        ]

    def __str__(self) -> str:
        return f"Person {self.number}"

    @property
    def spans(self) -> list[tuple[int, int]]:
        return [(int(start), int(end)) for start, end in self.windows]

    @property
    def on_screen_ms(self) -> int:
        return sum(end - start for start, end in self.spans)


class DubState(models.TextChoices):
    DRAFT = "draft", "Being written"
    RUNNING = "running", "Being made"
    PAUSED = "paused", "Paused"
    ASSEMBLING = "assembling", "Putting it together"
    DONE = "done", "Done"


# While a dub is in one of these, its page polls for progress.
DUB_BUSY_STATES = (DubState.RUNNING, DubState.ASSEMBLING)


class Dub(models.Model):
    """A source video and its lines, planned into engine jobs and assembled into one result."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="dubs")
    source = models.ForeignKey(SourceVideo, on_delete=models.PROTECT, related_name="dubs")
    original_volume = models.FloatField(default=1.0)
    engine = models.CharField(max_length=16, choices=ENGINE_CHOICES)
    state = models.CharField(max_length=16, choices=DubState.choices, default=DubState.DRAFT)
    state_message = models.TextField(blank=True)  # why it paused, in plain words
    state_changed_at = models.DateTimeField(default=timezone.now)
    plan = models.JSONField(default=dict, blank=True)  # the plan's summary, as last submitted
    result_file = models.FileField(upload_to=dub_result_upload_to, blank=True, max_length=255)
    timings = models.JSONField(default=dict, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(condition=Q(state__in=DubState.values), name="dub_state_valid"),
            models.CheckConstraint(
                condition=Q(original_volume__gte=0, original_volume__lte=2),
                name="dub_original_volume_range",
            ),
        ]

    def __str__(self) -> str:
        return f"Dub of {self.source}"

    def get_absolute_url(self) -> str:
        return reverse("projects:dub", args=[self.pk])

    @property
    def can_edit(self) -> bool:
        """Lines may change unless the dub is being made right now."""
        return self.state not in DUB_BUSY_STATES

    @property
    def can_submit(self) -> bool:
        return self.can_edit

    @property
    def can_retry(self) -> bool:
        return self.state == DubState.PAUSED

    @property
    def is_busy(self) -> bool:
        return self.state in DUB_BUSY_STATES

    @property
    def delete_refusal(self) -> str:
        """Why the dub cannot be deleted now, in words (empty when it can)."""
        if self.is_busy:
            return "It is being made right now; delete it once that has ended."
        return ""

    @property
    def is_paused(self) -> bool:
        return self.state == DubState.PAUSED

    @property
    def has_result(self) -> bool:
        return self.state == DubState.DONE and bool(self.result_file)


class Line(models.Model):
    """One line of a dub: `person` says [crop_start_ms, crop_end_ms) of `audio` from `at_ms`."""

    dub = models.ForeignKey(Dub, on_delete=models.CASCADE, related_name="lines")
    person = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="lines")
    audio = models.ForeignKey(AudioClip, on_delete=models.PROTECT, related_name="dub_lines")
    crop_start_ms = models.PositiveIntegerField(default=0)
    crop_end_ms = models.PositiveIntegerField()
    at_ms = models.PositiveIntegerField()
    volume = models.FloatField(default=1.0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["at_ms", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(crop_end_ms__gt=F("crop_start_ms")), name="line_crop_not_empty"
            ),
            models.CheckConstraint(
                condition=Q(volume__gte=0, volume__lte=2), name="line_volume_range"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.person} at {clock(self.at_ms)}"

    @property
    def duration_ms(self) -> int:
        return self.crop_end_ms - self.crop_start_ms

    @property
    def end_ms(self) -> int:
        return self.at_ms + self.duration_ms


class DubJob(models.Model):
    """One engine task of a dub: one person in one window; `chain_index` orders the jobs of a
    window (job n runs on job n - 1's result). `spec` is the planner's job (face window,
    insert time, clip length and pieces); `task` is the LipSyncTask that runs it."""

    dub = models.ForeignKey(Dub, on_delete=models.CASCADE, related_name="jobs")
    window_index = models.PositiveIntegerField()
    chain_index = models.PositiveSmallIntegerField()
    window_start_ms = models.PositiveIntegerField()
    window_end_ms = models.PositiveIntegerField()
    person = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="+")
    input_hash = models.CharField(max_length=64)
    spec = models.JSONField(default=dict)
    task = models.ForeignKey(
        LipSyncTask, on_delete=models.SET_NULL, null=True, blank=True, related_name="dub_jobs"
    )
    # Claimed by the worker preparing its input (cut, clip, identify); empty when free.
    starting_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["window_index", "chain_index"]
        constraints = [
            models.UniqueConstraint(
                fields=["dub", "window_index", "chain_index"], name="one_job_per_place"
            ),
        ]

    def __str__(self) -> str:
        return f"Job {self.window_index + 1}.{self.chain_index + 1} of {self.dub}"

    @property
    def is_done(self) -> bool:
        return self.task is not None and self.task.status == TaskStatus.SUCCEED

    @property
    def has_failed(self) -> bool:
        return self.task is not None and self.task.status in RETRYABLE_STATUSES

    @property
    def state_label(self) -> str:
        if self.task is None:
            return "Starting" if self.starting_at else "Waiting"
        return self.task.get_status_display()
