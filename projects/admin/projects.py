"""Projects (with their members and credits) and the audit trail, read-only in the panel."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import Count, QuerySet
from django.http import HttpRequest

from projects import selectors
from projects.admin.base import ProjectScopedAdmin, ReadOnlyInline, ScopedChoices
from projects.models import AuditEvent, Membership, Project


class MembershipInline(ReadOnlyInline):
    model = Membership
    verbose_name_plural = "members (managed on the project's Members page in the app)"
    fields = readonly_fields = ("user_name", "role", "created_at")

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).select_related("user")


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
            context["credits_by_month"] = selectors.credits_by_month(
                obj.tasks.all(), selectors.charged_calls(obj)
            )
        return super().render_change_form(request, context, add, change, form_url, obj)


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
