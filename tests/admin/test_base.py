"""Every review-panel URL × every persona: nobody reaches another project's objects there either.

The matrix is generated from the admin site: every registered model's URLs (list, add,
change, delete, history and our review endpoint), every list action, and the site's own
URLs. A new admin URL or action without a rule fails `test_every_admin_url_has_a_rule`.

Personas: the project's owner and reviewer open the panel (`is_staff`); its editor and an
outsider do not; `other_staff` is staff and owner of ANOTHER project: they use the panel
every day, and must find nothing of this project in it (404, 403 or an empty list).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from django.contrib import admin
from django.contrib.auth.models import Group
from django.contrib.contenttypes.models import ContentType
from django.db.models import Model
from django.test import Client, RequestFactory
from django.urls import URLPattern, reverse

from projects.admin.base import ProjectScopedAdmin
from projects.models import AuditEvent, AuditVerb, LipSyncTask, Membership, ReviewState, TaskStatus
from projects.services import audit, membership
from tests.support.objects import project_objects
from tests.support.personas import PERSONAS, make_user

pytestmark = pytest.mark.django_db

PANEL_PERSONAS = (*PERSONAS, "other_staff")
MEMBERS_IN_PANEL = {"owner", "reviewer"}  # staff and members of the project
MAY_REVIEW = {"owner", "reviewer"}
NOT_IN_PANEL = {"anonymous", "outsider", "editor"}  # not staff: sent to the panel's login


# --- The world: our project, another project, one of each object ------------------------------


@pytest.fixture
def world(project, users) -> dict:
    for name in ("owner", "reviewer"):
        users[name].is_staff = True
        users[name].save(update_fields=["is_staff"])
    made = project_objects(project, users["editor"])
    LipSyncTask.objects.filter(pk=made["task"].pk).update(status=TaskStatus.SUCCEED)
    made["task"].refresh_from_db()
    event = audit.record(users["editor"], AuditVerb.SUBMITTED, project, task=made["task"])

    other_staff = make_user("other_staff", is_staff=True)
    elsewhere = membership.create_project(name="Elsewhere", owner=other_staff)
    theirs = project_objects(elsewhere, other_staff)
    LipSyncTask.objects.filter(pk=theirs["task"].pk).update(status=TaskStatus.SUCCEED)

    clients = {"anonymous": Client()}
    for name, user in {**users, "other_staff": other_staff}.items():
        clients[name] = Client()
        clients[name].force_login(user)
    return {
        "clients": clients,
        "project": project,
        "task": made["task"],
        "their_task": theirs["task"],
        "objects": {
            "project": project,
            "sourcevideo": made["video"],
            "audioclip": made["audio"],
            "lipsynctask": made["task"],
            "reviewqueuetask": made["task"],
            "auditevent": event,
            "user": users["editor"],
            "group": Group.objects.create(name="Reviewers"),
            **login_records(),
        },
    }


def login_records() -> dict:
    """One of each of django-axes' records of logins (shown to administrators only)."""
    from axes.models import AccessAttempt, AccessFailureLog, AccessLog

    seen = {"username": "editor", "ip_address": "192.0.2.1", "user_agent": "", "path_info": "/"}
    return {
        "accessattempt": AccessAttempt.objects.create(
            **seen, get_data="", post_data="", failures_since_start=1
        ),
        "accessfailurelog": AccessFailureLog.objects.create(**seen),
        "accesslog": AccessLog.objects.create(**seen),
    }


def snapshot(world: dict) -> tuple:
    """What a forbidden request must not change."""
    task = LipSyncTask.objects.get(pk=world["task"].pk)
    return (
        task.review_state,
        task.review_note,
        AuditEvent.objects.count(),
        sorted(Membership.objects.values_list("pk", "role")),
        world["project"].__class__.objects.get(pk=world["project"].pk).name,
    )


def undecide(world: dict) -> None:
    """Put the task back in the queue, so that each persona meets the same state."""
    LipSyncTask.objects.filter(pk=world["task"].pk).update(
        review_state=ReviewState.PENDING, reviewer=None, reviewed_at=None, review_note=""
    )


