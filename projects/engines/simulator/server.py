"""The simulator's HTTP side: routing, authentication, fault injection and answer shapes.

Paths under `/kling/` are the API proxy (static bearer token, the proxy's error shapes); all
others are Kling's official API (JWT). `/__sim__/…` administers the simulator and `/files/…`
serves face images and results; neither asks for credentials.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import socket
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

from projects.engines.base import TaskKind
from projects.engines.simulator import auth
from projects.engines.simulator.config import SimulatorConfig
from projects.engines.simulator.endpoints import RawAnswer, Request, Simulator
from projects.engines.simulator.errors import (
    ApiError,
    new_request_id,
    official_body,
    proxy_detail_error,
    proxy_error,
)
from projects.engines.simulator.faults import Fault

log = logging.getLogger(__name__)

PROXY_PREFIX = "/kling"
MAX_BODY_BYTES = 16 * 1024 * 1024  # Base64 of a 5 MB audio, with room to spare
FILE_TYPES = {".jpg": "image/jpeg", ".wav": "audio/wav", ".mp4": "video/mp4"}


@dataclass(frozen=True)
class Route:
    method: str
    pattern: re.Pattern[str]
    template: str  # for statistics: ids replaced by {task_id}
    scope: str  # which faults apply: identify, create, get, list, tts
    call: Callable[[Simulator, Request], object]
    proxy_only: bool = False


def _route(method: str, template: str, scope: str, call, *, proxy_only: bool = False) -> Route:
    pattern = re.escape(template).replace(r"\{task_id\}", r"(?P<task_id>[^/]+)")
    # One old client spells the path Identify-face: paths are matched without case.
    return Route(method, re.compile(f"^{pattern}$", re.I), template, scope, call, proxy_only)


ROUTES: tuple[Route, ...] = (
    _route("POST", "/v1/videos/identify-face", "identify", Simulator.identify_face),
    _route("POST", "/v1/videos/advanced-lip-sync", "create", Simulator.create_advanced),
    _route(
        "GET",
        "/v1/videos/advanced-lip-sync",
        "list",
        lambda s, r: s.list_tasks(r, TaskKind.ADVANCED),
    ),
    _route(
        "GET",
        "/v1/videos/advanced-lip-sync/{task_id}",
        "get",
        lambda s, r: s.get_task(r, TaskKind.ADVANCED),
    ),
    _route("POST", "/v1/videos/lip-sync", "create", Simulator.create_basic),
    _route("GET", "/v1/videos/lip-sync", "list", lambda s, r: s.list_tasks(r, TaskKind.BASIC)),
    _route(
        "GET", "/v1/videos/lip-sync/{task_id}", "get", lambda s, r: s.get_task(r, TaskKind.BASIC)
    ),
    _route("POST", "/lip-sync", "create", Simulator.create_proxy_flat, proxy_only=True),
    _route("POST", "/v1/audio/tts", "tts", Simulator.create_tts),
    _route("GET", "/v1/audio/tts", "tts", Simulator.list_tts),
    _route("GET", "/v1/audio/tts/{task_id}", "tts", Simulator.get_tts),
)


def find_route(method: str, path: str, proxy: bool) -> tuple[Route, str]:
    """The route and task id for a request; 1202 for a known path with the wrong method."""
    on_path = []
    for route in ROUTES:
        if route.proxy_only and not proxy:
            continue
        match = route.pattern.match(path)
        if match:
            on_path.append(route)
            if route.method == method:
                return route, match.groupdict().get("task_id") or ""
    if on_path:
        raise ApiError(1202, f"{method} is not a method of {path}.")
    raise ApiError(1203, f"No endpoint at {path}.")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, so dropped connections look as they do live
    server: SimulatorHTTPServer

    def log_message(self, format: str, *args: object) -> None:
        # Every request at INFO: an operator watching the simulator sees what the app asked.
        log.info("%s " + format, self.address_string(), *args)

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    # --- dispatch -----------------------------------------------------------------------------

    def _dispatch(self, method: str) -> None:
        url = urlsplit(self.path)
        request = Request(body=self._read_body(), query=dict(parse_qsl(url.query)))
        if url.path.startswith("/__sim__/"):
            self._admin(method, url.path.removeprefix("/__sim__/"), request)
        elif url.path.startswith("/files/") and method == "GET":
            self._file(url.path.removeprefix("/files/"))
        else:
            self._api(method, url.path, request)

    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(min(length, MAX_BODY_BYTES)) if length else b""

    def _api(self, method: str, path: str, request: Request) -> None:
        sim = self.server.sim
        proxy = path == PROXY_PREFIX or path.startswith(PROXY_PREFIX + "/")
        inner = path.removeprefix(PROXY_PREFIX) if proxy else path
        request_id = new_request_id()
        try:
            route, request.task_id = find_route(method, inner, proxy)
        except ApiError as error:
            sim.store.count_call(f"{method} {path}")
            self._error(error, request_id, proxy=proxy, gateway=True)
            return
        sim.store.count_call(f"{method} {PROXY_PREFIX if proxy else ''}{route.template}")
        try:
            self._authenticate(proxy)
            fault = sim.faults.take_request_fault(route.scope)
            if fault is not None and self._fault_before(fault):
                return
        except ApiError as error:
            self._error(error, request_id, proxy=proxy, gateway=True)
            return
        try:
            answer = route.call(sim, request)
        except ApiError as error:
            self._error(error, request_id, proxy=proxy, flat=route.proxy_only)
            return
        if fault is not None and self._fault_after(fault, request_id, proxy):
            return
        self._answer(answer, request_id)

    def _authenticate(self, proxy: bool) -> None:
        config, header = self.server.sim.config, self.headers.get("Authorization")
        if proxy:
            auth.check_proxy_token(header, expected=config.proxy_token)
        else:
            auth.check_jwt(
                header,
                access_key=config.access_key,
                secret_key=config.secret_key,
                now_s=self.server.sim.clock.now_s(),
            )

    # --- faults -------------------------------------------------------------------------------

    def _fault_before(self, fault: Fault) -> bool:
        """Apply a fault that acts before the work; True when it already answered."""
        if fault.delay_s:
            time.sleep(fault.delay_s)
            return False
        if fault.http_status is not None:
            self._bare(fault.http_status)
            return True
        if fault.code is not None and not fault.after_work:
            retry_after = 1 if fault.code in (1302, 1303) else None
            raise ApiError(fault.code, retry_after_s=retry_after)
        return False

    def _fault_after(self, fault: Fault, request_id: str, proxy: bool) -> bool:
        """Apply a fault that acts once the work is done; True when the answer is handled."""
        if fault.action == "hang":
            self.server.sim.stopping.wait(self.server.sim.config.hang_seconds)
            self._drop()
            return True
        if fault.action == "drop":
            self._drop()
            return True
        if fault.code is not None and fault.after_work:
            self._error(ApiError(fault.code), request_id, proxy=proxy, gateway=True)
            return True
        return False

    def _drop(self) -> None:
        """Close the connection without a word, as a crashed gateway would."""
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def _bare(self, status: int) -> None:
        body = f"{status} {self.responses.get(status, ('Error',))[0]}".encode()
        headers = {"Retry-After": "1"} if status in (429, 503) else {}
        self._send(status, body, "text/plain", headers)

    # --- answers ------------------------------------------------------------------------------

    def _answer(self, answer: object, request_id: str) -> None:
        if isinstance(answer, RawAnswer):
            self._json(answer.status, answer.body)
        else:
            self._json(200, official_body(0, "SUCCEED", request_id, answer))

    def _error(
        self,
        error: ApiError,
        request_id: str,
        *,
        proxy: bool,
        gateway: bool = False,
        flat: bool = False,
    ) -> None:
        """Official envelope; or the proxy's own shapes for its gateway and flat endpoint."""
        headers = {"Retry-After": f"{error.retry_after_s:g}"} if error.retry_after_s else {}
        if proxy and gateway:
            status, body = proxy_error(error.code, error.message)
        elif proxy and flat:
            status, body = proxy_detail_error(error.code, error.message)
        else:
            status, body = error.http_status, official_body(error.code, error.message, request_id)
        self._json(status, body, headers)

    def _json(self, status: int, body: object, headers: dict[str, str] | None = None) -> None:
        self._send(status, json.dumps(body).encode(), "application/json", headers or {})

    def _send(self, status: int, body: bytes, content_type: str, headers: dict[str, str]) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    # --- administration and files ---------------------------------------------------------

    def _admin(self, method: str, action: str, request: Request) -> None:
        try:
            result = self.server.sim.admin(method, action, request)
        except ApiError as error:
            self._json(error.http_status, {"error": error.message})
            return
        self._json(200, result)

    def _file(self, name: str) -> None:
        path = self.server.sim.files_dir / name
        if "/" in name or name.startswith(".") or not path.is_file():
            self._json(404, {"error": f"No file {name!r}."})
            return
        fault = self.server.sim.faults.take_file_fault()
        if fault is not None and self._fault_before(fault):
            return
        if fault is not None and fault.action == "drop":
            self._drop()
            return
        content_type = FILE_TYPES.get(Path(name).suffix, "video/mp4")
        self._send(200, path.read_bytes(), content_type, {})


