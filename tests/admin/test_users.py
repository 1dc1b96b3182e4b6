"""Administrators set a password, or mail a link to choose one, from the review panel."""

from __future__ import annotations

import pytest
from django.contrib.messages import get_messages
from django.core import mail
from django.test import Client
from django.urls import reverse

from tests.support.personas import make_user

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "a-brand-new-passphrase-42"


@pytest.fixture
def administrator() -> Client:
    client = Client()
    client.force_login(make_user("root", is_staff=True, is_superuser=True))
    return client


def test_an_administrator_sets_a_password(administrator):
    walker = make_user("walker")
    url = reverse("admin:auth_user_password_change", args=[walker.pk])
    response = administrator.post(
        url, {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD, "usable_password": "true"}
    )
    assert response.status_code == 302
    walker.refresh_from_db()
    assert walker.check_password(NEW_PASSWORD)


def test_an_administrator_mails_a_reset_link(administrator, settings):
    settings.PUBLIC_BASE_URL = "https://lipsync.example.com"
    walker = make_user("walker", email="walker@example.com")
    silent = make_user("silent")
    response = administrator.post(
        reverse("admin:auth_user_changelist"),
        {"action": "send_password_reset_link", "_selected_action": [walker.pk, silent.pk]},
    )
    assert response.status_code == 302
    said = [str(message) for message in get_messages(response.wsgi_request)]
    assert "A link was mailed to walker." in said
    assert any(text.startswith("silent: ") and "no email address" in text for text in said)
    assert [sent.to for sent in mail.outbox] == [["walker@example.com"]]
    assert "https://lipsync.example.com/accounts/reset/" in mail.outbox[0].body


def test_a_reviewer_in_the_panel_cannot_reach_people(project, users):
    reviewer = users["reviewer"]
    reviewer.is_staff = True
    reviewer.save()
    client = Client()
    client.force_login(reviewer)
    assert client.get(reverse("admin:auth_user_changelist")).status_code == 403