# --- Rules per kind of model URL ---------------------------------------------------------------


@dataclass(frozen=True)
class Expect:
    """Status codes for a persona; `member` for owner and reviewer, `stranger` for other_staff."""

    member: int
    stranger: int
    post_data: dict | None = None


# Project-scoped admins: read-only for members, invisible (404) for staff of other projects.
SCOPED_RULES: dict[str, dict[str, Expect]] = {
    "changelist": {"get": Expect(200, 200), "post": Expect(200, 200)},
    "add": {"get": Expect(403, 403), "post": Expect(403, 403, {"name": "Intruder"})},
    "change": {"get": Expect(200, 404), "post": Expect(403, 404, {"name": "Renamed"})},
    "delete": {"get": Expect(403, 404), "post": Expect(403, 404, {"post": "yes"})},
    "history": {"get": Expect(200, 404), "post": Expect(200, 404)},
    "review": {"get": Expect(405, 405), "post": Expect(302, 404, {"decision": "approved"})},
}
# Django's own admins (users, groups): nothing for staff without Django permissions.
UNSCOPED_RULES = {
    "changelist": 403,
    "add": 403,
    "change": 403,
    "delete": 403,
    "history": 403,
    "password_change": 403,
}


@dataclass(frozen=True)
class AdminUrl:
    name: str  # without the "admin:" namespace
    model_name: str
    kind: str  # changelist, add, change, delete, history, review…
    scoped: bool  # served by a ProjectScopedAdmin
    params: tuple[str, ...]  # the URL's parameters, each given the object's primary key

    def reverse(self, world: dict) -> str:
        obj = world["objects"][self.model_name]
        return reverse(f"admin:{self.name}", kwargs=dict.fromkeys(self.params, obj.pk))


def model_urls() -> list[AdminUrl]:
    """Every named URL of every registered model admin."""
    found = []
    for model, model_admin in admin.site._registry.items():
        prefix = f"{model._meta.app_label}_{model._meta.model_name}_"
        for pattern in model_admin.urls:
            if isinstance(pattern, URLPattern) and pattern.name:
                found.append(
                    AdminUrl(
                        name=pattern.name,
                        model_name=model._meta.model_name,
                        kind=pattern.name.removeprefix(prefix),
                        scoped=isinstance(model_admin, ProjectScopedAdmin),
                        params=tuple(pattern.pattern.converters),
                    )
                )
    return sorted(found, key=lambda url: url.name)


MODEL_URLS = model_urls()


def _expected(persona: str, kind: str, method: str, scoped: bool) -> tuple[int, dict]:
    if persona in NOT_IN_PANEL:
        return 302, {}
    if not scoped:
        return UNSCOPED_RULES[kind], {}
    rule = SCOPED_RULES[kind][method]
    status = rule.member if persona in MEMBERS_IN_PANEL else rule.stranger
    return status, rule.post_data or {}


@pytest.mark.parametrize("admin_url", MODEL_URLS, ids=[url.name for url in MODEL_URLS])
def test_admin_model_url_matrix(world, admin_url: AdminUrl):
    url = admin_url.reverse(world)
    kind, scoped = admin_url.kind, admin_url.scoped
    failures = []
    for persona in PANEL_PERSONAS:
        client = world["clients"][persona]
        for method in ("get", "post"):
            status, data = _expected(persona, kind, method, scoped)
            before = snapshot(world)
            response = client.get(url) if method == "get" else client.post(url, data)
            if response.status_code != status:
                failures.append(f"{persona} {method.upper()} {url} → {response.status_code}")
                continue
            if status == 302 and persona in NOT_IN_PANEL:
                assert response.url.startswith(reverse("admin:login")), response.url
            if not (kind == "review" and method == "post" and persona in MAY_REVIEW):
                assert snapshot(world) == before, f"{persona} {method.upper()} {url} changed data"
            if kind == "changelist" and scoped and status == 200:
                _check_listing(response, persona, world["objects"][admin_url.model_name])
            undecide(world)
    assert failures == []