class SimulatorHTTPServer(ThreadingHTTPServer):
    daemon_threads = True  # a hanging fault must not keep the process alive
    allow_reuse_address = True

    def __init__(self, config: SimulatorConfig) -> None:
        super().__init__((config.host, config.port), Handler)
        self.temp_dir = None
        files_dir = config.files_dir
        if files_dir is None:
            self.temp_dir = tempfile.TemporaryDirectory(prefix="kling-sim-")
            files_dir = Path(self.temp_dir.name)
        files_dir.mkdir(parents=True, exist_ok=True)
        host, port = self.server_address[:2]
        self.url = f"http://{host}:{port}"
        self.sim = Simulator(config, files_dir, config.public_url or self.url)

    def server_close(self) -> None:
        """Stop, and remove the temporary folder with every uploaded and made file in it."""
        self.sim.stopping.set()
        super().server_close()
        if self.temp_dir is not None:
            log.info("Removing the simulator's files in %s", self.temp_dir.name)
            self.temp_dir.cleanup()


class RunningSimulator:
    """A simulator serving on a background thread: for tests and scripts."""

    def __init__(self, config: SimulatorConfig) -> None:
        self.server = SimulatorHTTPServer(config)
        self.url = self.server.url
        self.sim = self.server.sim
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(timeout=5)


def start(config: SimulatorConfig) -> RunningSimulator:
    """Serve on a background thread (port 0 picks a free one) and return at once."""
    return RunningSimulator(config)


def serve(config: SimulatorConfig, announce: Callable[[str], None] = log.info) -> None:
    """Serve in the foreground until interrupted; `announce` hears the address once bound."""
    server = SimulatorHTTPServer(config)
    announce(f"Kling simulator listening on {server.url} (Ctrl+C stops it)")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
