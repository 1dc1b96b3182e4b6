"""The account pages: login and password change stay; self-service password reset is gone."""

from __future__ import annotations

import pytest
from django.core import mail
from django.urls import NoReverseMatch, reverse

from tests.support.personas import make_user

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("path", ["/accounts/password_reset/", "/accounts/password_reset/done/"])
def test_nobody_can_ask_for_a_reset_link_themselves(client, path):
    make_user("walker", email="walker@example.com")
    assert client.get(path).status_code == 404
    assert client.post(path, {"email": "walker@example.com"}).status_code == 404
    assert mail.outbox == []


def test_the_reset_request_pages_have_no_name_to_link_to():
    for name in ("password_reset", "password_reset_done"):
        with pytest.raises(NoReverseMatch):
            reverse(name)


def test_the_login_page_says_to_ask_an_administrator(client):
    page = client.get(reverse("login")).content.decode()
    assert "password_reset" not in page
    wrong = client.post(reverse("login"), {"username": "nobody", "password": "x"})
    assert "ask an administrator" in wrong.content.decode()
