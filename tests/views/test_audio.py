"""The audio pages: "fix it for me" takes only a start time inside the clip, in plain words."""

from __future__ import annotations

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse
from hypothesis import given

from projects.models import AudioClip, AudioSource, MediaStatus
from tests.support.oddinput import ODD_NUMBER_TEXTS, number_texts, views_settings

pytestmark = [pytest.mark.django_db, pytest.mark.portable]

TOO_LONG_MS = 70_000


@pytest.fixture
def too_long_clip(project, users) -> AudioClip:
    return AudioClip.objects.create(
        project=project,
        source=AudioSource.UPLOAD,
        original_name="long.wav",
        created_by=users["editor"],
        status=MediaStatus.READY,
        duration_ms=TOO_LONG_MS,
        file="audio/1/long.wav",
        media_info={"problems": [{"code": "too_long", "message": "Too long.", "fix": "trim"}]},
    )


def fix(client, clip: AudioClip, trim_start: str):
    return client.post(reverse("projects:audio-fix", args=[clip.pk]), {"trim_start": trim_start})


@pytest.mark.parametrize("trim_start", ODD_NUMBER_TEXTS)
def test_a_start_that_is_not_a_time_inside_the_clip_is_refused_in_words(
    clients, too_long_clip, trim_start
):
    response = fix(clients["editor"], too_long_clip, trim_start)
    assert response.status_code == 302 and response.url == too_long_clip.project.get_absolute_url()
    said = [str(message) for message in get_messages(response.wsgi_request)]
    assert len(said) == 1 and ("seconds" in said[0] or " s" in said[0]), said
    assert not AudioClip.objects.exclude(pk=too_long_clip.pk).exists()


@given(trim_start=number_texts)
@views_settings
def test_no_start_time_makes_a_server_error(clients, too_long_clip, trim_start):
    response = fix(clients["editor"], too_long_clip, trim_start)
    assert response.status_code == 302
    for copy in AudioClip.objects.exclude(pk=too_long_clip.pk):
        assert 0 <= copy.media_info["trim_start_ms"] <= TOO_LONG_MS
