"""The safe fetcher against real HTTP servers on 127.0.0.1 and against address tricks.

No test here opens a connection anywhere but this machine's loopback: the tricks are refused
before connecting (socket.create_connection is made to fail the test if it is reached), and
names that "resolve to" private addresses do so through a patched resolver.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from projects import fetch
from projects.fetch import INSIDE_NETWORK, FetchError, fetch_to_file, is_public_address

BODY = bytes(range(256)) * 400  # 100 KiB
LOOPBACK = frozenset({"127.0.0.1"})


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    seen_hosts: list[str] = []

    def log_message(self, *args) -> None:  # keep test output quiet
        pass

    def do_GET(self) -> None:
        _Handler.seen_hosts.append(self.headers.get("Host", ""))
        parts = urlsplit(self.path)
        route = getattr(self, "route_" + parts.path.strip("/").replace("-", "_"), None)
        if route is None:
            self._send(404, b"missing")
            return
        # The client hangs up on drips and oversized bodies, as it should.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            route(parse_qs(parts.query))

    def route_file(self, query) -> None:
        self._send(200, BODY, "video/mp4")

    def route_redirect(self, query) -> None:
        self.send_response(302)
        self.send_header("Location", query["to"][0])
        self.send_header("Content-Length", "0")
        self.end_headers()

    def route_loop(self, query) -> None:
        self.route_redirect({"to": ["/loop"]})

    def route_endless(self, query) -> None:
        """No Content-Length: the body runs until the client hangs up."""
        self.send_response(200)
        self.send_header("Connection", "close")
        self.end_headers()
        for _ in range(10_000):
            self.wfile.write(b"x" * 65536)

    def route_declared_big(self, query) -> None:
        self.send_response(200)
        self.send_header("Content-Length", str(10 * 1024 * 1024))
        self.end_headers()
        self.wfile.write(b"y" * 1024)

    def route_drip(self, query) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "1000")
        self.end_headers()
        for _ in range(1000):
            self.wfile.write(b"z")
            self.wfile.flush()
            time.sleep(0.05)

    def route_silent(self, query) -> None:
        time.sleep(3)  # never answers in time

    def _send(self, status: int, body: bytes, content_type: str = "text/plain") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def no_connections(monkeypatch: pytest.MonkeyPatch) -> list:
    """Fail loudly if anything tries to open a TCP connection."""
    attempts: list = []

    def refuse(address, *args, **kwargs):
        attempts.append(address)
        raise AssertionError(f"a connection to {address} was attempted")

    monkeypatch.setattr(socket, "create_connection", refuse)
    return attempts


def _files(directory: Path) -> list[str]:
    return sorted(path.name for path in directory.iterdir())


def test_fetches_from_an_allowed_loopback_host(server: str, tmp_path: Path) -> None:
    result = fetch_to_file(
        f"http://{server}/file",
        tmp_path / "v.mp4",
        max_bytes=1 << 20,
        allowed_private_hosts=LOOPBACK,
    )
    assert result.path.read_bytes() == BODY
    assert result.size == len(BODY)
    assert result.content_type == "video/mp4"
    assert result.final_url == f"http://{server}/file"
    assert _files(tmp_path) == ["v.mp4"]


def test_loopback_is_refused_without_the_allowance(server: str, tmp_path: Path) -> None:
    with pytest.raises(FetchError) as caught:
        fetch_to_file(f"http://{server}/file", tmp_path / "v.mp4", max_bytes=1 << 20)
    assert caught.value.message == INSIDE_NETWORK
    assert _files(tmp_path) == []


def test_follows_redirects_and_reports_the_final_address(server: str, tmp_path: Path) -> None:
    url = f"http://{server}/redirect?to=/redirect%3Fto%3D/file"
    result = fetch_to_file(
        url, tmp_path / "v.mp4", max_bytes=1 << 20, allowed_private_hosts=LOOPBACK
    )
    assert result.final_url == f"http://{server}/file"
    assert result.path.read_bytes() == BODY


def test_redirect_to_loopback_is_checked_again_and_refused(server: str, tmp_path: Path) -> None:
    port = server.split(":")[1]
    url = f"http://localhost:{port}/redirect?to=http://127.0.0.1:{port}/file"
    with pytest.raises(FetchError) as caught:
        fetch_to_file(
            url,
            tmp_path / "v.mp4",
            max_bytes=1 << 20,
            allowed_private_hosts=frozenset({"localhost"}),
        )
    assert caught.value.message == INSIDE_NETWORK
    assert _files(tmp_path) == []


def test_redirect_to_the_metadata_service_is_refused(server: str, tmp_path: Path) -> None:
    url = f"http://{server}/redirect?to=http://169.254.169.254/latest/meta-data/"
    with pytest.raises(FetchError) as caught:
        fetch_to_file(url, tmp_path / "v.mp4", max_bytes=1 << 20, allowed_private_hosts=LOOPBACK)
    assert caught.value.message == INSIDE_NETWORK


def test_redirect_to_another_scheme_is_refused(server: str, tmp_path: Path) -> None:
    url = f"http://{server}/redirect?to=file:///etc/passwd"
    with pytest.raises(FetchError, match="http:// or https://"):
        fetch_to_file(url, tmp_path / "v.mp4", max_bytes=1 << 20, allowed_private_hosts=LOOPBACK)
    assert _files(tmp_path) == []


def test_endless_redirects_stop_after_five(server: str, tmp_path: Path) -> None:
    with pytest.raises(FetchError, match="more than 5 redirects"):
        fetch_to_file(
            f"http://{server}/loop",
            tmp_path / "v.mp4",
            max_bytes=1 << 20,
            allowed_private_hosts=LOOPBACK,
        )


def test_body_beyond_the_cap_is_cut_and_nothing_is_left(server: str, tmp_path: Path) -> None:
    started = time.monotonic()
    with pytest.raises(FetchError, match="larger than 1 MB"):
        fetch_to_file(
            f"http://{server}/endless",
            tmp_path / "v.mp4",
            max_bytes=1 << 20,
            allowed_private_hosts=LOOPBACK,
        )
    assert time.monotonic() - started < 5  # stopped at the cap, not at the end of the body
    assert _files(tmp_path) == []


def test_declared_size_beyond_the_cap_is_refused_before_reading(
    server: str, tmp_path: Path
) -> None:
    with pytest.raises(FetchError, match="larger than 1 MB"):
        fetch_to_file(
            f"http://{server}/declared-big",
            tmp_path / "v.mp4",
            max_bytes=1 << 20,
            allowed_private_hosts=LOOPBACK,
        )
    assert _files(tmp_path) == []


@pytest.mark.parametrize("route", ["drip", "silent"])
def test_slow_server_is_cut_at_the_deadline(server: str, tmp_path: Path, route: str) -> None:
    started = time.monotonic()
    with pytest.raises(FetchError) as caught:
        fetch_to_file(
            f"http://{server}/{route}",
            tmp_path / "v.mp4",
            max_bytes=1 << 20,
            total_timeout_s=1,
            allowed_private_hosts=LOOPBACK,
        )
    elapsed = time.monotonic() - started
    assert caught.value.message == "The download took longer than 1 s and was stopped."
    assert 0.9 <= elapsed < 1.6
    assert _files(tmp_path) == []


def test_error_status_is_explained(server: str, tmp_path: Path) -> None:
    with pytest.raises(FetchError, match="answered 404"):
        fetch_to_file(
            f"http://{server}/nothing",
            tmp_path / "v.mp4",
            max_bytes=1 << 20,
            allowed_private_hosts=LOOPBACK,
        )
    assert _files(tmp_path) == []


def test_connection_is_pinned_to_the_vetted_address(
    server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The name is resolved once, we connect to that address, and the Host header keeps the name."""
    port = int(server.split(":")[1])
    lookups: list[str] = []

    def resolver(host: str, port: int) -> list[str]:
        lookups.append(host)
        return ["127.0.0.1"]

    monkeypatch.setattr(fetch, "resolve_host", resolver)
    _Handler.seen_hosts.clear()
    result = fetch_to_file(
        f"http://files.test:{port}/file",
        tmp_path / "v.mp4",
        max_bytes=1 << 20,
        allowed_private_hosts=frozenset({"files.test"}),
    )
    assert result.size == len(BODY)
    assert lookups == ["files.test"]
    assert _Handler.seen_hosts == [f"files.test:{port}"]


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "gopher://127.0.0.1:70/_GET",
        "ftp://example.com/video.mp4",
        "javascript:alert(1)",
        "//example.com/video.mp4",
        "dict://127.0.0.1:11211/stat",
    ],
)
def test_other_schemes_are_refused(url: str, tmp_path: Path, no_connections: list) -> None:
    with pytest.raises(FetchError, match="http:// or https://"):
        fetch_to_file(url, tmp_path / "v.mp4", max_bytes=1 << 20)
    assert no_connections == []


