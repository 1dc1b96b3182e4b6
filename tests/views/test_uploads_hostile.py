"""200 hostile files through the real upload view and the real probe service.

For each: no server error and no traceback text in any answer or rejection reason; the file is
refused at upload or its row ends `rejected` (never `ready`) with a reason a person can read;
nothing is left in the media folder or the temporary folders; and no outbound connection is
made, neither by this process (a socket guard) nor by the probe subprocesses (every network
reference points at a counting loopback canary, and the probes run under strace).
"""

from __future__ import annotations

import socket
import subprocess
import sys
import tempfile
import time
import types
from pathlib import Path

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse

from projects.mediakit import probe as probe_module
from projects.mediakit.errors import MediaError
from projects.mediakit.probe import probe_media
from projects.models import AudioClip, MediaStatus, SourceVideo
from projects.services import media as media_services
from tests.support import hostile

pytestmark = pytest.mark.django_db

CASES = hostile.plan(200)
# Text that means a Python or FFmpeg internal leaked to the person.
LEAK_MARKERS = ("Traceback", "Exception", "Errno", "av.error", 'File "', "NoneType", "line ")


@pytest.fixture(scope="module")
def canary():
    running = hostile.Canary().start()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def workshop(tmp_path_factory, canary) -> hostile.Workshop:
    return hostile.Workshop(tmp_path_factory.mktemp("hostile-sources"), canary.url)


@pytest.fixture
def tracer(tmp_path) -> hostile.ConnectTracer:
    return hostile.ConnectTracer(tmp_path / "connect-traces")


@pytest.fixture
def traced_probes(monkeypatch, tracer):
    """Every probe subprocess runs under the tracer."""

    def run(command, **kwargs):
        return subprocess.run(tracer.wrap(list(command)), **kwargs)

    fake = types.SimpleNamespace(run=run, TimeoutExpired=subprocess.TimeoutExpired)
    monkeypatch.setattr(probe_module, "subprocess", fake)
    return tracer


@pytest.fixture
def no_outbound(monkeypatch):
    """Fail on any internet-family connect from this process, except to the test database."""
    attempts: list[object] = []
    allowed = _database_address()
    real_connect = socket.socket.connect

    def guarded(sock, address):
        if sock.family in (socket.AF_INET, socket.AF_INET6) and address[:2] != allowed:
            attempts.append(address)
            raise ConnectionRefusedError("outbound connections are forbidden in this test")
        return real_connect(sock, address)

    monkeypatch.setattr(socket.socket, "connect", guarded)
    return attempts


def _database_address() -> tuple | None:
    params = connection.settings_dict
    if params["ENGINE"].endswith("sqlite3"):
        return None
    return (params.get("HOST") or "127.0.0.1", int(params.get("PORT") or 5432))


@pytest.fixture
def scratch(settings, tmp_path, monkeypatch) -> list[Path]:
    """Private upload-temp and temp folders, so anything left behind is seen."""
    upload_tmp = tmp_path / "upload-tmp"
    other_tmp = tmp_path / "tmp"
    upload_tmp.mkdir()
    other_tmp.mkdir()
    settings.FILE_UPLOAD_TEMP_DIR = str(upload_tmp)
    monkeypatch.setattr(tempfile, "tempdir", str(other_tmp))
    return [upload_tmp, other_tmp]


def browser_filename(name: str) -> str:
    """How a browser writes a file name into multipart: UTF-8, with these three escaped."""
    return name.replace('"', "%22").replace("\r", "%0D").replace("\n", "%0A")


