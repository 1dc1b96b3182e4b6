"""Browser tests: Debian's Chromium driven by Playwright against the live app and a real worker.

Playwright cannot download its own browser here, so it starts /usr/bin/chromium (installed by
`make test`), headless, without the sandbox (tests run as root in CI). Each test saves a
screenshot of its key screen under test-artifacts/.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.workers import WorkerProcess, purge_broker

# Playwright's sync API runs an event loop in this thread; Django's ORM calls made by the test
# between browser steps are still plain synchronous calls.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--autoplay-policy=no-user-gesture-required",
    # A fake microphone (a beeping tone) and an automatic "allow" for the recording test.
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
]


def pytest_collection_modifyitems(items) -> None:
    for item in items:
        if "tests/browser/" in str(item.fspath):
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def playwright_driver():
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium is missing at {CHROMIUM}: `make test` installs it (apt chromium).")
    with sync_playwright() as playwright:
        yield playwright


def launch_chromium(playwright):
    return playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)


@pytest.fixture(scope="session")
def browser(playwright_driver):
    browser = launch_chromium(playwright_driver)
    yield browser
    browser.close()


@pytest.fixture
def page(browser, live_server) -> Iterator:
    yield from _page_in(browser, live_server)


@pytest.fixture
def page_of_a_new_browser(playwright_driver, live_server) -> Iterator:
    """A page in a Chromium started for this test alone: for a test of a browser-wide native
    behaviour (the file chooser) that a long-running browser, after many tests, no longer shows
    reliably."""
    browser = launch_chromium(playwright_driver)
    yield from _page_in(browser, live_server)
    browser.close()


def _page_in(browser, live_server) -> Iterator:
    context = browser.new_context(
        base_url=live_server.url, viewport={"width": 1366, "height": 900}, accept_downloads=True
    )
    page = context.new_page()
    page.set_default_timeout(20_000)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.js_errors = errors
    # Every address the page went to, in order: a test can check a page it passed through
    # even when the page moved on before the test looked.
    visited: list[str] = []
    page.on("framenavigated", lambda frame: _note_address(page, frame, visited))
    page.visited = visited
    yield page
    context.close()


def _note_address(page, frame, visited: list[str]) -> None:
    if frame == page.main_frame:
        visited.append(frame.url)


@pytest.fixture
def worker(_media_root) -> Iterator[WorkerProcess]:
    """A real Celery worker sharing the live server's database and media folder."""
    purge_broker()
    process = WorkerProcess(_media_root).start()
    yield process
    process.stop()
