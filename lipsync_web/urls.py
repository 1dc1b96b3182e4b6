from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import include, path
from django.views.decorators.http import require_GET
from django.views.generic import RedirectView


def no_view_on_site(request: HttpRequest, **kwargs: object) -> HttpResponse:
    """Django admin's "view on site" redirect would tell whether an object id exists in a
    project the user is not part of; the review panel links to the app's pages instead."""
    raise Http404("Not found.")


@require_GET
def healthz(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok", content_type="text/plain")


# Django's account pages without self-service password reset: people ask an administrator,
# who sets a password or sends a reset link from the review panel (projects/admin/users.py).
# The link opens the two reset pages kept here.
account_urls = [
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("password_change/", auth_views.PasswordChangeView.as_view(), name="password_change"),
    path(
        "password_change/done/",
        auth_views.PasswordChangeDoneView.as_view(),
        name="password_change_done",
    ),
    path(
        "reset/<uidb64>/<token>/",
        auth_views.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path(
        "reset/done/",
        auth_views.PasswordResetCompleteView.as_view(),
        name="password_reset_complete",
    ),
]

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="projects:list", permanent=False)),
    path("healthz", healthz, name="healthz"),
    path("accounts/", include(account_urls)),
    path(
        "admin/r/<int:content_type_id>/<path:object_id>/",
        admin.site.admin_view(no_view_on_site),
    ),
    path("admin/", admin.site.urls),
    path("", include("projects.urls")),
]

admin.site.site_header = "lipsync-web review"
admin.site.site_title = "lipsync-web review"
admin.site.index_title = "Review and administration"
