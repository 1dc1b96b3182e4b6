"""Plain words for people who are not technical: tasks named by who says what and where, task
kinds in words, lengths in seconds, dates in the reader's own locale (the exact time on hover),
and the engine's internals behind a "Technical details" disclosure."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from projects.models import AudioClip, AudioSource, LipSyncTask, MediaStatus, TaskKind
from tests.support.browser import log_in, screenshot
from tests.support.reviewing import finish

pytestmark = pytest.mark.django_db(transaction=True)

GERMAN_DATE = re.compile(r"^\d{2}\.\d{2}\.\d{4}, \d{2}:\d{2}$")


@pytest.fixture
def german_page(browser, live_server):
    context = browser.new_context(
        base_url=live_server.url, locale="de-DE", timezone_id="Europe/Berlin"
    )
    page = context.new_page()
    yield page
    context.close()


def test_tasks_units_and_dates_read_plainly(german_page, users, project, face_video, speech):
    page = german_page
    editor, owner = users["editor"], users["owner"]
    owner.is_staff = True
    owner.save(update_fields=["is_staff"])
    face = face_video.faces.first()
    chosen = LipSyncTask.objects.create(
        project=project,
        video=face_video,
        face=face,
        audio=speech,
        sound_end_ms=3_000,
        sound_insert_ms=500,
        engine="local",
        created_by=editor,
    )
    finish(chosen)
    typed = AudioClip.objects.create(
        project=project,
        source=AudioSource.TTS,
        tts_text="Welcome to our spring collection.",
        voice_id="oversea_male1",
        voice_language="en",
        status=MediaStatus.READY,
        created_by=editor,
    )
    whole = LipSyncTask.objects.create(
        project=project,
        video=face_video,
        audio=typed,
        kind=TaskKind.BASIC,
        engine="local",
        created_by=editor,
    )

    log_in(page, "editor")
    page.goto(project.get_absolute_url())
    expect(page.get_by_role("link", name="Person 1 · line.wav at 0:00.5")).to_be_visible()
    expect(page.get_by_role("link", name="Whole video · Anchor")).to_be_visible()
    videos = page.locator("#videos-heading ~ ul")
    expect(videos).to_contain_text("3.5 s")
    expect(videos).not_to_contain_text("ms")
    created = page.locator("#tasks-panel time").first
    expect(created).to_have_text(GERMAN_DATE)
    assert re.search(r"\d{1,2}:\d{2}:\d{2}", created.get_attribute("title")), "exact on hover"

    page.goto(chosen.get_absolute_url())
    expect(page.get_by_role("heading", level=1)).to_have_text("Person 1 · line.wav at 0:00.5")
    expect(page.locator("dt:has-text('Kind') + dd")).to_have_text("Chosen face")
    short_id = str(chosen.pk)[:8]
    assert short_id not in page.locator("main").inner_text(), "no hash outside the disclosure"
    details = page.locator("details.technical")
    details.locator("summary").click()
    expect(details).to_contain_text(str(chosen.pk))
    expect(details).to_contain_text("Status checks")
    expect(page.locator("dt:has-text('Created') + dd time")).to_have_text(GERMAN_DATE)
    screenshot(page, "task-plain-words")

    page.goto(whole.get_absolute_url())
    expect(page.get_by_role("heading", level=1)).to_have_text("Whole video · Anchor")
    expect(page.locator("dt:has-text('Kind') + dd")).to_have_text("Whole video")

    page.context.clear_cookies()
    log_in(page, "owner")
    page.goto(reverse("admin:projects_lipsynctask_change", args=[chosen.pk]))
    expect(page.locator(".review-links time")).to_have_text(GERMAN_DATE)
