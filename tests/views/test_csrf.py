"""Every view that accepts POST refuses a request without a CSRF token (the engine callback aside).

The routes come from the URL configuration, admin included, so a new view is covered the day it
is added. For each route, a logged-in superuser that owns the project first posts without a
token (must get 403 from the CSRF check), then with a valid token: a route that then answers
405 does not accept POST at all; any other answer shows the view would have run, so the first
refusal really was the CSRF check protecting it.
"""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import Group
from django.contrib.contenttypes.models import ContentType
from django.middleware.csrf import _get_new_csrf_string
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from projects.models import AuditEvent, Invitation, Membership, Project, Role
from tests.support.objects import project_objects

pytestmark = pytest.mark.django_db

# What our refusal page (templates/403_csrf.html) says; every page names the CSRF header.
CSRF_REFUSAL = b"CSRF check failed"
# Exempt by design: the engine cannot send our token; a per-task secret in the URL guards it.
CSRF_EXEMPT = {"hooks/engine/<uuid:pk>/<str:token>/"}
# Views that change state: the generated list must find each of them accepting POST.
KNOWN_STATE_CHANGERS = {
    "projects/<int:pk>/members/",
    "projects/<int:pk>/members/<int:membership_pk>/remove/",
    "invitations/<int:pk>/accept/",
    "invitations/<int:pk>/decline/",
    "invitations/<int:pk>/withdraw/",
    "projects/<int:pk>/videos/upload/",
    "projects/<int:pk>/audio/upload/",
    "projects/<int:pk>/import/",
    "projects/<int:pk>/speech/",
    "videos/<int:pk>/",
    "videos/<int:pk>/fix/",
    "videos/<int:pk>/faces/identify/",
    "videos/<int:pk>/quick/",
    "videos/faces/<int:pk>/select/",
    "audio/<int:pk>/fix/",
    "tasks/<uuid:pk>/retry/",
    "tasks/<uuid:pk>/cancel/",
    "tasks/<uuid:pk>/continue/",
    "projects/<int:pk>/import-kling/",
    "dubs/videos/<int:video_pk>/new/",
    "dubs/<int:pk>/lines/",
    "dubs/<int:pk>/lines/<int:line_pk>/change/",
    "dubs/<int:pk>/lines/<int:line_pk>/fix/",
    "dubs/<int:pk>/lines/<int:line_pk>/remove/",
    "dubs/<int:pk>/volume/",
    "dubs/<int:pk>/delete/",
    "dubs/<int:pk>/submit/",
    "dubs/<int:pk>/retry/",
    "accounts/logout/",
    "accounts/password_change/",
    "admin/projects/project/<path:object_id>/delete/",
}
PARAMETER = re.compile(r"<(?:\w+:)?(\w+)>|\(\?P<(\w+)>[^)]*\)")


def all_routes(patterns=None, prefix: str = "") -> list[str]:
    """Every route of the URL configuration as one string, e.g. 'videos/<int:pk>/fix/'."""
    routes = []
    for entry in get_resolver().url_patterns if patterns is None else patterns:
        piece = str(entry.pattern)
        if isinstance(entry, URLResolver):
            routes += all_routes(entry.url_patterns, prefix + piece)
        elif isinstance(entry, URLPattern):
            routes.append(prefix + piece)
    return routes


ROUTES = all_routes()


@pytest.fixture
def objects(project, users) -> dict:
    owner = users["owner"]
    owner.is_staff = owner.is_superuser = True
    owner.save()
    return {
        "project": project,
        "membership": Membership.objects.get(project=project, role=Role.EDITOR),
        "user": owner,
        "group": Group.objects.create(name="reviewers"),
        "audit": AuditEvent.objects.create(actor=owner, project=project, verb="uploaded"),
        "invitation": Invitation.objects.create(
            project=project, username=owner.username, role=Role.EDITOR, invited_by=owner
        ),
        **project_objects(project, owner),
    }


def build_path(route: str, objects: dict) -> str:
    """The route with each parameter filled from the objects the route is about."""
    path = PARAMETER.sub(lambda m: str(_value(m.group(1) or m.group(2), route, objects)), route)
    return "/" + path.replace("^", "").replace("$", "")


ADMIN_MODELS = {
    "lipsynctask": "task",
    "reviewqueuetask": "task",
    "project": "project",
    "sourcevideo": "video",
    "audioclip": "audio",
    "auditevent": "audit",
    "user": "user",
    "group": "group",
}
PK_BY_SEGMENT = {
    "projects": "project",
    "review": "project",
    "videos": "video",
    "audio": "audio",
    "invitations": "invitation",
    "dubs": "dub",
}


def _value(name: str, route: str, objects: dict) -> object:
    segments = route.split("/")
    if name == "pk":
        if route.startswith("videos/faces/"):
            return objects["face"].pk
        if route.startswith("dubs/people/"):
            return objects["person"].pk
        kind = PK_BY_SEGMENT.get(segments[0], "task")  # tasks/… and hooks/engine/…
        return objects[kind].pk
    if name == "object_id":
        if route.startswith("admin/r/"):
            return objects["project"].pk
        return objects[ADMIN_MODELS.get(segments[2], "project")].pk
    if name == "id":
        return objects["user"].pk
    if name == "content_type_id":
        return ContentType.objects.get_for_model(Project).pk
    if name == "membership_pk":
        return objects["membership"].pk
    if name == "clip_pk":
        return objects["audio"].pk
    if name == "video_pk":
        return objects["video"].pk
    if name == "line_pk":
        return objects["line"].pk
    if name == "field":
        return "result_file" if segments[0] == "tasks" else "file"
    return {"app_label": "projects", "url": "nothing-here/", "uidb64": "MQ"}.get(name, "x")


def logged_in(user, *, enforce: bool) -> Client:
    client = Client(enforce_csrf_checks=enforce)
    client.force_login(user)
    return client


@pytest.mark.parametrize("route", ROUTES)
def test_post_without_a_token_is_refused(route, objects):
    path = build_path(route, objects)
    without = logged_in(objects["user"], enforce=True).post(path, {})
    if route in CSRF_EXEMPT:
        assert without.status_code == 404, "a wrong token in the URL finds nothing"
        return
    assert without.status_code == 403, f"POST {path} without a token → {without.status_code}"
    assert CSRF_REFUSAL in without.content

    client = logged_in(objects["user"], enforce=True)
    token = _get_new_csrf_string()
    client.cookies["csrftoken"] = token
    with_token = client.post(path, {}, HTTP_X_CSRFTOKEN=token)
    accepts_post = with_token.status_code != 405
    if route in KNOWN_STATE_CHANGERS:
        assert accepts_post, f"{path} should accept POST; the check above would prove nothing"
    if accepts_post:
        assert with_token.status_code != 403 or CSRF_REFUSAL not in with_token.content


def test_routes_cover_the_known_state_changers():
    assert set(ROUTES) >= KNOWN_STATE_CHANGERS
    assert set(ROUTES) >= CSRF_EXEMPT
