"""The data model. Value ranges and uniqueness are enforced by the database, not only by forms."""

from __future__ import annotations

import secrets
import uuid

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone

from projects.engines.voices import UnknownVoiceError, get_voice


def _media_path(prefix: str, instance: models.Model, filename: str) -> str:
    # Stored names never reuse the user's file name (it may be hostile); the original is kept
    # in a field for display only.
    suffix = filename.rsplit(".", 1)[-1].lower() if "." in filename else "bin"
    suffix = "".join(ch for ch in suffix if ch.isalnum())[:5] or "bin"
    return f"{prefix}/{instance.project_id}/{uuid.uuid4().hex}.{suffix}"


def video_upload_to(instance: SourceVideo, filename: str) -> str:
    return _media_path("videos", instance, filename)


def poster_upload_to(instance: SourceVideo, filename: str) -> str:
    return _media_path("posters", instance, "poster.jpg")


def strip_upload_to(instance: SourceVideo, filename: str) -> str:
    return _media_path("strips", instance, "strip.jpg")


def audio_upload_to(instance: AudioClip, filename: str) -> str:
    return _media_path("audio", instance, filename)


def face_upload_to(instance: DetectedFace, filename: str) -> str:
    return f"faces/{instance.video.project_id}/{uuid.uuid4().hex}.jpg"


def result_upload_to(instance: LipSyncTask, filename: str) -> str:
    # One fixed name per task and copy: a retried download overwrites rather than orphans.
    suffix = "-watermarked" if "watermark" in filename else ""
    return f"results/{instance.project_id}/{instance.pk}{suffix}.mp4"


def new_callback_token() -> str:
    return secrets.token_urlsafe(32)  # 256 bits


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

    class Meta:
        ordering = ["-created_at"]
        permissions = [("view_all_projects", "Can see every project (staff)")]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("projects:detail", args=[self.pk])


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


class MediaStatus(models.TextChoices):
    UPLOADED = "uploaded", "Uploaded"
    PROBING = "probing", "Checking"
    READY = "ready", "Ready"
    REJECTED = "rejected", "Rejected"


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

    class Meta:
        abstract = True
        ordering = ["-created_at"]

    @property
    def problems(self) -> list[dict]:
        return self.media_info.get("problems", [])

    @property
    def fixable(self) -> bool:
        return any(problem.get("fix") for problem in self.problems)


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

    class Meta(ProbedMedia.Meta):
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=MediaStatus.values), name="video_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(fps__isnull=True) | Q(fps__gt=0), name="video_fps_positive"
            ),
        ]

    def __str__(self) -> str:
        return self.original_name

    def get_absolute_url(self) -> str:
        return reverse("projects:video", args=[self.pk])


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
        ordering = ["start_ms", "engine_face_id"]
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
        return f"Face {self.engine_face_id} ({self.start_ms}-{self.end_ms} ms)"


class AudioSource(models.TextChoices):
    UPLOAD = "upload", "Uploaded file"
    URL = "url", "Imported from a URL"
    RECORDING = "recording", "Recorded"
    TTS = "tts", "Text to speech"


class AudioClip(ProbedMedia):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="audio_clips")
    source = models.CharField(max_length=16, choices=AudioSource.choices)
    file = models.FileField(upload_to=audio_upload_to, blank=True, max_length=255)
    original_name = models.CharField(max_length=255, blank=True)
    tts_text = models.CharField(max_length=120, blank=True)
    voice_id = models.CharField(max_length=64, blank=True)
    voice_language = models.CharField(
        max_length=2, blank=True, choices=[("zh", "Chinese"), ("en", "English")]
    )
    voice_speed = models.DecimalField(max_digits=2, decimal_places=1, null=True, blank=True)

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
            try:
                voice = get_voice(self.voice_id).label
            except UnknownVoiceError:
                voice = self.voice_id
            text = self.tts_text if len(self.tts_text) <= 40 else self.tts_text[:39] + "…"
            return f"“{text}” ({voice})"
        return self.original_name or f"Audio {self.pk}"