def test_credentials_in_the_address_are_refused(tmp_path: Path, no_connections: list) -> None:
    with pytest.raises(FetchError, match="user name or password"):
        fetch_to_file("http://user:secret@example.com/v.mp4", tmp_path / "v.mp4", max_bytes=10)


NUMERIC_TRICKS = [
    "http://127.0.0.1/",
    "http://127.1/",
    "http://0x7f000001/",
    "http://2130706433/",
    "http://017700000001/",
    "http://0177.0.0.1/",
    "http://0x7f.0.0.1/",
    "http://127.000.000.001/",
    "http://[::1]/",
    "http://[::ffff:127.0.0.1]/",
    "http://[::ffff:7f00:1]/",
    "http://[0:0:0:0:0:ffff:127.0.0.1]/",
    "http://[::127.0.0.1]/",
    "http://0.0.0.0/",
    "http://0/",
    "http://[::]/",
    "http://169.254.169.254/latest/meta-data/",
    "http://[::ffff:a9fe:a9fe]/",
    "http://[64:ff9b::a9fe:a9fe]/",
    "http://[2002:7f00:1::]/",
    "http://[2002:a9fe:a9fe::1]/",
    "http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/",
    "http://10.0.0.1/",
    "http://172.16.5.4/",
    "http://192.168.1.1/",
    "http://100.64.0.1/",
    "http://100.100.100.200/",
    "http://192.0.0.1/",
    "http://198.18.0.1/",
    "http://224.0.0.1/",
    "http://240.0.0.1/",
    "http://255.255.255.255/",
    "http://[fe80::1]/",
    "http://[fc00::1]/",
    "http://[ff02::1]/",
    "https://localhost/",
    "http://LOCALHOST./",
    "http://127.0.0.1:8000/admin/",
]