def _check_listing(response, persona: str, ours: Model) -> None:
    listed = {obj.pk for obj in response.context["cl"].result_list}
    if persona in MEMBERS_IN_PANEL:
        assert ours.pk in listed, f"{persona} should see {ours!r}"
    else:
        assert ours.pk not in listed, f"{persona} sees another project's {ours!r}"


def test_the_review_decision_reached_the_database(world):
    """The matrix resets decisions; one run through here shows that a reviewer's POST lands."""
    url = reverse("admin:projects_lipsynctask_review", args=[world["task"].pk])
    world["clients"]["reviewer"].post(url, {"decision": "approved"})
    assert LipSyncTask.objects.get(pk=world["task"].pk).review_state == ReviewState.APPROVED


# --- List actions ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ActionRule:
    post_data: dict
    decided_state: str


ACTION_RULES = {
    "approve_selected": ActionRule({}, ReviewState.APPROVED),
    "reject_selected": ActionRule({"confirm": "yes", "note": "Redo it."}, ReviewState.REJECTED),
}


def model_actions() -> list[tuple[str, str]]:
    """Every list action a superuser is offered, per registered project-scoped model."""
    request = RequestFactory().get("/admin/")
    request.user = make_user("action-probe", is_staff=True, is_superuser=True)
    try:
        found = []
        for model, model_admin in admin.site._registry.items():
            if isinstance(model_admin, ProjectScopedAdmin):
                found += [(model._meta.model_name, n) for n in model_admin.get_actions(request)]
        return sorted(found)
    finally:
        request.user.delete()


@pytest.mark.parametrize("persona", PANEL_PERSONAS)
def test_admin_action_matrix(world, persona):
    actions = model_actions()
    assert actions, "the review actions are registered"
    client = world["clients"][persona]
    for model_name, action in actions:
        rule = ACTION_RULES[action]
        url = reverse(f"admin:projects_{model_name}_changelist")
        data = {"action": action, "_selected_action": [str(world["task"].pk)], **rule.post_data}
        response = client.post(url, data)
        state = LipSyncTask.objects.get(pk=world["task"].pk).review_state
        if persona in NOT_IN_PANEL:
            assert response.status_code == 302
            assert response.url.startswith(reverse("admin:login"))
        expected = rule.decided_state if persona in MAY_REVIEW else ReviewState.PENDING
        assert state == expected, f"{persona} {action} on {model_name}"
        undecide(world)


def test_other_staff_can_still_review_their_own_project(world):
    """The stranger persona is not crippled: the same panel works on their own project."""
    task = world["their_task"]
    url = reverse("admin:projects_lipsynctask_review", args=[task.pk])
    world["clients"]["other_staff"].post(url, {"decision": "approved"})
    assert LipSyncTask.objects.get(pk=task.pk).review_state == ReviewState.APPROVED


# --- The site's own URLs -----------------------------------------------------------------------


@dataclass(frozen=True)
class SiteRule:
    kwargs: Callable[[dict], dict]
    query: Callable[[dict], str] = lambda world: ""
    member: int = 200
    stranger: int = 200
    check: Callable[[object, str, dict], None] | None = None


def _autocomplete_query(world: dict) -> str:
    task = world["task"]
    return f"?app_label=projects&model_name=lipsynctask&field_name=retry_of&term={str(task.pk)[:8]}"


def _autocomplete_check(response, persona: str, world: dict) -> None:
    ids = {row["id"] for row in json.loads(response.content)["results"]}
    assert (str(world["task"].pk) in ids) == (persona in MEMBERS_IN_PANEL), persona


def _view_on_site_kwargs(world: dict) -> dict:
    content_type = ContentType.objects.get_for_model(LipSyncTask)
    return {"content_type_id": content_type.pk, "object_id": world["task"].pk}


