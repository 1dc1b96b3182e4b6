"""A notice about something that is changing is replaced by its outcome: no "we are checking
it now" above "this is not a video we can read", no "Submitted" beside "Done"."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.support.browser import WORKER_TIMEOUT_MS, log_in, screenshot, upload

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_rejected_upload_shows_only_its_outcome(page, worker, users, project, tmp_path):
    not_a_video = tmp_path / "holiday.mp4"
    not_a_video.write_text("These are words, not pictures.\n" * 40)
    log_in(page, "editor")
    page.goto(project.get_absolute_url())
    upload(page, "video", not_a_video)
    page.wait_for_url(re.compile(r"/videos/\d+/"))
    expect(page.locator("#video-facts .notice-error")).to_be_visible(timeout=WORKER_TIMEOUT_MS)
    main = page.locator("main")
    expect(main).not_to_contain_text("checking it now")
    expect(main).not_to_contain_text("Checking the video")
    screenshot(page, "upload-rejected")


def test_submitted_gives_way_to_done(page, worker, users, face_video, speech):
    log_in(page, "editor")
    page.goto(face_video.get_absolute_url())
    page.locator(".face-card").first.click()
    page.get_by_label("Audio clip", exact=True).select_option(label=str(speech))
    page.get_by_role("button", name="Submit for lip-sync").click()
    page.wait_for_url(re.compile(r"/tasks/[0-9a-f-]+/"))
    expect(page.locator("#task-status .status-line .badge")).to_have_text(
        "Done", timeout=WORKER_TIMEOUT_MS
    )
    expect(page.locator("main")).not_to_contain_text("Submitted")
    assert page.js_errors == []
