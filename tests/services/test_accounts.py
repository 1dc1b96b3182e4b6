"""A password-reset link is mailed by an administrator, built from PUBLIC_BASE_URL, and only
through a mail backend that delivers it."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse

from projects.services import accounts
from projects.services.errors import ServiceError
from tests.support.personas import make_user

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "a-brand-new-passphrase-42"


@pytest.fixture
def walker():
    return make_user("walker", email="walker@example.com")


def test_the_link_comes_from_the_public_address_and_sets_a_new_password(settings, walker):
    settings.PUBLIC_BASE_URL = "https://lipsync.example.com"
    accounts.send_password_reset_link(walker)
    (sent,) = mail.outbox
    assert sent.to == ["walker@example.com"]
    link = re.search(r"https://\S+", sent.body).group(0)
    assert link.startswith("https://lipsync.example.com/accounts/reset/")

    client = Client()
    form = client.get(link.removeprefix("https://lipsync.example.com"), follow=True)
    assert form.status_code == 200
    done = client.post(
        form.redirect_chain[-1][0],
        {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    assert done.status_code == 302 and done.url == reverse("password_reset_complete")
    walker.refresh_from_db()
    assert walker.check_password(NEW_PASSWORD)
    again = Client().get(link.removeprefix("https://lipsync.example.com"), follow=True)
    assert "new_password1" not in again.content.decode(), "the link works once"


@pytest.mark.parametrize(
    "backend",
    [
        "django.core.mail.backends.console.EmailBackend",
        "django.core.mail.backends.dummy.EmailBackend",
    ],
)
def test_no_link_goes_to_a_backend_that_only_logs(settings, walker, backend, capsys):
    settings.PUBLIC_BASE_URL = "https://lipsync.example.com"
    settings.EMAIL_BACKEND = backend
    with pytest.raises(ServiceError, match="No mail server"):
        accounts.send_password_reset_link(walker)
    assert "/accounts/reset/" not in capsys.readouterr().out


def test_no_link_without_a_public_address(settings, walker):
    settings.PUBLIC_BASE_URL = None
    with pytest.raises(ServiceError, match="PUBLIC_BASE_URL"):
        accounts.send_password_reset_link(walker)
    assert mail.outbox == []


def test_no_link_without_an_email_address(settings):
    settings.PUBLIC_BASE_URL = "https://lipsync.example.com"
    with pytest.raises(ServiceError, match="no email address"):
        accounts.send_password_reset_link(make_user("silent"))
