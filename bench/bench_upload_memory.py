"""Upload memory: how much the web process grows while big uploads arrive.

gunicorn (one sync worker) serves the app on loopback with a fresh SQLite database. A client
streams multipart bodies from a generator (it never holds the file either) while a sampler reads
the worker's RSS with psutil every 5 ms. Scenarios:

* 3 GB declared: the Content-Length is above the 2 GB video cap, refused before reading;
* 1 GB chunked: no Content-Length at all, so nothing tells the server the size in advance;
* just over the cap: declared within the cap's envelope, cut by the streaming byte counter;
* 90 MB: accepted, streamed to a temporary file and stored.

Target: peak RSS growth of the worker < 30 MB in every scenario. Prints one JSON object.
"""

from __future__ import annotations

import http.client
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

import psutil
from common import (
    Gunicorn,
    app_environment,
    fresh_var_dir,
    log,
    report,
    session_cookie_for,
    setup_django,
)

MB = 1024 * 1024
TARGET_GROWTH_MB = 30
CHUNK = os.urandom(MB)  # one block, sent again and again: the client holds 1 MB, not 1 GB
BOUNDARY = "----memory-bench-boundary-3f9a"
CSRF_SECRET = "b" * 32


@dataclass
class Outcome:
    status: int | None
    peak_growth_mb: float
    seconds: float
    client_growth_mb: float


class PeakSampler:
    """Samples a process's RSS in a thread; `peak` is the highest value seen."""

    def __init__(self, pid: int, interval_s: float = 0.005) -> None:
        self.process = psutil.Process(pid)
        self.interval_s = interval_s
        self.baseline = self.process.memory_info().rss
        self.peak = self.baseline
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> PeakSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.process.memory_info().rss)
            time.sleep(self.interval_s)

    @property
    def growth_mb(self) -> float:
        return round((self.peak - self.baseline) / MB, 1)


def multipart_parts(name: str, size: int) -> tuple[bytes, Iterator[bytes], bytes]:
    head = (
        f"--{BOUNDARY}\r\n"
        f'Content-Disposition: form-data; name="file"; filename="{name}"\r\n'
        "Content-Type: video/mp4\r\n\r\n"
    ).encode()
    tail = f"\r\n--{BOUNDARY}--\r\n".encode()

    def body() -> Iterator[bytes]:
        sent = 0
        while sent < size:
            piece = CHUNK[: min(MB, size - sent)]
            sent += len(piece)
            yield piece

    return head, body(), tail


def upload(server: Gunicorn, path: str, cookie: str, size: int, *, chunked: bool) -> int | None:
    """Stream one upload; returns the HTTP status, or None if the server hung up before it."""
    head, body, tail = multipart_parts("big.mp4", size)
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=300)
    connection.putrequest("POST", path)
    connection.putheader("Content-Type", f"multipart/form-data; boundary={BOUNDARY}")
    connection.putheader("Cookie", f"sessionid={cookie}; csrftoken={CSRF_SECRET}")
    connection.putheader("X-CSRFToken", CSRF_SECRET)
    connection.putheader("HX-Request", "true")
    if chunked:
        connection.putheader("Transfer-Encoding", "chunked")
    else:
        connection.putheader("Content-Length", str(len(head) + size + len(tail)))
    connection.endheaders()
    try:
        for piece in (head, *body, tail):
            connection.send(b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece)
        if chunked:
            connection.send(b"0\r\n\r\n")
    except (BrokenPipeError, ConnectionResetError):
        pass  # the server refused and closed; its answer may still be readable
    try:
        return connection.getresponse().status
    except (ConnectionError, http.client.HTTPException):
        return None
    finally:
        connection.close()


def measure(server: Gunicorn, path: str, cookie: str, size: int, *, chunked: bool) -> Outcome:
    worker = server.worker_pids()[0]
    client_before = psutil.Process().memory_info().rss
    started = time.monotonic()
    with PeakSampler(worker) as sampler:
        status = upload(server, path, cookie, size, chunked=chunked)
        time.sleep(0.2)  # a last sample after the answer
    client_growth = (psutil.Process().memory_info().rss - client_before) / MB
    return Outcome(status, sampler.growth_mb, round(time.monotonic() - started, 2), client_growth)


def main() -> None:
    var_dir = fresh_var_dir("upload-memory")
    env = app_environment(var_dir)
    env["FILE_UPLOAD_TEMP_DIR"] = str(var_dir / "upload-tmp")
    (var_dir / "upload-tmp").mkdir()
    setup_django(env)
    from django.contrib.auth import get_user_model

    from projects.services import membership
    from projects.services.media import VIDEO_UPLOAD_CAP

    user = get_user_model().objects.create_user("uploader")
    project = membership.create_project(name="Memory", owner=user)
    cookie = session_cookie_for(user)
    path = f"/projects/{project.pk}/videos/upload/"
    server = Gunicorn(env, workers=1).start()
    scenarios = {
        "declared_3gb_refused": (3 * 1024 * MB, False, 413),
        "chunked_1gb_refused": (1024 * MB, True, 411),
        "just_over_cap_refused": (VIDEO_UPLOAD_CAP + 40 * 1024, False, 413),
        "accepted_90mb": (90 * MB, False, 200),
    }
    figures: dict = {}
    try:
        _warm_up(server, path, cookie)
        for name, (size, chunked, expected) in scenarios.items():
            log(f"upload memory: {name}")
            outcome = measure(server, path, cookie, size, chunked=chunked)
            figures[name] = {
                "bytes": size,
                "status": outcome.status,
                "expected_status": expected,
                "worker_peak_growth_mb": outcome.peak_growth_mb,
                "client_growth_mb": round(outcome.client_growth_mb, 1),
                "seconds": outcome.seconds,
            }
    finally:
        server.stop()
    figures["temp_files_left"] = len(list((var_dir / "upload-tmp").iterdir()))
    met = figures["temp_files_left"] == 0 and all(
        entry["worker_peak_growth_mb"] < TARGET_GROWTH_MB
        and entry["status"] == entry["expected_status"]
        for key, entry in figures.items()
        if key in scenarios
    )
    report(
        "upload_memory",
        figures,
        f"web worker RSS growth < {TARGET_GROWTH_MB} MB while 3 GB is refused at the 2 GB cap "
        "and while 90 MB is accepted; the right answer each time; no temporary file left",
        met,
    )


def _warm_up(server: Gunicorn, path: str, cookie: str) -> None:
    """One small upload first, so imports and caches are not counted as upload memory."""
    for _ in range(2):
        upload(server, path, cookie, 64 * 1024, chunked=False)


if __name__ == "__main__":
    main()