def post_upload(client: Client, project, case: hostile.HostileCase, path: Path, htmx: bool):
    """A multipart body built by hand, so the name arrives exactly as a browser sends it."""
    boundary = "----hostile-boundary-7MA4YWxkTrZu0gW"
    filename = browser_filename(case.upload_name)
    head = (
        f"--{boundary}\r\n"
        f'Content-Disposition: form-data; name="file"; filename="{filename}"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode("utf-8", "surrogatepass")
    body = head + path.read_bytes() + f"\r\n--{boundary}--\r\n".encode()
    url = reverse(f"projects:{case.kind}-upload", args=[project.pk])
    extra = {"HTTP_HX_REQUEST": "true"} if htmx else {}
    return client.generic(
        "POST", url, body, content_type=f"multipart/form-data; boundary={boundary}", **extra
    )


def files_under(*folders: Path) -> list[Path]:
    return [p for folder in folders if folder.exists() for p in folder.rglob("*") if p.is_file()]


def assert_plain(text: str, where: str) -> None:
    leaked = [marker for marker in LEAK_MARKERS if marker in text]
    assert not leaked, f"{where} shows internals ({leaked}): {text[:400]}"


def probe_row(case: hostile.HostileCase):
    model = SourceVideo if case.kind == "video" else AudioClip
    row = model.objects.first()
    if row is None:
        return None
    if case.kind == "video":
        media_services.probe_video(row.pk)
    else:
        media_services.probe_audio(row.pk)
    row.refresh_from_db()
    return row


def status_page(client: Client, case: hostile.HostileCase, row) -> str:
    name = "projects:video-status" if case.kind == "video" else "projects:audio-status"
    response = client.get(reverse(name, args=[row.pk]))
    assert response.status_code == 286, "a rejected file's status stops polling"
    return response.content.decode()


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_hostile_upload_is_refused_cleanly(
    case, workshop, canary, traced_probes, no_outbound, scratch, clients, project, _media_root
):
    sources = scratch[0].parent / "sources"
    sources.mkdir()
    source = workshop.write(case, sources)
    hits_before = len(canary.hits)
    htmx = CASES.index(case) % 2 == 0
    response = post_upload(clients["editor"], project, case, source, htmx)
    assert response.status_code < 500
    assert_plain(response.content.decode(errors="replace"), "the upload answer")

    row = probe_row(case)
    if row is None:  # refused at the door: empty, unreadable, or no file part at all
        if htmx:
            assert response.status_code in (400, 413)
            assert 'role="alert"' in response.content.decode(), "a message, not a bare 400"
        else:
            assert response.status_code == 302
    else:
        assert row.status == MediaStatus.REJECTED, f"{case.id} was accepted: {row.media_info}"
        assert row.rejection_reason, "a rejection always says why"
        assert_plain(row.rejection_reason, "the rejection reason")
        assert not (row.file or getattr(row, "poster", "") or getattr(row, "thumbnail_strip", ""))
        assert not any(ch in row.original_name for ch in "\x00\n\r\t\u202e\u200b")
        page = status_page(clients["editor"], case, row)
        assert_plain(page, "the status page")
        assert row.rejection_reason.split(".")[0] in page.replace("&#x27;", "'")

    assert files_under(_media_root, *scratch) == []
    assert canary.hits[hits_before:] == [], "a probe followed a network reference"
    assert no_outbound == []
    assert traced_probes.connections() == []


def test_the_watchers_see_a_connection_from_a_child_process(canary, tracer):
    """The canary and the tracer would catch a connecting probe: shown with a child that does."""
    before = len(canary.hits)
    port = int(canary.url.rsplit(":", 1)[1])
    code = f"import socket; socket.create_connection(('127.0.0.1', {port})).sendall(b'GET')"
    subprocess.run(tracer.wrap([sys.executable, "-c", code]), check=True, timeout=20)
    assert _wait_for(lambda: len(canary.hits) > before)
    if tracer.available:
        assert any(f"htons({port})" in line for line in tracer.connections())


def _wait_for(condition, timeout_s: float = 5) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


# How a careless reader would open them: each then reads the genuine file it references.
CARELESS_OPENINGS = {
    "mov-external-dref": (None, {"enable_drefs": "1", "use_absolute_path": "1"}),
    "hls-as-mp4": ("hls", {}),
    "ffconcat-as-mp4": ("concat", {"safe": "0"}),
}


@pytest.mark.parametrize("family", list(CARELESS_OPENINGS))
def test_references_are_genuine_when_followed(family, workshop, tmp_path):
    """The corpus is honest: followed carelessly, these files yield the pictures they point at."""
    import av

    case = next(c for c in CASES if c.family == family and c.variant == 0)
    path = workshop.write(case, tmp_path)
    forced, options = CARELESS_OPENINGS[family]
    with av.open(str(path), format=forced, options=options) as followed:
        assert sum(1 for packet in followed.demux(video=0) if packet.size) > 10
    with pytest.raises(MediaError):
        probe_media(path, expect="video")
