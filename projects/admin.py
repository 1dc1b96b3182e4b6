"""The review panel: Django's admin, limited to the projects each person belongs to.

The project rules of projects/access.py apply here too. `is_staff` only opens the panel; what
a person then sees is the objects of their own projects (every project with the
`projects.view_all_projects` permission, or for superusers), and only owners and reviewers
may approve or reject. Everything is read-only in the panel, superusers included: objects are
made and changed through the app, where the business rules live, and the audit trail is
never changed at all. The one write is the review decision (a form on the task's page and two
list actions), taken through services/review.py.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.db.models import Count, Model, QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.decorators import method_decorator
from django.utils.html import format_html
from django.views.decorators.http import require_POST

from projects.access import Ability, abilities_of, sees_all_projects, visible_projects
from projects.models import (
    ApiCall,
    AudioClip,
    AuditEvent,
    LipSyncTask,
    Membership,
    Project,
    ReviewQueueTask,
    ReviewState,
    SourceVideo,
    TaskStatus,
)
from projects.services import review
from projects.services.errors import ServiceError
from projects.templatetags.lipsync import timecode

# The list's engine column; the filter keeps the full names.
ENGINE_SHORT_NAMES = {"local": "Local", "kling": "Kling", "proxy": "Kling (proxy)"}


# --- Who uses the panel ---------------------------------------------------------------------


def uses_panel(request: HttpRequest) -> bool:
    """Staff who belong to a project (or see them all); cached for the request's many checks."""
    cached = getattr(request, "_lipsync_uses_panel", None)
    if cached is None:
        user = request.user
        cached = bool(
            user.is_active
            and user.is_staff
            and (sees_all_projects(user) or user.memberships.exists())
        )
        request._lipsync_uses_panel = cached
    return cached


def reviews_somewhere(request: HttpRequest) -> bool:
    cached = getattr(request, "_lipsync_reviews", None)
    if cached is None:
        cached = uses_panel(request) and review.reviewable_projects(request.user).exists()
        request._lipsync_reviews = cached
    return cached


def _name(user) -> str:
    return user.get_username() if user is not None else "—"


class PeopleByName:
    """People shown by name: a link to the user admin would open on a refusal for most."""

    @admin.display(description="created by")
    def created_by_name(self, obj: Model) -> str:
        return _name(obj.created_by)

    @admin.display(description="reviewer")
    def reviewer_name(self, obj: Model) -> str:
        return _name(obj.reviewer)

    @admin.display(description="who")
    def actor_name(self, obj: Model) -> str:
        return _name(obj.actor) if obj.actor_id else "the system"

    @admin.display(description="person")
    def user_name(self, obj: Model) -> str:
        return _name(obj.user)


# The panel's home page leads with the review queue (see the template).
admin.site.index_template = "admin/projects/review_index.html"


class ProjectScopedAdmin(PeopleByName, admin.ModelAdmin):
    """Read-only pages over the objects of the projects the person may see.

    The queryset is the boundary: an object outside it answers 404, exactly as in the app,
    so that the panel never confirms that another project's object exists.
    """

    project_lookup = "project"  # from this model to its Project
    list_per_page = 50
    list_title = ""  # the list page's heading, in place of Django's "Select … to view"
    page_title = ""  # the heading of one object's page
    view_on_site = False  # the change page links to the app itself (see change_form.html)

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        queryset = super().get_queryset(request)
        if sees_all_projects(request.user):
            return queryset
        visible = visible_projects(request.user).values("pk")
        return queryset.filter(**{f"{self.project_lookup}__in": visible})

    def get_object(self, request: HttpRequest, object_id: str, from_field: str | None = None):
        found = super().get_object(request, object_id, from_field)
        if found is None:
            raise Http404("Not found.")
        return found

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None):
        titled = {"title": self.list_title} if self.list_title else {}
        return super().changelist_view(request, {**titled, **(extra_context or {})})

    def change_view(self, request, object_id, form_url="", extra_context=None):
        titled = {"title": self.page_title} if self.page_title else {}
        return super().change_view(
            request, object_id, form_url, {**titled, **(extra_context or {})}
        )

    def has_module_permission(self, request: HttpRequest) -> bool:
        return uses_panel(request)

    def has_view_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return uses_panel(request)  # objects come from get_queryset, already scoped

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False


