"""The template filters that word times for the pages."""

from __future__ import annotations

import pytest

from projects.templatetags.lipsync import media_time


@pytest.mark.parametrize(
    ("ms", "text"), [(3_500, "3.5"), (0, "0"), (12_345, "12.345"), (None, "0")]
)
def test_media_fragment_times_are_plain_seconds(ms, text):
    assert media_time(ms) == text
