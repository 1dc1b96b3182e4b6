"""`make run` is the product: it serves as production does, from a fresh var folder.

The test starts `make serve` (what `make run` runs once installed) with nothing set but a fresh
LIPSYNC_VAR_DIR and a port, as a newcomer would on a fresh clone, and browses it: DEBUG is off,
the secret key was made once under the var folder, static files were collected and are served by
their hashed names, and a wrong address gets our own calm 404 page.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import expect

from lipsync_web import secret_key
from tests.support.browser import screenshot

ROOT = Path(__file__).resolve().parents[2]
ADMIN_PASSWORD = "make-run-admin-password-0123"
# Settings the test run itself uses; the served app must not inherit them.
TEST_RUN_VARIABLES = ("DATABASE_URL", "CELERY_BROKER_URL", "SECRET_KEY", "DEBUG", "MEDIA_ROOT")
START_TIMEOUT_S = 120


@dataclass
class Served:
    url: str
    var_dir: Path
    log: Path


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_until_up(url: str, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"make serve stopped:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    pytest.fail(f"make serve did not answer within {START_TIMEOUT_S} s:\n{log.read_text()[-3000:]}")


@pytest.fixture
def served(tmp_path) -> Iterator[Served]:
    var_dir = tmp_path / "var"
    port = _free_port()
    env = {name: value for name, value in os.environ.items() if name not in TEST_RUN_VARIABLES}
    env.update(
        LIPSYNC_VAR_DIR=str(var_dir),
        LIPSYNC_ADMIN_PASSWORD=ADMIN_PASSWORD,
        LIPSYNC_ENGINE="local",
    )
    log = tmp_path / "make-serve.log"
    with log.open("w") as output:
        process = subprocess.Popen(
            ["make", "--no-print-directory", "serve", f"PY={sys.executable}", f"PORT={port}"],
            cwd=ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, stopped as one below
        )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(url, process, log)
        yield Served(url=url, var_dir=var_dir, log=log)
    finally:
        os.killpg(process.pid, signal.SIGTERM)  # runstack stops its web, worker and beat
        try:
            process.wait(timeout=40)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def test_make_run_serves_as_production_from_a_fresh_clone(browser, served):
    key_file = served.var_dir / secret_key.FILE_NAME
    assert key_file.exists(), "make run keeps its secret key under the var folder"
    assert key_file.stat().st_mode & 0o077 == 0, "the key file is readable by its owner only"
    assert secret_key.read_or_create(key_file) == key_file.read_text().strip()

    context = browser.new_context(base_url=served.url, viewport={"width": 1366, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    failed: list[str] = []
    page.on("response", lambda r: failed.append(r.url) if r.status >= 400 else None)

    response = page.goto("/accounts/login/")
    assert response.status == 200
    stylesheet = page.locator("link[rel=stylesheet]").first.get_attribute("href")
    assert re.search(r"/static/css/app\.[0-9a-f]{12}\.css$", stylesheet), stylesheet
    page.get_by_label("Username").fill("admin")
    page.get_by_label("Password").fill(ADMIN_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/projects/")
    page.get_by_label("Project name").fill("First try")
    page.get_by_role("button", name="Create project").click()
    expect(page.get_by_role("heading", name="First try")).to_be_visible()
    assert page.evaluate("() => getComputedStyle(document.body).margin") == "0px"  # styled
    assert failed == [] and errors == []

    missing = page.goto("/projects/987654/")
    assert missing.status == 404
    expect(page.get_by_role("heading", name="We cannot find that page")).to_be_visible()
    expect(page.locator("header.topbar")).to_be_visible()
    text = page.locator("body").inner_text()
    assert "DEBUG" not in text and "URLconf" not in text and "Traceback" not in text
    screenshot(page, "not-found")
    context.close()
