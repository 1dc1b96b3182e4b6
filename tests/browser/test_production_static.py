"""The timeline editor as production serves it: DEBUG off, collected and hashed static files.

collectstatic runs with the production storage (lipsync_web/staticfiles.py) into a temporary
STATIC_ROOT; the app is served from there by whitenoise, behind the real middleware (content
security policy included), with a real worker probing the uploads and finding the faces. The
page must load every script by its hashed name, the modules' imports included, and the editor
must work with no error in the console (a CSP refusal or a missing file logs one).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.core.handlers.wsgi import WSGIHandler
from django.core.management import call_command
from django.core.servers.basehttp import ThreadedWSGIServer, WSGIRequestHandler
from playwright.sync_api import expect

from lipsync_web import settings as project_settings
from tests.support.browser import log_in, screenshot
from tests.support.facevideos import ASTRONAUT, Appearance, write_face_video
from tests.support.simulator import write_tone_wav

pytestmark = pytest.mark.django_db(transaction=True)

WORKER_TIMEOUT_MS = 120_000
# A collected name with its content's hash, as ManifestStaticFilesStorage writes it.
HASHED = re.compile(r"\.[0-9a-f]{12}\.(js|css)$")
TIMELINE_MODULES = Path(__file__).resolve().parents[2] / "static" / "js" / "timeline"


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def production_server(settings, _media_root, tmp_path) -> Iterator[str]:
    """The whole app with DEBUG off, serving static files collected by the production storage."""
    settings.DEBUG = False
    settings.STATIC_ROOT = tmp_path / "static"
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": project_settings.STORAGES["staticfiles"],
    }
    settings.WHITENOISE_USE_FINDERS = False
    assert settings.STORAGES["staticfiles"]["BACKEND"].endswith("ProductionStaticFilesStorage")
    call_command("collectstatic", interactive=False, verbosity=0)
    server = ThreadedWSGIServer(("127.0.0.1", 0), _QuietHandler)
    server.set_app(WSGIHandler())  # whitenoise lists STATIC_ROOT's files when it starts
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def footage(tmp_path) -> dict[str, Path]:
    presenter = tmp_path / "presenter.mp4"
    write_face_video(
        presenter, [Appearance(ASTRONAUT, 500, 5_500)], duration_ms=6_000, size=(640, 512), fps=25
    )
    return {"video": presenter, "audio": write_tone_wav(tmp_path / "new line.wav", 4_000)}


def upload(page, kind: str, path: Path) -> None:
    page.locator(f"#{kind}-file").set_input_files(str(path))
    label = "video" if kind == "video" else "audio clip"
    page.get_by_role("button", name=f"Upload {label}").click()


@pytest.fixture
def production_page(browser, production_server) -> Iterator:
    """A page on the production server that notes errors and the scripts it loads."""
    context = browser.new_context(
        base_url=production_server, viewport={"width": 1440, "height": 900}
    )
    page = context.new_page()
    page.set_default_timeout(20_000)
    page.problems, page.scripts = [], {}

    def note_console(message) -> None:
        if message.type == "error":  # CSP refusals and failed loads are logged as errors
            page.problems.append(f"console: {message.text}")

    def note_script(response) -> None:
        if response.request.resource_type == "script":
            page.scripts[response.url.removeprefix(production_server)] = response.status

    page.on("pageerror", lambda error: page.problems.append(f"page error: {error}"))
    page.on("console", note_console)
    page.on("response", note_script)
    yield page
    context.close()


def test_the_editor_works_with_hashed_modules_and_the_policy(
    production_page, worker, project, footage
):
    page = production_page
    log_in(page, "editor")
    page.goto(project.get_absolute_url())
    upload(page, "audio", footage["audio"])
    expect(page.locator("#audio-heading ~ ul .badge").first).to_have_text(
        "Ready", timeout=WORKER_TIMEOUT_MS
    )
    upload(page, "video", footage["video"])
    page.wait_for_url(re.compile(r"/videos/\d+/"))
    expect(page.locator(".face-card").first).to_be_visible(timeout=WORKER_TIMEOUT_MS)

    page.scripts.clear()
    response = page.reload()  # the workspace with the timeline, loaded afresh
    policy = dict(
        part.split(None, 1)
        for part in response.headers["content-security-policy"].split(";")
        if part.strip()
    )
    assert policy["script-src"] == "'self'"  # module scripts and their imports need no more
    entry = page.locator("script[type=module][src*='/timeline/']").get_attribute("src")
    assert re.fullmatch(r"/static/js/timeline/main\.[0-9a-f]{12}\.js", entry)

    page.locator(".face-card").first.click()
    page.get_by_label("Audio clip", exact=True).select_option(label="new line.wav")
    block = page.locator("[data-tl-block]")
    expect(block).to_be_visible()
    expect(page.locator("[data-tl-clip-wave] [part~='region-handle-right']")).to_have_attribute(
        "role", "slider"
    )
    page.locator("input[name=sound_insert]").fill("0.500")
    page.locator("input[name=sound_insert]").dispatch_event("change")
    block.focus()
    page.keyboard.press("Shift+ArrowRight")
    assert page.locator("input[name=sound_insert]").input_value() == "1.500"
    expect(page.locator("[data-tl-status]")).to_contain_text("✓ Ready")
    expect(page.get_by_role("button", name="Submit for lip-sync")).to_be_enabled()
    screenshot(page, "production-timeline")

    loaded = page.scripts
    assert all(HASHED.search(path) for path in loaded if path.startswith("/static/")), loaded
    assert all(status == 200 for status in loaded.values()), loaded
    # The entry module, every module it imports (and theirs) and rules.js, each by its hash.
    modules = {path.name for path in TIMELINE_MODULES.glob("*.js")}
    timeline = {
        HASHED.sub(r".\1", path).rsplit("/", 1)[1] for path in loaded if "/timeline/" in path
    }
    assert timeline == modules
    assert any(path.startswith("/static/js/rules.") for path in loaded), loaded
    assert page.problems == []
