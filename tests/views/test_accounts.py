"""Failed logins are limited per account and per address, on the app's and the review panel's
login, with a plain "try again in N minutes" on the login page and one audit event per lock."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth import SESSION_KEY
from django.test import Client
from django.urls import reverse

from projects.models import AuditEvent, AuditVerb
from tests.support.personas import PASSWORD, make_user

pytestmark = [pytest.mark.django_db, pytest.mark.portable]

LIMIT = 5  # the default LIPSYNC_LOGIN_FAILURE_LIMIT


def log_in(client: Client, username: str, password: str, *, address="192.0.2.1", url=None, **extra):
    return client.post(
        url or reverse("login"),
        {"username": username, "password": password},
        REMOTE_ADDR=address,
        **extra,
    )


def says_locked(response) -> bool:
    return (
        response.status_code == 429
        and "Too many failed attempts. Try again in 15 minutes" in response.content.decode()
    )


def test_sixty_wrong_passwords_then_the_right_one_is_refused(users):
    client = Client()
    answers = [log_in(client, "owner", f"guess-{n}") for n in range(60)]
    assert [a.status_code for a in answers[: LIMIT - 1]] == [200] * (LIMIT - 1)
    assert all(says_locked(answer) for answer in answers[LIMIT - 1 :])
    right = log_in(client, "owner", PASSWORD)
    assert says_locked(right)
    assert SESSION_KEY not in client.session
    page = right.content.decode()
    assert 'name="username"' in page and 'value="owner"' in page, "the login page itself"


def test_the_lock_on_an_account_holds_from_every_address(users):
    for n in range(LIMIT):
        log_in(Client(), "owner", "wrong", address=f"198.51.100.{n + 1}")
    assert says_locked(log_in(Client(), "owner", PASSWORD, address="203.0.113.9"))
    assert log_in(Client(), "editor", PASSWORD, address="203.0.113.9").status_code == 302


def test_the_lock_on_an_address_holds_for_every_account(users):
    for n in range(LIMIT):
        log_in(Client(), f"guess{n}", "wrong", address="198.51.100.7")
    assert says_locked(log_in(Client(), "editor", PASSWORD, address="198.51.100.7"))
    assert log_in(Client(), "editor", PASSWORD, address="198.51.100.8").status_code == 302


def test_a_forged_forwarded_address_is_not_counted_as_another_address(users):
    """Without a proxy in front (LIPSYNC_PROXY_COUNT=0), X-Forwarded-For is the client's word."""
    for n in range(LIMIT):
        log_in(Client(), f"guess{n}", "wrong", HTTP_X_FORWARDED_FOR=f"203.0.113.{n + 1}")
    forged = log_in(Client(), "editor", PASSWORD, HTTP_X_FORWARDED_FOR="203.0.113.200")
    assert says_locked(forged)


def test_the_review_panels_login_is_limited_too(users):
    client = Client()
    admin_login = reverse("admin:login")
    make_user("root", is_staff=True, is_superuser=True)
    answers = [log_in(client, "root", "wrong", url=admin_login) for _ in range(LIMIT + 2)]
    assert all(answer.status_code == 200 for answer in answers[: LIMIT - 1])
    assert all(says_locked(answer) for answer in answers[LIMIT - 1 :])
    assert says_locked(log_in(client, "root", PASSWORD, url=admin_login))
    assert 'value="/admin/"' in answers[-1].content.decode(), "logging in leads back to the panel"


def test_the_lock_ends_after_its_time(users):
    from axes.models import AccessAttempt

    for _ in range(LIMIT):
        log_in(Client(), "owner", "wrong")
    assert says_locked(log_in(Client(), "owner", PASSWORD))
    AccessAttempt.objects.update(
        attempt_time=AccessAttempt.objects.get().attempt_time - timedelta(minutes=16)
    )
    assert log_in(Client(), "owner", PASSWORD).status_code == 302


def test_the_page_counts_down_the_minutes_left(users):
    from axes.models import AccessAttempt

    for _ in range(LIMIT):
        log_in(Client(), "owner", "wrong")
    AccessAttempt.objects.update(
        attempt_time=AccessAttempt.objects.get().attempt_time - timedelta(minutes=13, seconds=30)
    )
    page = log_in(Client(), "owner", PASSWORD).content.decode()
    assert "Try again in 2 minutes" in page


def test_a_few_mistakes_are_not_a_lock(users):
    for _ in range(LIMIT - 1):
        log_in(Client(), "owner", "wrong")
    assert log_in(Client(), "owner", PASSWORD).status_code == 302
    assert not AuditEvent.objects.exists()


def test_each_lock_is_one_event_in_the_audit_trail(users):
    for _ in range(LIMIT + 20):
        log_in(Client(), "owner", "wrong", address="198.51.100.23")
    (event,) = AuditEvent.objects.all()
    assert event.verb == AuditVerb.LOGIN_LOCKED
    assert event.project is None and event.actor is None
    assert (
        event.note
        == f"Account “owner” from 198.51.100.23 at the app's login: {LIMIT} failed attempts."
    )
    with pytest.raises(ValueError, match="never changed"):
        event.save()
    with pytest.raises(ValueError, match="never deleted"):
        event.delete()


def test_locks_are_read_in_the_review_panel_by_those_who_see_every_project(users, project):
    for _ in range(LIMIT):
        log_in(Client(), "outsider", "wrong", url=reverse("admin:login"))
    root = Client()
    root.force_login(make_user("root", is_staff=True, is_superuser=True))
    trail = root.get(reverse("admin:projects_auditevent_changelist")).content.decode()
    assert "Account “outsider”" in trail and "review panel&#x27;s login" in trail
    reviewer = users["reviewer"]
    reviewer.is_staff = True
    reviewer.save()
    member = Client()
    member.force_login(reviewer)
    trail = member.get(reverse("admin:projects_auditevent_changelist")).content.decode()
    assert "Account “outsider”" not in trail, "a site event is not any one project's"
