"""The editor's side of reviews: clearing the decisions notice takes any "until" calmly."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from hypothesis import given
from hypothesis import strategies as st

from projects.models import Membership
from tests.support.oddinput import views_settings

pytestmark = [pytest.mark.django_db, pytest.mark.portable]

ODD_MOMENTS = [
    "2024-05-01T10:00:00",  # no time zone
    "0001-01-01T00:00:00+23:59",  # before the first representable moment in UTC
    "9999-12-31T23:59:59-23:59",  # after the last one
    "9999-12-31T23:59:59",
    "2024-13-45T99:99:99",
    "not a date",
    "",
]


def seen(client, project, until: str):
    return client.post(reverse("projects:decisions-seen", args=[project.pk]), {"until": until})


@pytest.mark.parametrize("until", ODD_MOMENTS)
def test_an_odd_until_is_read_as_now_at_the_latest(clients, project, users, until):
    before = timezone.now()
    response = seen(clients["editor"], project, until)
    assert response.status_code == 302
    mark = Membership.objects.get(project=project, user=users["editor"]).decisions_seen_at
    assert mark is None or mark <= timezone.now()
    if until in ("", "not a date", "2024-13-45T99:99:99") or until.startswith("9999"):
        assert mark >= before - timedelta(seconds=1), "unreadable or future: now"


@given(until=st.text(max_size=40) | st.datetimes().map(lambda moment: moment.isoformat()))
@views_settings
def test_no_until_makes_a_server_error(clients, project, until):
    assert seen(clients["editor"], project, until).status_code == 302