class TaskKind(models.TextChoices):
    ADVANCED = "advanced", "Pick a face"
    BASIC = "basic", "Whole video (quick mode)"


class TaskStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    QUEUED = "queued", "Queued"
    SUBMITTING = "submitting", "Submitting"
    SUBMITTED = "submitted", "Submitted"
    PROCESSING = "processing", "Processing"
    SUCCEED = "succeed", "Done"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


FINAL_STATUSES = frozenset({TaskStatus.SUCCEED, TaskStatus.FAILED, TaskStatus.CANCELLED})


class ReviewState(models.TextChoices):
    PENDING = "pending", "Awaiting review"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"


class EngineName(models.TextChoices):
    LOCAL = "local", "Local engine (preview quality)"
    KLING = "kling", "Kling"
    PROXY = "proxy", "Kling through the API proxy"


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
    kind = models.CharField(max_length=16, choices=TaskKind.choices, default=TaskKind.ADVANCED)
    sound_start_ms = models.PositiveIntegerField(default=0)
    sound_end_ms = models.PositiveIntegerField(default=0)
    sound_insert_ms = models.PositiveIntegerField(default=0)
    sound_volume = models.FloatField(default=1.0)
    original_audio_volume = models.FloatField(default=1.0)
    watermark_wanted = models.BooleanField(default=False)
    engine = models.CharField(max_length=16, choices=EngineName.choices)
    external_task_id = models.CharField(max_length=64, unique=True)
    engine_task_id = models.CharField(max_length=128, blank=True)
    callback_token = models.CharField(max_length=64, default=new_callback_token, editable=False)
    status = models.CharField(max_length=16, choices=TaskStatus.choices, default=TaskStatus.DRAFT)
    status_message = models.TextField(blank=True)
    credits_charged = models.DecimalField(max_digits=10, decimal_places=2, null=True, blank=True)
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
    retry_of = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="retries"
    )

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=TaskStatus.values), name="task_status_valid"
            ),
            models.CheckConstraint(condition=Q(kind__in=TaskKind.values), name="task_kind_valid"),
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
                condition=Q(kind="basic") | Q(sound_end_ms__gte=F("sound_start_ms") + 2000),
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
        return f"Task {str(self.id)[:8]} ({self.get_status_display()})"

    def save(self, *args, **kwargs) -> None:
        if not self.external_task_id:
            self.external_task_id = str(self.id)
        super().save(*args, **kwargs)

    def get_absolute_url(self) -> str:
        return reverse("projects:task", args=[self.pk])

    @property
    def is_final(self) -> bool:
        return self.status in FINAL_STATUSES


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
    engine = models.CharField(max_length=16)
    method = models.CharField(max_length=8)
    endpoint = models.CharField(max_length=255)
    http_status = models.PositiveSmallIntegerField(null=True, blank=True)
    business_code = models.CharField(max_length=32, blank=True)
    request_id = models.CharField(max_length=128, blank=True)
    duration_ms = models.PositiveIntegerField(default=0)
    response_body = models.TextField(blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(task__isnull=False) | Q(video__isnull=False),
                name="api_call_belongs_to_task_or_video",
            )
        ]

    RESPONSE_BODY_LIMIT = 4000

    def __str__(self) -> str:
        return f"{self.method} {self.endpoint} → {self.http_status}"

    def save(self, *args, **kwargs) -> None:
        self.response_body = self.response_body[: self.RESPONSE_BODY_LIMIT]
        super().save(*args, **kwargs)


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


class AuditEvent(models.Model):
    """Who did what and when. Written once; never changed or deleted through the app."""

    created_at = models.DateTimeField(default=timezone.now, editable=False)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+"
    )
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="audit_events")
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
            models.CheckConstraint(condition=Q(verb__in=AuditVerb.values), name="audit_verb_valid")
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