class ReadOnlyInline(PeopleByName, admin.TabularInline):
    """Rows shown under an object the person may already see; never added, changed, deleted."""

    extra = 0
    can_delete = False
    show_change_link = False

    def has_view_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return uses_panel(request)

    def has_add_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False


# --- List filters limited to what the person may see ----------------------------------------


class CreditsFilter(admin.SimpleListFilter):
    title = "credits"
    parameter_name = "credits"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list:
        return [("charged", "Charged"), ("none", "Nothing charged")]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if self.value() == "charged":
            return queryset.filter(credits_charged__isnull=False)
        if self.value() == "none":
            return queryset.filter(credits_charged__isnull=True)
        return queryset


# RelatedOnlyFieldListFilter offers only the values found in get_queryset(): the scoped one,
# so other projects' names and people never appear among the choices.
ScopedChoices = admin.RelatedOnlyFieldListFilter


# --- Inlines ------------------------------------------------------------------------------


class ApiCallInline(ReadOnlyInline):
    model = ApiCall
    verbose_name = "call to the engine"
    verbose_name_plural = "calls to the engine"
    fields = readonly_fields = (
        "created_at",
        "method",
        "endpoint",
        "http_status",
        "business_code",
        "duration_ms",
        "request_id",
        "error",
        "response_body",
    )


class AuditEventInline(ReadOnlyInline):
    model = AuditEvent
    fk_name = "task"
    verbose_name = "history entry"
    verbose_name_plural = "history"
    fields = readonly_fields = ("created_at", "actor_name", "verb", "note")
    ordering = ("created_at", "pk")

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).select_related("actor")


class MembershipInline(ReadOnlyInline):
    model = Membership
    verbose_name_plural = "members (managed on the project's Members page in the app)"
    fields = readonly_fields = ("user_name", "role", "created_at")

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).select_related("user")


# --- Lip-sync tasks and the review queue ----------------------------------------------------


