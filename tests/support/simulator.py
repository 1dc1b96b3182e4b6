"""Fixtures for the Kling simulator tests: the simulator on a free loopback port, a tiny
static "internet" serving test media, a callback receiver, real media made with PyAV, and
hand-made credentials.
"""

from __future__ import annotations

import json
import math
import threading
import time
import wave
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import partial
from http.server import BaseHTTPRequestHandler, SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import jwt
import numpy as np
import pytest

from projects.engines.simulator import RunningSimulator, SimulatorConfig, start
from tests.support.facevideos import ASTRONAUT, Appearance, write_face_video

ACCESS_KEY = "test-access-key-0123456789"
SECRET_KEY = "test-secret-key-0123456789abcdef0123456789"
PROXY_TOKEN = "test-proxy-token-0123456789"
TASK_SECONDS = 0.6


def make_jwt(
    *,
    iss: str = ACCESS_KEY,
    secret: str = SECRET_KEY,
    exp_in: float = 1800,
    nbf_in: float = -5,
    now: float | None = None,
    algorithm: str = "HS256",
) -> str:
    now = time.time() if now is None else now
    claims = {"iss": iss, "exp": int(now + exp_in), "nbf": int(now + nbf_in)}
    return jwt.encode(claims, secret, algorithm=algorithm)


def official_headers(token: str | None = None) -> dict[str, str]:
    return {"Authorization": f"Bearer {token or make_jwt()}"}


PROXY_HEADERS = {"Authorization": f"Bearer {PROXY_TOKEN}"}


# --- media -----------------------------------------------------------------------------------


def write_tone_wav(path: Path, duration_ms: int, *, rate: int = 16_000, channels: int = 1) -> Path:
    """A speech-like signal: a 180 Hz tone with syllable-rate amplitude bursts and some noise."""
    count = duration_ms * rate // 1000
    t = np.arange(count) / rate
    envelope = 0.5 + 0.5 * np.sin(2 * math.pi * 4 * t) ** 2
    noise = np.random.default_rng(3).normal(0, 0.05, count)
    signal = (0.4 * np.sin(2 * math.pi * 180 * t) * envelope + noise).clip(-1, 1)
    samples = (signal * 32767).astype("<i2")
    if channels > 1:
        samples = np.repeat(samples[:, None], channels, axis=1)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(channels)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(samples.tobytes())
    return path


@dataclass(frozen=True)
class Media:
    root: Path
    base_url: str

    def url(self, name: str) -> str:
        return f"{self.base_url}/{name}"

    def path(self, name: str) -> Path:
        return self.root / name


ADVANCED_VIDEO_MS = 3_500
FACE_WINDOW = (500, 3_500)  # the astronaut is on screen from 0.5 s to the end


def _make_media(root: Path) -> None:
    write_face_video(
        root / "face.mp4",
        [Appearance(ASTRONAUT, FACE_WINDOW[0], FACE_WINDOW[1])],
        duration_ms=ADVANCED_VIDEO_MS,
        size=(640, 512),
        fps=12,
    )
    write_face_video(
        root / "basic.mp4",
        [Appearance(ASTRONAUT, 0, 3_000)],
        duration_ms=3_000,
        size=(720, 720),
        fps=12,
    )
    # 640x360 is too small for Kling (each side >= 512 px).
    write_face_video(
        root / "small.mp4", [Appearance(ASTRONAUT, 0, 3_000)], duration_ms=3_000, size=(640, 360)
    )
    write_face_video(root / "short.mp4", [], duration_ms=1_500, size=(640, 512))
    write_tone_wav(root / "speech.wav", 3_000)
    write_tone_wav(root / "short.wav", 1_500)
    write_tone_wav(root / "long.wav", 61_000, rate=8_000)
    write_tone_wav(root / "big.wav", 30_000, rate=48_000, channels=2)  # 5.5 MB
    (root / "notes.txt").write_text("not an audio file\n" * 10)


class _QuietFiles(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        """Silence: the test output is for test results."""


@pytest.fixture(scope="session")
def media(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Media]:
    """Test media on a static loopback server: the 'internet' Kling downloads from."""
    root = tmp_path_factory.mktemp("media")
    _make_media(root)
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(_QuietFiles, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield Media(root=root, base_url=f"http://127.0.0.1:{server.server_address[1]}")
    server.shutdown()
    server.server_close()


# --- the simulator -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def simulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningSimulator]:
    running = start(
        SimulatorConfig(
            port=0,
            access_key=ACCESS_KEY,
            secret_key=SECRET_KEY,
            proxy_token=PROXY_TOKEN,
            task_seconds=TASK_SECONDS,
            concurrency=5,
            files_dir=tmp_path_factory.mktemp("simfiles"),
            hang_seconds=5,
        )
    )
    yield running
    running.stop()


@pytest.fixture
def sim(simulator: RunningSimulator) -> Iterator[RunningSimulator]:
    """The module's simulator, with no faults, its default limits and its clock on time."""
    admin = simulator.url + "/__sim__"
    httpx.delete(f"{admin}/faults")
    httpx.post(f"{admin}/config", json={"concurrency": 5, "task_seconds": TASK_SECONDS})
    httpx.post(f"{admin}/clock", json={"offset_s": 0})
    yield simulator
    httpx.delete(f"{admin}/faults")


def set_faults(sim: RunningSimulator, spec: str) -> None:
    response = httpx.post(f"{sim.url}/__sim__/faults", json={"faults": spec})
    response.raise_for_status()


def stats(sim: RunningSimulator) -> dict:
    return httpx.get(f"{sim.url}/__sim__/stats").json()


_SESSIONS: dict[str, dict] = {}


def identified(sim: RunningSimulator, media: Media, name: str = "face.mp4") -> dict:
    """identify-face's data for a test video, asked once per simulator (it runs dlib)."""
    key = f"{sim.url} {name}"
    if key not in _SESSIONS:
        response = httpx.post(
            f"{sim.url}/v1/videos/identify-face",
            headers=official_headers(),
            json={"video_url": media.url(name)},
            timeout=120,
        )
        assert response.status_code == 200, response.text
        _SESSIONS[key] = response.json()["data"]
    return _SESSIONS[key]


def wait_for_status(
    sim: RunningSimulator, path: str, statuses: set[str], *, headers=None, timeout_s: float = 120
) -> dict:
    """Poll a task until its status is one of `statuses`; return its data."""
    deadline = time.monotonic() + timeout_s
    while True:
        response = httpx.get(f"{sim.url}{path}", headers=headers or official_headers())
        data = response.json()["data"]
        if data["task_status"] in statuses or time.monotonic() > deadline:
            return data
        time.sleep(0.1)


# --- callbacks -----------------------------------------------------------------------------------


@dataclass
class CallbackInbox:
    url: str
    bodies: list[dict] = field(default_factory=list)
    arrived: threading.Condition = field(default_factory=threading.Condition)

    def wait_for(self, predicate, timeout_s: float = 120) -> list[dict]:
        with self.arrived:
            self.arrived.wait_for(lambda: predicate(self.bodies), timeout=timeout_s)
            return list(self.bodies)


@pytest.fixture
def callbacks() -> Iterator[CallbackInbox]:
    """A tiny HTTP server that keeps every JSON body POSTed to it."""
    inbox = CallbackInbox(url="")

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length))
            with inbox.arrived:
                inbox.bodies.append(body)
                inbox.arrived.notify_all()
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            """Silence."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    inbox.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield inbox
    server.shutdown()
    server.server_close()
