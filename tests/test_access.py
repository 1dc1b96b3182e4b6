"""Every URL × every persona: nobody reaches another project's objects.

The matrix is generated from the URL configuration: a new URL without an entry in `RULES`
fails `test_every_url_has_an_access_rule`, so it cannot slip through untested.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from projects.access import ROLE_ABILITIES, Ability
from projects.models import Membership, Role
from tests.conftest import PERSONAS

pytestmark = pytest.mark.django_db

NOT_ALLOWED = "method not allowed"
PUBLIC_URL_NAMES = {"login", "logout", "password_reset", "healthz"}


@dataclass(frozen=True)
class Rule:
    """What a URL needs per method and how to build its kwargs.

    None means any logged-in user; NOT_ALLOWED means the method is refused with 405.
    """

    get: Ability | str | None
    post: Ability | str | None
    kwargs: Callable[[dict], dict]
    post_data: Callable[[dict], dict] = lambda objects: {}


def _project(objects: dict) -> dict:
    return {"pk": objects["project"].pk}


RULES: dict[str, Rule] = {
    "projects:list": Rule(get=None, post=None, kwargs=lambda o: {}),
    "projects:detail": Rule(get=Ability.VIEW, post=NOT_ALLOWED, kwargs=_project),
    "projects:members": Rule(
        get=Ability.VIEW,
        post=Ability.MANAGE,
        kwargs=_project,
        post_data=lambda o: {"username": "newcomer", "role": Role.EDITOR},
    ),
    "projects:membership-remove": Rule(
        get=NOT_ALLOWED,
        post=Ability.MANAGE,
        kwargs=lambda o: {"pk": o["project"].pk, "membership_pk": o["reviewer_membership"].pk},
    ),
}


def _named_urls(resolver: URLResolver, namespace: str = "") -> list[str]:
    names = []
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            inner = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            if entry.namespace != "admin":
                names += _named_urls(entry, inner)
        elif isinstance(entry, URLPattern) and entry.name:
            names.append(namespace + entry.name)
    return names


def test_every_url_has_an_access_rule():
    unclassified = {
        name
        for name in _named_urls(get_resolver())
        if name not in RULES
        and name.split(":")[-1] not in PUBLIC_URL_NAMES
        and not name.startswith(("password_", "password"))
    }
    assert unclassified == set(), "give these URLs an entry in RULES"


def _allowed(persona: str, need: Ability | None) -> bool:
    if persona in ("anonymous", "outsider"):
        return need is None and persona != "anonymous"
    return need is None or need in ROLE_ABILITIES[Role(persona)]


def _expected_status(persona: str, method: str, rule: Rule) -> set[int]:
    need = rule.get if method == "get" else rule.post
    if persona == "anonymous":
        return {302}  # to the login page
    if need == NOT_ALLOWED:
        return {405}
    if persona == "outsider" and need is not None:
        return {404}  # never confirm that another project's object exists
    if not _allowed(persona, need):
        return {403}
    return {200, 302, 400}


@pytest.fixture
def objects(project) -> dict:
    from django.contrib.auth import get_user_model

    get_user_model().objects.create_user(username="newcomer", password="x-unused-password")
    return {
        "project": project,
        "reviewer_membership": Membership.objects.get(project=project, role=Role.REVIEWER),
    }


MATRIX = [
    (name, persona, method) for name in RULES for persona in PERSONAS for method in ("get", "post")
]


@pytest.mark.parametrize(("name", "persona", "method"), MATRIX)
def test_access_matrix(name, persona, method, clients, objects):
    rule = RULES[name]
    url = reverse(name, kwargs=rule.kwargs(objects))
    client = clients[persona]
    response = client.get(url) if method == "get" else client.post(url, rule.post_data(objects))
    assert response.status_code in _expected_status(persona, method, rule), (
        f"{persona} {method.upper()} {url} → {response.status_code}"
    )
    if persona == "anonymous":
        assert response.url.startswith(reverse("login"))


def test_staff_sees_every_project_but_cannot_manage_it(project):
    from django.test import Client

    from tests.conftest import make_user

    staff = make_user("staffer", is_staff=True)
    client = Client()
    client.force_login(staff)
    assert client.get(project.get_absolute_url()).status_code == 200
    url = reverse("projects:members", args=[project.pk])
    assert client.post(url, {"username": "staffer", "role": Role.OWNER}).status_code == 403