@admin.register(LipSyncTask)
class LipSyncTaskAdmin(ProjectScopedAdmin):
    change_form_template = "admin/projects/lipsynctask/change_form.html"
    change_list_template = "admin/projects/lipsynctask/change_list.html"
    list_title = "Lip-sync tasks"
    page_title = "Lip-sync task"
    list_display = (
        "short_id",
        "project",
        "video_name",
        "status_badge",
        "review_badge",
        "engine_short",
        "credits_charged",
        "created_by",
        "created_at",
        "reviewed_at",
    )
    list_select_related = ("project", "video", "created_by")
    list_filter = (
        "status",
        "review_state",
        ("project", ScopedChoices),
        "engine",
        CreditsFilter,
        ("created_by", ScopedChoices),
        "created_at",
        "reviewed_at",
    )
    search_fields = (
        "project__name",
        "video__original_name",
        "external_task_id",
        "engine_task_id",
    )
    search_help_text = "Search by project, video name, task id or the engine's task id."
    actions = ("approve_selected", "reject_selected")
    inlines = (AuditEventInline, ApiCallInline)
    fieldsets = (
        (
            "Decision",
            {"fields": ("review_state", "reviewer_name", "reviewed_at", "review_note")},
        ),
        (
            "What was asked",
            {
                "fields": (
                    "project",
                    "video",
                    "audio",
                    "kind",
                    "face_window",
                    "audio_crop",
                    "placed_at",
                    "sound_volume",
                    "original_audio_volume",
                    "watermark_wanted",
                )
            },
        ),
        (
            "Engine",
            {
                "fields": (
                    "engine",
                    "status",
                    "status_message",
                    "credits_charged",
                    "external_task_id",
                    "engine_task_id",
                    "create_attempts",
                    "poll_count",
                )
            },
        ),
        (
            "Who and when",
            {
                "fields": (
                    "created_by_name",
                    "created_at",
                    "submitted_at",
                    "finished_at",
                    "retry_of",
                )
            },
        ),
    )
    readonly_fields = (
        "face_window",
        "audio_crop",
        "placed_at",
        "created_by_name",
        "reviewer_name",
        "created_at",
    )

    # -- list columns

    @admin.display(description="task", ordering="created_at")
    def short_id(self, task: LipSyncTask) -> str:
        return str(task.pk)[:8]

    @admin.display(description="video", ordering="video__original_name")
    def video_name(self, task: LipSyncTask) -> str:
        return task.video.original_name

    @admin.display(description="status", ordering="status")
    def status_badge(self, task: LipSyncTask) -> str:
        return format_html(
            '<span class="review-badge review-badge-{}">{}</span>',
            task.status,
            task.get_status_display(),
        )

    @admin.display(description="review", ordering="review_state")
    def review_badge(self, task: LipSyncTask) -> str:
        if task.status != TaskStatus.SUCCEED:
            return "—"  # nothing to review yet; "awaiting review" would mislead
        return format_html(
            '<span class="review-badge review-badge-{}">{}</span>',
            task.review_state,
            task.get_review_state_display(),
        )

    @admin.display(description="engine", ordering="engine")
    def engine_short(self, task: LipSyncTask) -> str:
        return ENGINE_SHORT_NAMES.get(task.engine, task.engine)

    # -- read-only parameters, in the app's words

    @admin.display(description="face on screen")
    def face_window(self, task: LipSyncTask) -> str:
        if task.face is None:
            return "whole video" if task.kind == "basic" else "—"
        return f"{timecode(task.face.start_ms)} – {timecode(task.face.end_ms)}"

    @admin.display(description="part of the audio used")
    def audio_crop(self, task: LipSyncTask) -> str:
        return f"{timecode(task.sound_start_ms)} – {timecode(task.sound_end_ms)}"

    @admin.display(description="placed at (on the video)")
    def placed_at(self, task: LipSyncTask) -> str:
        return timecode(task.sound_insert_ms)

    # -- permissions of the review itself

    def has_review_permission(self, request: HttpRequest) -> bool:
        """Used by the list actions: shown to people who may review in some project."""
        return reviews_somewhere(request)

    # -- the change page: players and the decision form

    def get_urls(self) -> list:
        name = f"{self.opts.app_label}_{self.opts.model_name}_review"
        review_view = self.admin_site.admin_view(self.review_view)
        return [path("<path:object_id>/review/", review_view, name=name), *super().get_urls()]

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None:
            context["review"] = self._review_context(request, obj)
        return super().render_change_form(request, context, add, change, form_url, obj)

    def _review_context(self, request: HttpRequest, task: LipSyncTask) -> dict:
        can_review = Ability.REVIEW in abilities_of(request.user, task.project)
        return {
            "can_review": can_review,
            "reviewable": task.status == TaskStatus.SUCCEED,
            "url": reverse(
                f"{self.admin_site.name}:{self.opts.app_label}_{self.opts.model_name}_review",
                args=[task.pk],
            ),
            "note_max": review.NOTE_MAX_CHARS,
        }

    @method_decorator(require_POST)
    def review_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """POST: approve or reject one task with a note, then go back (or on, in the queue)."""
        task = self.get_object(request, unquote(object_id))  # 404 outside the person's projects
        decision = request.POST.get("decision", "")
        try:  # a member without REVIEW gets PermissionDenied from decide(): a 403 page
            review.decide(task, request.user, decision, request.POST.get("note", ""))
        except ServiceError as error:
            messages.error(request, str(error))
            return HttpResponseRedirect(self._change_url(task))
        verb = "Approved" if decision == ReviewState.APPROVED else "Rejected"
        messages.success(request, f"{verb}: {task.video.original_name}. The editor is told.")
        return HttpResponseRedirect(self.url_after_decision(request, task))

    def url_after_decision(self, request: HttpRequest, task: LipSyncTask) -> str:
        return self._change_url(task)

    def _change_url(self, task: LipSyncTask) -> str:
        info = (self.admin_site.name, self.opts.app_label, self.opts.model_name)
        return reverse("{}:{}_{}_change".format(*info), args=[task.pk])

    # -- the list: credits summary and bulk decisions

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None):
        response = super().changelist_view(request, extra_context)  # titled by the base class
        changelist = getattr(response, "context_data", {}).get("cl")
        if changelist is not None:
            response.context_data["credits_by_month"] = review.credits_by_month(changelist.queryset)
        return response

    @admin.action(description="Approve the selected videos", permissions=["review"])
    def approve_selected(self, request: HttpRequest, queryset: QuerySet) -> None:
        outcome = review.decide_many(queryset, request.user, ReviewState.APPROVED)
        self._report(request, outcome, "approved")

    @admin.action(
        description="Reject the selected videos (asks for a note)", permissions=["review"]
    )
    def reject_selected(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        """First answer: a page asking for the note. Its POST comes back here with `confirm`."""
        note = request.POST.get("note", "").strip()
        if request.POST.get("confirm") == "yes" and note:
            try:
                outcome = review.decide_many(queryset, request.user, ReviewState.REJECTED, note)
            except ServiceError as error:
                return self._reject_page(request, queryset, note, str(error))
            self._report(request, outcome, "rejected")
            return None
        error = "Write a note for the editors." if request.POST.get("confirm") == "yes" else ""
        return self._reject_page(request, queryset, note, error)

    def _reject_page(self, request, queryset: QuerySet, note: str, error: str) -> HttpResponse:
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": "Reject the selected videos",
            "tasks": list(queryset.select_related("video", "project")),
            "note": note,
            "error": error,
            "note_max": review.NOTE_MAX_CHARS,
            "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/projects/lipsynctask/reject_selected.html", context)

    def _report(self, request: HttpRequest, outcome: review.BulkOutcome, verb: str) -> None:
        if outcome.decided:
            count = len(outcome.decided)
            messages.success(
                request, f"{count} video{'s' if count != 1 else ''} {verb}. The editors are told."
            )
        for task, reason in outcome.skipped:
            messages.warning(
                request, f"Not {verb}: task {str(task.pk)[:8]} ({task.project}): {reason}"
            )
        if not outcome.decided and not outcome.skipped:
            messages.warning(request, "None of the selected videos could be found.")