SITE_RULES: dict[str, SiteRule] = {
    "index": SiteRule(kwargs=lambda w: {}),
    "app_list": SiteRule(kwargs=lambda w: {"app_label": "projects"}),
    "jsi18n": SiteRule(kwargs=lambda w: {}),
    "password_change": SiteRule(kwargs=lambda w: {}),  # one's own password
    "password_change_done": SiteRule(kwargs=lambda w: {}),
    "autocomplete": SiteRule(
        kwargs=lambda w: {}, query=_autocomplete_query, check=_autocomplete_check
    ),
    # Answered 404 for everyone in the panel: the redirect would confirm that an id exists.
    "view_on_site": SiteRule(kwargs=_view_on_site_kwargs, member=404, stranger=404),
}
# Reached without a panel session, by design.
SITE_PUBLIC = {"login", "logout"}


def site_url_names() -> set[str]:
    model_names = {url.name for url in MODEL_URLS}
    names = set()
    for pattern in admin.site.get_urls():
        name = getattr(pattern, "name", None)
        if name and name not in model_names:
            names.add(name)
    return names


def test_every_admin_url_has_a_rule():
    unknown_kinds = {
        url.name
        for url in MODEL_URLS
        if url.kind not in (SCOPED_RULES if url.scoped else UNSCOPED_RULES)
    }
    assert unknown_kinds == set(), "give these admin URLs a rule"
    unknown_site = site_url_names() - set(SITE_RULES) - SITE_PUBLIC
    assert unknown_site == set(), "give these admin URLs an entry in SITE_RULES"
    assert {action for _, action in model_actions()} <= set(ACTION_RULES)


@pytest.mark.parametrize("name", sorted(SITE_RULES))
def test_admin_site_url_matrix(world, name):
    rule = SITE_RULES[name]
    url = reverse(f"admin:{name}", kwargs=rule.kwargs(world)) + rule.query(world)
    failures = []
    for persona in PANEL_PERSONAS:
        response = world["clients"][persona].get(url)
        if persona in NOT_IN_PANEL:
            expected = 302
        else:
            expected = rule.member if persona in MEMBERS_IN_PANEL else rule.stranger
        if response.status_code != expected:
            failures.append(f"{persona} GET {url} → {response.status_code}")
        elif persona in NOT_IN_PANEL:
            assert response.url.startswith(reverse("admin:login"))
        elif rule.check is not None:
            rule.check(response, persona, world)
    assert failures == []


def test_the_panel_index_shows_strangers_only_their_own_projects(world):
    page = world["clients"]["other_staff"].get(reverse("admin:index"))
    assert page.status_code == 200
    listing = world["clients"]["other_staff"].get(reverse("admin:projects_project_changelist"))
    names = {project.name for project in listing.context["cl"].result_list}
    assert names == {"Elsewhere"}


def test_staff_without_any_project_sees_an_empty_panel(world):
    lonely = make_user("lonely", is_staff=True)
    client = Client()
    client.force_login(lonely)
    index = client.get(reverse("admin:index")).content.decode()
    assert reverse("admin:projects_reviewqueuetask_changelist") not in index
    assert client.get(reverse("admin:projects_lipsynctask_changelist")).status_code == 403


def test_staff_who_see_every_project_read_but_do_not_decide(world):
    from django.contrib.auth.models import Permission

    watcher = make_user("watcher", is_staff=True)
    watcher.user_permissions.add(Permission.objects.get(codename="view_all_projects"))
    client = Client()
    client.force_login(watcher)
    task = world["task"]
    listing = client.get(reverse("admin:projects_lipsynctask_changelist"))
    assert task.pk in {t.pk for t in listing.context["cl"].result_list}
    assert (
        client.get(reverse("admin:projects_lipsynctask_change", args=[task.pk])).status_code == 200
    )
    review = reverse("admin:projects_lipsynctask_review", args=[task.pk])
    assert client.post(review, {"decision": "approved"}).status_code == 403
    assert LipSyncTask.objects.get(pk=task.pk).review_state == ReviewState.PENDING