NAMED_TRICKS = {
    "metadata.google.internal": ["169.254.169.254"],
    "rebind.example.com": ["10.1.2.3"],
    "mixed.example.com": ["93.184.216.34", "127.0.0.1"],
    "v6.example.com": ["::1"],
    "cgnat.example.com": ["100.64.12.34"],
    "internal.example.com": ["192.168.0.10"],
    "127.0.0.1.nip.io": ["127.0.0.1"],
    "mapped.example.com": ["::ffff:10.0.0.5"],
}


@pytest.mark.parametrize("url", NUMERIC_TRICKS + [f"http://{name}/" for name in NAMED_TRICKS])
def test_address_tricks_are_refused_before_connecting(
    url: str, tmp_path: Path, no_connections: list, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_resolver = fetch.resolve_host

    def resolver(host: str, port: int) -> list[str]:
        return NAMED_TRICKS.get(host) or real_resolver(host, port)

    monkeypatch.setattr(fetch, "resolve_host", resolver)
    with pytest.raises(FetchError) as caught:
        fetch_to_file(url, tmp_path / "v.mp4", max_bytes=1 << 20)
    assert caught.value.message == INSIDE_NETWORK
    assert no_connections == []
    assert _files(tmp_path) == []


def test_enough_tricks_are_covered() -> None:
    assert len(NUMERIC_TRICKS) + len(NAMED_TRICKS) >= 30


@pytest.mark.parametrize(
    "address", ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "::ffff:8.8.8.8", "2002:808:808::1"]
)
def test_public_addresses_are_public(address: str) -> None:
    assert is_public_address(address)


@pytest.mark.parametrize("address", ["not an address", "", "::ffff:192.168.0.1", "64:ff9b::7f00:1"])
def test_non_addresses_and_hidden_private_ones_are_not_public(address: str) -> None:
    assert not is_public_address(address)