@admin.register(ReviewQueueTask)
class ReviewQueueAdmin(LipSyncTaskAdmin):
    """Finished videos awaiting a decision, oldest first; a decision moves on to the next."""

    list_title = "Review queue: finished videos awaiting a decision"
    list_display = (
        "short_id",
        "project",
        "video_name",
        "engine_short",
        "credits_charged",
        "created_by",
        "finished_at",
    )
    list_filter = (
        ("project", ScopedChoices),
        "engine",
        ("created_by", ScopedChoices),
        "finished_at",
    )

    def url_after_decision(self, request: HttpRequest, task: LipSyncTask) -> str:
        following = self.get_queryset(request).exclude(pk=task.pk).only("pk").first()
        if following is None:
            messages.info(request, "The review queue is empty. Thank you!")
            return reverse(f"{self.admin_site.name}:projects_reviewqueuetask_changelist")
        return self._change_url(following)


# --- Projects, media and the audit trail ---------------------------------------------------


@admin.register(Project)
class ProjectAdmin(ProjectScopedAdmin):
    project_lookup = "pk"
    list_title = "Projects"
    page_title = "Project"
    change_form_template = "admin/projects/project/change_form.html"
    list_display = ("name", "created_by", "created_at", "member_count")
    list_select_related = ("created_by",)
    list_filter = ("created_at",)
    search_fields = ("name",)
    fields = ("name", "created_by_name", "created_at")
    readonly_fields = ("created_by_name", "created_at")
    inlines = (MembershipInline,)

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).annotate(member_total=Count("memberships"))

    @admin.display(description="members", ordering="member_total")
    def member_count(self, project: Project) -> int:
        return project.member_total

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None:
            context["credits_by_month"] = review.credits_by_month(obj.tasks.all())
        return super().render_change_form(request, context, add, change, form_url, obj)


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
        "created_by_name",
        "created_at",
    )
    readonly_fields = ("created_by_name", "created_at")


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
        "created_by_name",
        "created_at",
    )
    readonly_fields = ("created_by_name", "created_at")


@admin.register(AuditEvent)
class AuditEventAdmin(ProjectScopedAdmin):
    """The trail is read by everyone who may see the project and written only by the app."""

    list_title = "Audit trail"
    page_title = "Audit event"
    list_display = ("created_at", "actor", "verb", "project", "task", "note")
    list_select_related = ("actor", "project", "task")
    list_filter = ("verb", ("project", ScopedChoices), ("actor", ScopedChoices), "created_at")
    search_fields = ("note", "project__name", "task__external_task_id")
    fields = ("created_at", "actor_name", "verb", "project", "task", "video", "audio", "note")
    readonly_fields = ("created_at", "actor_name")
