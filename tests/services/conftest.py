"""Fixtures of this folder's tests."""

from tests.support.reviewing import objects, staff, task  # noqa: F401 - fixtures
