"""Source videos and audio clips, read-only in the panel."""

from __future__ import annotations

from django.contrib import admin

from projects.admin.base import ProjectScopedAdmin, ReadOnlyInline, ScopedChoices
from projects.models import ApiCall, AudioClip, SourceVideo

# The ids Kling gave: shown, never typed in (a wrong id would be sent to Kling).
KLING_ID_FIELDS = {
    "video": ("kling_video_id", "kling_video_expires_at"),
    "audio": ("kling_audio_id", "kling_audio_expires_at"),
}


class MediaApiCallInline(ReadOnlyInline):
    """A video's face identifications, a typed clip's text to speech: with the units charged."""

    model = ApiCall
    verbose_name = "call to the engine"
    verbose_name_plural = "calls to the engine"
    fields = readonly_fields = (
        "created_at",
        "method",
        "endpoint",
        "http_status",
        "business_code",
        "units",
        "duration_ms",
        "error",
    )


@admin.register(SourceVideo)
class SourceVideoAdmin(ProjectScopedAdmin):
    list_title = "Source videos"
    page_title = "Source video"
    list_display = ("original_name", "project", "status", "duration_ms", "created_by", "created_at")
    list_select_related = ("project", "created_by")
    list_filter = ("status", ("project", ScopedChoices), "created_at")
    search_fields = ("original_name", "project__name")
    fields = (
        "project",
        "original_name",
        "status",
        "rejection_reason",
        "duration_ms",
        "width",
        "height",
        "fps",
        "has_audio",
        "size_bytes",
        "kling_video_id",
        "kling_video_expires_at",
        "created_by_name",
        "created_at",
    )
    readonly_fields = ("created_by_name", "created_at", *KLING_ID_FIELDS["video"])
    inlines = (MediaApiCallInline,)


@admin.register(AudioClip)
class AudioClipAdmin(ProjectScopedAdmin):
    list_title = "Audio clips"
    page_title = "Audio clip"
    list_display = ("__str__", "project", "source", "status", "duration_ms", "created_at")
    list_select_related = ("project",)
    list_filter = ("source", "status", ("project", ScopedChoices), "created_at")
    search_fields = ("original_name", "tts_text", "project__name")
    fields = (
        "project",
        "source",
        "original_name",
        "tts_text",
        "voice_id",
        "voice_language",
        "voice_speed",
        "status",
        "rejection_reason",
        "duration_ms",
        "size_bytes",
        "kling_audio_id",
        "kling_audio_expires_at",
        "created_by_name",
        "created_at",
    )
    readonly_fields = ("created_by_name", "created_at", *KLING_ID_FIELDS["audio"])
    inlines = (MediaApiCallInline,)
