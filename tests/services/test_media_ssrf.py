"""Address tricks against the app's two ways of downloading: URL import and result download.

URL import goes through the real view (`projects:url-import`) and the worker's service
(`fetch_imported`); result download through `pipeline.apply_engine_state` with an engine answer
whose result URL is the trick. Every trick is refused with a plain message, leaves no file and no
usable row, and opens no connection: any internet-family connect from this process fails the
test, except to the test's own "internet" server.

That server listens on 127.0.0.2, which these tests (only) count as a public address, so that
redirects, a slow drip and an oversized body can be served from this machine, while 127.0.0.1
and everything else private stays private. Names are resolved through a patched resolver.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from projects import fetch
from projects.engines.base import EngineTask, ResultVideo
from projects.fetch import INSIDE_NETWORK
from projects.models import LipSyncTask, MediaStatus, SourceVideo, TaskStatus
from projects.services import media as media_services
from projects.services import pipeline

pytestmark = pytest.mark.django_db

INTERNET_IP = "127.0.0.2"
INTERNET_NAME = "media.example.test"
NAMED = {
    "metadata.google.internal": ["169.254.169.254"],
    "private.example.test": ["10.1.2.3"],
    "router.example.test": ["192.168.0.1"],
    "cgnat.example.test": ["100.64.12.34"],
    "loop6.example.test": ["::1"],
    "mixed.example.test": ["93.184.216.34", "127.0.0.1"],
    "mapped.example.test": ["::ffff:10.0.0.5"],
    "127.0.0.1.nip.io": ["127.0.0.1"],
}
TRICKS = [
    "http://127.0.0.1/video.mp4",
    "http://127.1/video.mp4",
    "http://0x7f000001/video.mp4",
    "http://2130706433/video.mp4",
    "http://017700000001/video.mp4",
    "http://0177.0.0.1/video.mp4",
    "http://127.000.000.001:8000/video.mp4",
    "http://[::1]/video.mp4",
    "http://[::ffff:127.0.0.1]/video.mp4",
    "http://[::ffff:7f00:1]/video.mp4",
    "http://0.0.0.0/video.mp4",
    "http://0/video.mp4",
    "http://169.254.169.254/latest/meta-data/iam/",
    "http://[::ffff:a9fe:a9fe]/latest/meta-data/",
    "http://[64:ff9b::a9fe:a9fe]/",
    "http://[2002:7f00:1::]/video.mp4",
    "http://100.64.0.1/video.mp4",
    "http://10.0.0.1/video.mp4",
    "http://172.16.5.4/video.mp4",
    "http://192.168.1.1/video.mp4",
    "http://198.18.0.1/video.mp4",
    "http://224.0.0.1/video.mp4",
    "http://[fe80::1]/video.mp4",
    "http://[fc00::1]/video.mp4",
    "https://localhost/video.mp4",
    "http://LOCALHOST./video.mp4",
    *(f"http://{name}/video.mp4" for name in NAMED),
]
# Refused by the form: no row is ever created for them.
OTHER_SCHEMES = [
    "file:///etc/passwd",
    "gopher://127.0.0.1:70/_GET%20/",
    "ftp://example.com/video.mp4",
    "dict://127.0.0.1:11211/stat",
]


class _Internet(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args) -> None:
        """Quiet: test output is for results."""

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        route = getattr(self, "route_" + parts.path.strip("/").replace("-", "_"), None)
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            if route is None:
                self.send_error(404)
            else:
                route(parse_qs(parts.query))

    def route_redirect(self, query) -> None:
        self.send_response(302)
        self.send_header("Location", query["to"][0])
        self.send_header("Content-Length", "0")
        self.end_headers()

    def route_drip(self, query) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "100000")
        self.end_headers()
        for _ in range(100_000):
            self.wfile.write(b"z")
            self.wfile.flush()
            time.sleep(0.05)

    def route_endless(self, query) -> None:
        """No Content-Length: the body runs until the client hangs up."""
        self.send_response(200)
        self.send_header("Connection", "close")
        self.end_headers()
        for _ in range(10_000):
            self.wfile.write(b"x" * 65536)


@pytest.fixture(scope="module")
def internet() -> Iterator[str]:
    server = ThreadingHTTPServer((INTERNET_IP, 0), _Internet)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://{INTERNET_NAME}:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def network(monkeypatch, internet) -> list:
    """Our resolver and notion of "public", and a guard that records any other connection."""
    port = int(internet.rsplit(":", 1)[1])
    real_resolve, real_public = fetch.resolve_host, fetch.is_public_address
    names = {**NAMED, INTERNET_NAME: [INTERNET_IP]}
    monkeypatch.setattr(fetch, "resolve_host", lambda h, p: names.get(h) or real_resolve(h, p))
    monkeypatch.setattr(fetch, "is_public_address", lambda a: a == INTERNET_IP or real_public(a))
    attempts: list = []
    real_connect = socket.socket.connect

    def guarded(sock, address):
        if sock.family in (socket.AF_INET, socket.AF_INET6) and address[:2] != (INTERNET_IP, port):
            attempts.append(address)
            raise ConnectionRefusedError("only the test's internet server may be reached")
        return real_connect(sock, address)

    monkeypatch.setattr(socket.socket, "connect", guarded)
    return attempts


def stored_files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


# --- URL import ------------------------------------------------------------------------------


def import_url(client, project, url: str, kind: str = "video"):
    return client.post(
        reverse("projects:url-import", args=[project.pk]), {"url": url, "kind": kind}
    )


def run_import(row) -> SourceVideo:
    media_services.fetch_imported("video", row.pk)
    row.refresh_from_db()
    return row


def assert_refused_plainly(row, words: str) -> None:
    assert row.status == MediaStatus.REJECTED
    assert not row.file
    assert words in row.rejection_reason
    assert "Traceback" not in row.rejection_reason and "Error" not in row.rejection_reason


@pytest.mark.parametrize("url", TRICKS)
def test_url_import_refuses_the_trick(url, network, clients, project, users, _media_root):
    """Through the view: the form may refuse the address itself; the fetcher refuses the rest."""
    response = import_url(clients["editor"], project, url)
    assert response.status_code == 302
    row = SourceVideo.objects.first()
    if row is None:
        page = clients["editor"].get(response.url).content.decode()
        assert "web address" in page
        # Defence in depth: the same address handed straight to the service is refused too.
        row = media_services.import_from_url(
            project=project, user=users["editor"], url=url, kind="video"
        )
    row = run_import(row)
    assert_refused_plainly(row, INSIDE_NETWORK)
    assert network == []
    assert stored_files(_media_root) == []
    page = clients["editor"].get(reverse("projects:video-status", args=[row.pk]))
    assert page.status_code == 286
    assert INSIDE_NETWORK.replace("'", "&#x27;") in page.content.decode()


@pytest.mark.parametrize("url", OTHER_SCHEMES)
def test_url_import_form_refuses_other_schemes(url, network, clients, project):
    response = import_url(clients["editor"], project, url)
    assert response.status_code == 302
    page = clients["editor"].get(response.url).content.decode()
    assert "web address" in page
    assert not SourceVideo.objects.exists()
    assert network == []


@pytest.mark.parametrize(
    "target",
    [
        "http://127.0.0.1/x.mp4",
        "http://127.1:8000/",
        "http://169.254.169.254/",
        "http://localhost/",
    ],
)
def test_url_import_refuses_a_redirect_inside(target, network, internet, clients, project):
    import_url(clients["editor"], project, f"{internet}/redirect?to={target}")
    row = run_import(SourceVideo.objects.get())
    assert_refused_plainly(row, INSIDE_NETWORK)
    assert network == [], "the redirect's target must be refused before connecting"


def test_url_import_redirect_to_another_scheme_is_refused(network, internet, clients, project):
    import_url(clients["editor"], project, f"{internet}/redirect?to=file:///etc/passwd")
    row = run_import(SourceVideo.objects.get())
    assert_refused_plainly(row, "http:// or https://")


def test_url_import_slow_drip_is_cut_at_the_deadline(
    network, internet, clients, project, monkeypatch, _media_root
):
    monkeypatch.setattr(media_services, "URL_IMPORT_TIMEOUT_S", 1.5)
    import_url(clients["editor"], project, f"{internet}/drip")
    started = time.monotonic()
    row = run_import(SourceVideo.objects.get())
    assert time.monotonic() - started < 3.5
    assert_refused_plainly(row, "took longer than 1.5 s")
    assert stored_files(_media_root) == []


def test_url_import_oversized_body_is_cut_at_the_cap(
    network, internet, clients, project, monkeypatch, _media_root
):
    monkeypatch.setattr(media_services, "VIDEO_UPLOAD_CAP", 256 * 1024)
    import_url(clients["editor"], project, f"{internet}/endless")
    row = run_import(SourceVideo.objects.get())
    assert_refused_plainly(row, "larger than")
    assert stored_files(_media_root) == []


# --- Result download -------------------------------------------------------------------------


@pytest.fixture
def task_at_engine(project, users) -> LipSyncTask:
    """A task the (remote) engine is processing; its source video needs no file for this."""
    video = SourceVideo.objects.create(
        project=project, original_name="source.mp4", created_by=users["editor"]
    )
    return LipSyncTask.objects.create(
        project=project,
        video=video,
        kind="basic",
        engine="kling",
        external_task_id=str(uuid.uuid4()),
        engine_task_id="engine-1",
        status=TaskStatus.PROCESSING,
        submitted_at=timezone.now(),
        created_by=users["editor"],
    )


def engine_says_done(task: LipSyncTask, url: str) -> LipSyncTask:
    answer = EngineTask(
        task_id=task.engine_task_id,
        status="succeed",
        kind="basic",
        videos=[ResultVideo(id="v1", url=url)],
    )
    pipeline.apply_engine_state(task, answer)
    task.refresh_from_db()
    return task


def assert_result_refused(task: LipSyncTask, words: str, media_root: Path) -> None:
    assert task.status != TaskStatus.SUCCEED
    assert not task.result_file and not task.watermarked_result_file
    assert words in task.status_message
    assert "Traceback" not in task.status_message
    assert stored_files(media_root) == []
    assert stored_files(Path(settings.VAR_DIR) / "work" / str(task.pk)) == []


@pytest.mark.parametrize("url", TRICKS)
def test_result_download_refuses_the_trick(url, network, task_at_engine, _media_root):
    task = engine_says_done(task_at_engine, url)
    assert_result_refused(task, INSIDE_NETWORK, _media_root)
    assert network == []


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "file:///proc/self/environ",
        "gopher://127.0.0.1:70/_GET",
        "ftp://127.0.0.1/result.mp4",
    ],
)
def test_result_download_refuses_other_schemes(url, network, task_at_engine, _media_root):
    task = engine_says_done(task_at_engine, url)
    assert task.status != TaskStatus.SUCCEED and not task.result_file
    assert "Downloading the result failed" in task.status_message
    assert network == []


def test_result_file_url_cannot_climb_out_of_the_engine_folder(
    network, task_at_engine, _media_root
):
    workdir = Path(settings.LIPSYNC_ENGINE_WORKDIR)
    url = f"file://{workdir}/../../../../../../etc/passwd"
    task = engine_says_done(task_at_engine, url)
    assert_result_refused(task, "result is missing", _media_root)


def test_result_redirect_to_metadata_is_refused(network, internet, task_at_engine, _media_root):
    url = f"{internet}/redirect?to=http://169.254.169.254/latest/meta-data/"
    task = engine_says_done(task_at_engine, url)
    assert_result_refused(task, INSIDE_NETWORK, _media_root)
    assert network == []


def test_result_slow_drip_is_cut_at_the_deadline(
    network, internet, task_at_engine, monkeypatch, _media_root
):
    monkeypatch.setattr(pipeline, "RESULT_DOWNLOAD_TIMEOUT_S", 1.5)
    started = time.monotonic()
    task = engine_says_done(task_at_engine, f"{internet}/drip")
    assert time.monotonic() - started < 3.5
    assert_result_refused(task, "took longer than 1.5 s", _media_root)


def test_result_oversized_body_is_cut_at_the_cap(
    network, internet, task_at_engine, settings, _media_root
):
    settings.LIPSYNC_RESULT_MAX_BYTES = 256 * 1024
    task = engine_says_done(task_at_engine, f"{internet}/endless")
    assert_result_refused(task, "larger than", _media_root)


def test_enough_tricks_are_covered() -> None:
    assert len(TRICKS) >= 30
    for asked in ("127.1", "0x7f000001", "2130706433", "[::ffff:127.0.0.1]", "169.254.169.254"):
        assert any(asked in url for url in TRICKS)
    assert any("100.64.0.1" in url for url in TRICKS)
