"""The people the tests act as: owner, editor, reviewer, outsider and anonymous."""

from __future__ import annotations

from django.contrib.auth import get_user_model

PASSWORD = "correct-horse-battery-staple"
PERSONAS = ("owner", "editor", "reviewer", "outsider", "anonymous")


def make_user(username: str, **extra):
    return get_user_model().objects.create_user(username=username, password=PASSWORD, **extra)
