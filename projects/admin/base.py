"""What every page of the review panel shares: who may use it, and read-only pages scoped to
the projects a person may see."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import Model, QuerySet
from django.http import Http404, HttpRequest

from projects.access import (
    reviewable_projects,
    sees_all_projects,
    uses_review_panel,
    visible_projects,
)

# --- Who uses the panel ---------------------------------------------------------------------


def uses_panel(request: HttpRequest) -> bool:
    """access.uses_review_panel, cached for the request's many permission checks."""
    cached = getattr(request, "_lipsync_uses_panel", None)
    if cached is None:
        cached = uses_review_panel(request.user)
        request._lipsync_uses_panel = cached
    return cached


def reviews_somewhere(request: HttpRequest) -> bool:
    """Whether the review actions are offered: the person may review in some project."""
    cached = getattr(request, "_lipsync_reviews", None)
    if cached is None:
        cached = uses_panel(request) and reviewable_projects(request.user).exists()
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
