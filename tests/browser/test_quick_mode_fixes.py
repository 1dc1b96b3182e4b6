"""Quick mode offers the fixes it promises ("a 10 s copy", "an enlarged copy") through "fix
it for me", and the video page says whether quick mode can take the video."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from projects.engines.limits import BASIC_VIDEO
from projects.mediakit.probe import probe_media
from projects.models import SourceVideo
from projects.services.storage import local_path
from tests.support.browser import WORKER_TIMEOUT_MS, log_in, screenshot
from tests.support.fixtures import add_video
from tests.support.mediagen import make_video

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_long_small_video_gets_a_copy_quick_mode_takes(page, worker, users, project, tmp_path):
    path = make_video(tmp_path / "interview.mp4", width=640, height=512, duration_s=12)
    video = add_video(project, users["editor"], path, identify=False)
    log_in(page, "editor")
    page.goto(video.get_absolute_url())
    expect(page.locator("#quick-mode-fit")).to_contain_text("Quick mode needs a copy")

    page.locator("#quick-mode-fit").get_by_role("link", name="make for you").click()
    heading = page.get_by_role("heading", name="Quick mode needs a copy of this video")
    expect(heading).to_be_visible()
    # A decimal comma reads as 1.5 s here too (a number box would have made it 15).
    page.get_by_label("Keep 10 s starting at (seconds)").fill("1,5")
    screenshot(page, "quick-mode-fix")
    page.get_by_role("button", name="Make a copy for quick mode").click()
    page.wait_for_url(re.compile(r"/videos/\d+/"))
    fit = page.locator("#quick-mode-fit")
    expect(fit).to_contain_text("Quick mode can take this video", timeout=WORKER_TIMEOUT_MS)

    copy = SourceVideo.objects.exclude(pk=video.pk).get()
    assert copy.media_info["derived_from"] == video.pk and copy.fits_quick_mode
    assert any(change.startswith("Trimmed to 0:01.5") for change in copy.media_info["changes"])
    with local_path(copy.file) as copied:
        info = probe_media(copied)
    assert min(info.width, info.height) >= BASIC_VIDEO.min_side_px
    assert max(info.width, info.height) <= BASIC_VIDEO.max_side_px
    assert BASIC_VIDEO.max_duration_ms - 200 <= info.duration_ms <= BASIC_VIDEO.max_duration_ms
    fit.get_by_role("link", name="lip-sync the whole video").click()
    expect(page.get_by_role("button", name="Lip-sync the whole video")).to_be_visible()
    assert page.js_errors == []
