from django.contrib import admin
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import include, path
from django.views.decorators.http import require_GET
from django.views.generic import RedirectView

from projects.views.voices import voice_sample


def no_view_on_site(request: HttpRequest, **kwargs: object) -> HttpResponse:
    """Django admin's "view on site" redirect would tell whether an object id exists in a
    project the user is not part of; the review panel links to the app's pages instead."""
    raise Http404("Not found.")


@require_GET
def healthz(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok", content_type="text/plain")


urlpatterns = [
    path("", RedirectView.as_view(pattern_name="projects:list", permanent=False)),
    path("healthz", healthz, name="healthz"),
    path("accounts/", include("django.contrib.auth.urls")),
    path(
        "admin/r/<int:content_type_id>/<path:object_id>/",
        admin.site.admin_view(no_view_on_site),
    ),
    path("admin/", admin.site.urls),
    path("voices/sample/", voice_sample, name="voice-sample"),
    path("", include("projects.urls")),
]

admin.site.site_header = "lipsync-web review"
admin.site.site_title = "lipsync-web review"
admin.site.index_title = "Review and administration"
