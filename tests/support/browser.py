"""Steps the browser tests share: logging in, creating a project, uploading, screenshots."""

from __future__ import annotations

import re
from pathlib import Path

from playwright.sync_api import expect

from projects.models import AudioClip
from tests.support.personas import PASSWORD

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
# How long a page may wait for the real worker (probe, face search, local render).
WORKER_TIMEOUT_MS = 120_000


# Every screen is looked at as people see it: on a desktop and on a phone.
SCREEN_WIDTHS = (1440, 390)
# How long a page gets to lay itself out at a new width before it is captured: captured at
# once, a page with a playing video came out with parts of its timeline unpainted. A wait on
# Playwright's side, not in the page, since some pages run without JavaScript.
SETTLE_AFTER_RESIZE_MS = 250


def screenshot(page, name: str) -> list[Path]:
    """Save the whole page at each width of SCREEN_WIDTHS (`<name>-1440.png`, `<name>-390.png`),
    then give the page back its own size."""
    ARTIFACTS.mkdir(exist_ok=True)
    original = page.viewport_size or {"width": 1366, "height": 900}
    paths = []
    for width in SCREEN_WIDTHS:
        page.set_viewport_size({"width": width, "height": original["height"]})
        page.wait_for_timeout(SETTLE_AFTER_RESIZE_MS)
        path = ARTIFACTS / f"{name}-{width}.png"
        page.screenshot(path=str(path), full_page=True)
        paths.append(path)
    page.set_viewport_size(original)
    return paths


def log_in(page, username: str) -> None:
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/projects/")


def create_project(page, name: str) -> None:
    page.get_by_label("Project name").fill(name)
    page.get_by_role("button", name="Create project").click()
    expect(page.get_by_role("heading", name=name)).to_be_visible()


def upload(page, kind: str, path: Path) -> None:
    page.locator(f"#{kind}-file").set_input_files(str(path))
    label = "video" if kind == "video" else "audio clip"
    page.get_by_role("button", name=f"Upload {label}").click()


def wait_for_the_added_clip(page, name: str, anchor: str) -> AudioClip:
    """Wait until the page, having followed the clip called `name` while the worker checked it
    (`?new_audio=<pk>`), comes back with it chosen (`?audio=<pk>#<anchor>`), and give the clip.

    The clip is found by the address the page ends on, not the one it passes through: a fast
    worker can make the clip ready before the test looks, and the page moves on at once."""

    def shows_the_clip_chosen(url: str) -> bool:
        chosen = re.search(rf"\?audio=(\d+)#{anchor}$", url)
        return bool(chosen) and AudioClip.objects.filter(pk=chosen[1], original_name=name).exists()

    page.wait_for_url(shows_the_clip_chosen, timeout=WORKER_TIMEOUT_MS)
    clip = AudioClip.objects.get(pk=int(re.search(r"\?audio=(\d+)", page.url)[1]))
    assert any(url.endswith(f"?new_audio={clip.pk}") for url in page.visited), page.visited
    return clip
