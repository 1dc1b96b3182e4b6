"""The review workflow in the panel: lip-sync tasks with their engine calls and history, the
review queue, and approving or rejecting (one task, or many at once) through services/review.py.
After a decision the next task awaiting review opens, from the queue and the task list alike."""

from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import dateformat, timezone
from django.utils.decorators import method_decorator
from django.utils.html import format_html, format_html_join
from django.views.decorators.http import require_POST

from projects import selectors
from projects.access import Ability, abilities_of
from projects.admin.base import (
    CreditsFilter,
    ProjectScopedAdmin,
    ReadOnlyInline,
    ScopedChoices,
    reviews_somewhere,
)
from projects.engines.base import EngineName, TaskKind
from projects.models import AuditEvent, LipSyncTask, ReviewQueueTask, ReviewState
from projects.services import review
from projects.services.errors import ServiceError
from projects.templatetags.lipsync import clock_time, exact_when, timecode

# The list's engine column; the filter keeps the full names.
ENGINE_SHORT_NAMES = {
    EngineName.LOCAL: "Local",
    EngineName.KLING: "Kling",
    EngineName.PROXY: "Kling (proxy)",
}


class AuditEventInline(ReadOnlyInline):
    model = AuditEvent
    fk_name = "task"
    verbose_name = "history entry"
    verbose_name_plural = "history"
    fields = readonly_fields = ("at", "actor_name", "verb", "note")
    ordering = ("created_at", "pk")

    @admin.display(description="when")
    def at(self, event: AuditEvent) -> str:
        return exact_when(event.created_at)

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).select_related("actor")


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
    inlines = (AuditEventInline,)
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
                    "call_counts",
                )
            },
        ),
        ("Calls to and from the engine", {"fields": ("engine_log_table",)}),
        (
            "Who and when",
            {
                "fields": (
                    "created_by_name",
                    "created_exactly",
                    "submitted_exactly",
                    "finished_exactly",
                    "retry_of",
                )
            },
        ),
    )
    readonly_fields = (
        "call_counts",
        "engine_log_table",
        "face_window",
        "audio_crop",
        "placed_at",
        "created_by_name",
        "reviewer_name",
        "created_at",
        "created_exactly",
        "submitted_exactly",
        "finished_exactly",
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
        if not task.is_reviewable:
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
            return "whole video" if task.kind == TaskKind.BASIC else "—"
        return f"{timecode(task.face.start_ms)} – {timecode(task.face.end_ms)}"

    @admin.display(description="part of the audio used")
    def audio_crop(self, task: LipSyncTask) -> str:
        return f"{timecode(task.sound_start_ms)} – {timecode(task.sound_end_ms)}"

    @admin.display(description="placed at (on the video)")
    def placed_at(self, task: LipSyncTask) -> str:
        return timecode(task.sound_insert_ms)

    # -- times to the second, with the zone: what happened when, in order

    @admin.display(description="created")
    def created_exactly(self, task: LipSyncTask) -> str:
        return exact_when(task.created_at) or "—"

    @admin.display(description="sent to the engine")
    def submitted_exactly(self, task: LipSyncTask) -> str:
        return exact_when(task.submitted_at) or "—"

    @admin.display(description="finished")
    def finished_exactly(self, task: LipSyncTask) -> str:
        return exact_when(task.finished_at) or "—"

    # -- the engine's log, counted and collapsed

    @admin.display(description="calls (from the log)")
    def call_counts(self, task: LipSyncTask) -> str:
        counts = selectors.engine_call_counts(task)
        return (
            f"{counts.creates} creates, {counts.lookups} look-ups, "
            f"{counts.status_checks} status checks, {counts.face_searches} face searches "
            f"({counts.failed} of these failed); {counts.callbacks} callbacks received"
        )

    @admin.display(description="log")
    def engine_log_table(self, task: LipSyncTask) -> str:
        rows = selectors.engine_log(task)
        if not rows:
            return "No calls yet."
        body = format_html_join("", "<tr>{}</tr>", ((self._log_cells(row),) for row in rows))
        return format_html(
            '<table class="engine-log"><thead><tr><th scope="col">when</th>'
            '<th scope="col">call</th><th scope="col">answer</th><th scope="col">ms</th>'
            '<th scope="col">what happened</th></tr></thead><tbody>{}</tbody></table>',
            body,
        )

    def _log_cells(self, row: selectors.LogRow) -> str:
        call = row.first
        when = exact_when(call.created_at)
        if row.is_run:
            same_day = row.first.created_at.date() == row.last.created_at.date()
            until = (clock_time if same_day else exact_when)(row.last.created_at)
            when = format_html("{} – {}", when, until)
        what = call.error or "ok"
        if row.is_run:
            what = f"{row.count} × {call.error}"
        details = ""
        if call.response_body:
            details = format_html(
                "<details><summary>body</summary><pre>{}</pre></details>",
                call.response_body[:1500],
            )
        answer = " ".join(
            part
            for part in (
                str(call.http_status) if call.http_status else "no answer",
                f"code {call.business_code}" if call.business_code not in ("", "0") else "",
            )
            if part
        )
        name = "callback received" if call.is_callback else f"{call.method} {call.endpoint}"
        return format_html(
            "<td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}{}</td>",
            when,
            name,
            answer,
            call.duration_ms,
            what,
            details,
        )

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
        following = self.next_awaiting_review(request, task)
        return {
            "can_review": can_review,
            "reviewable": task.is_reviewable,
            "url": reverse(
                f"{self.admin_site.name}:{self.opts.app_label}_{self.opts.model_name}_review",
                args=[task.pk],
            ),
            "note_max": review.NOTE_MAX_CHARS,
            "next_url": self._change_url(following) if following else "",
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
        """On to the oldest task still awaiting review, opened in this same list's pages."""
        following = self.awaiting_review(request).exclude(pk=task.pk).first()
        if following is None:
            return self.url_when_nothing_awaits(request, task)
        return self._change_url(following)

    def url_when_nothing_awaits(self, request: HttpRequest, task: LipSyncTask) -> str:
        messages.info(request, "No other task awaits review.")
        return self._change_url(task)

    def awaiting_review(self, request: HttpRequest) -> QuerySet:
        """The review queue as this person sees it (their projects), oldest first."""
        return ReviewQueueTask.objects.filter(
            pk__in=self.get_queryset(request).values("pk")
        ).order_by("finished_at", "created_at", "pk")

    def next_awaiting_review(self, request: HttpRequest, task: LipSyncTask) -> LipSyncTask | None:
        """Where "Next" goes without a decision: the task after this one in the queue's order,
        or back to the oldest one (from a task that is not in the queue, the oldest)."""
        others = self.awaiting_review(request).exclude(pk=task.pk)
        if task.finished_at is not None:
            finished, created = task.finished_at, task.created_at
            later = others.filter(
                Q(finished_at__gt=finished)
                | Q(finished_at=finished, created_at__gt=created)
                | Q(finished_at=finished, created_at=created, pk__gt=task.pk)
            ).first()
            if later is not None:
                return later
        return others.first()

    def _change_url(self, task: LipSyncTask) -> str:
        info = (self.admin_site.name, self.opts.app_label, self.opts.model_name)
        return reverse("{}:{}_{}_change".format(*info), args=[task.pk])

    # -- the list: credits summary and bulk decisions

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None):
        response = super().changelist_view(request, extra_context)  # titled by the base class
        changelist = getattr(response, "context_data", {}).get("cl")
        if changelist is not None:
            response.context_data["credits_by_month"] = selectors.credits_by_month(
                changelist.queryset
            )
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
    # Few, narrow columns, so that the list fits beside the menu and the filters at 1280 px;
    # the credits are summed under the list.
    list_display = ("short_id", "video_and_project", "engine_short", "made_by", "finished")
    list_filter = (
        ("project", ScopedChoices),
        "engine",
        ("created_by", ScopedChoices),
        "finished_at",
    )

    @admin.display(description="video", ordering="video__original_name")
    def video_and_project(self, task: LipSyncTask) -> str:
        return format_html(
            '{}<br><span class="review-muted">{}</span>', task.video.original_name, task.project
        )

    @admin.display(description="made by", ordering="created_by__username")
    def made_by(self, task: LipSyncTask) -> str:
        return task.created_by.get_username()

    @admin.display(description="finished", ordering="finished_at")
    def finished(self, task: LipSyncTask) -> str:
        if task.finished_at is None:
            return "—"
        return dateformat.format(timezone.localtime(task.finished_at), "j M Y H:i")

    def url_when_nothing_awaits(self, request: HttpRequest, task: LipSyncTask) -> str:
        messages.info(request, "The review queue is empty. Thank you!")
        return reverse(f"{self.admin_site.name}:projects_reviewqueuetask_changelist")
