"""Every command line the README shows works as written on a fresh clone.

The README's command lines are read from the README itself (code blocks and inline code), so a
new one fails `test_every_readme_command_is_checked` until it is checked here. The clone is
the repository's tracked files copied to a temporary folder with no `var/` and no settings in
the environment; `.venv` is the one these tests run in (making a new one would only repeat
pip's work). Long-running commands are started and stopped; the others run in a short form
(`make -n`, `--help`).
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
PROGRAMS = ("make", ".venv/bin/python", "python", "manage.py", "gunicorn", "celery")
# Settings of the test run that a newcomer's shell would not have.
TEST_RUN_VARIABLES = (
    "DATABASE_URL",
    "CELERY_BROKER_URL",
    "SECRET_KEY",
    "DEBUG",
    "MEDIA_ROOT",
    "DJANGO_SETTINGS_MODULE",
    "LIPSYNC_ENGINE",
    "PUBLIC_BASE_URL",
)
START_TIMEOUT_S = 120

pytestmark = pytest.mark.slow


def readme_commands(text: str) -> list[str]:
    """The command lines in the README: shell blocks' lines and inline code that runs something."""
    found: list[str] = []
    for block in re.findall(r"```sh\n(.*?)```", text, re.S):
        for line in block.splitlines():
            line = line.split("  #", 1)[0].strip()
            if line:
                found.append(line)
    prose = re.sub(r"```.*?```", "", text, flags=re.S)
    for span in re.findall(r"`([^`]+)`", prose):
        line = " ".join(span.split())
        if _program(line) is not None:
            found.append(line)
    return list(dict.fromkeys(found))


def _split(line: str) -> tuple[dict[str, str], list[str]]:
    """Leading NAME=value assignments, and the command after them."""
    words = shlex.split(line)
    env: dict[str, str] = {}
    while words and re.fullmatch(r"[A-Z_][A-Z0-9_]*=.*", words[0]):
        name, value = words.pop(0).split("=", 1)
        env[name] = value
    return env, words


def _program(line: str) -> str | None:
    try:
        _, words = _split(line)
    except ValueError:
        return None
    if words and words[0] in PROGRAMS and (len(words) > 1 or words[0] == "make"):
        return words[0]
    return None


COMMANDS = readme_commands(README.read_text())


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def clone(tmp_path_factory) -> Path:
    """The tracked files in a new folder: what `git clone` gives, plus our `.venv`."""
    folder = tmp_path_factory.mktemp("clone") / "lipsync-web"
    folder.mkdir()
    tracked = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        check=True,
        capture_output=True,
    ).stdout.split(b"\0")
    for name in filter(None, tracked):
        source, target = ROOT / name.decode(), folder / name.decode()
        if source.is_file():
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(source.read_bytes())
            target.chmod(source.stat().st_mode)
    (folder / ".venv").symlink_to(Path(sys.prefix))
    return folder


def newcomer_env(var_dir: Path, **extra: str) -> dict[str, str]:
    env = {name: value for name, value in os.environ.items() if name not in TEST_RUN_VARIABLES}
    env = {name: value for name, value in env.items() if not name.startswith("KLING_")}
    env.update(LIPSYNC_VAR_DIR=str(var_dir), **extra)
    return env


def _installed_stamp(tmp_path: Path) -> str:
    """`make`'s install stamp, given as done: the clone's `.venv` is already installed."""
    stamp = tmp_path / "installed"
    stamp.touch()
    return f"RUN_STAMP={stamp}"


def test_the_readme_shows_the_commands_we_check():
    assert "KLING_ACCESS_KEY=ak KLING_SECRET_KEY=sk make simulator" in COMMANDS
    assert ".venv/bin/python manage.py kling_simulator --port 8765" in COMMANDS
    assert any("LIPSYNC_ENGINE=proxy" in line for line in COMMANDS)


@pytest.mark.parametrize("line", COMMANDS)
def test_every_readme_command_is_checked(line):
    assert _checker(line) is not None, f"No check for the README's command {line!r}"


def _checker(line: str):
    env, words = _split(line)
    if words[:2] == ["make", "simulator"] or "kling_simulator" in words:
        return "simulator"
    if words[:2] == ["make", "run"] and env.get("LIPSYNC_ENGINE") in ("kling", "proxy"):
        return "remote-run"
    if words[0] == "make":
        return "make-dry-run"
    return "help" if words[0] in ("manage.py", "celery", "gunicorn", "python") else None


# --- the simulator, started as written and stopped ------------------------------------------


def _serve_until(
    argv: list[str], cwd: Path, env: dict[str, str], log: Path, ready: str
) -> subprocess.Popen:
    with log.open("w") as output:
        process = subprocess.Popen(
            argv, cwd=cwd, env=env, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
        )
    deadline = time.monotonic() + START_TIMEOUT_S
    while ready not in log.read_text():
        if process.poll() is not None or time.monotonic() > deadline:
            _stop(process)
            pytest.fail(f"{' '.join(argv)} did not start:\n{log.read_text()[-3000:]}")
        time.sleep(0.3)
    return process


def _stop(process: subprocess.Popen) -> int:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGINT)
    try:
        return process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        return process.wait()


SIMULATOR_LINES = [line for line in COMMANDS if _checker(line) == "simulator"]


@pytest.mark.parametrize("line", SIMULATOR_LINES)
def test_the_simulator_starts_as_written_and_cleans_up(clone, tmp_path, line):
    env_given, words = _split(line)
    port = _free_port()
    if words[0] == "make":
        words = [*words, f"SIMULATOR_PORT={port}", _installed_stamp(tmp_path)]
    else:
        words = [str(port) if word == "8765" else word for word in words]
    env = newcomer_env(tmp_path / "var", TMPDIR=str(tmp_path), **env_given)
    log = tmp_path / "simulator.log"
    process = _serve_until(words, clone, env, log, "listening on")
    try:
        answer = httpx.get(f"http://127.0.0.1:{port}/v1/videos/advanced-lip-sync/1", timeout=5)
        assert answer.json()["code"] in (1000, 1001, 1002)  # it asks for credentials
        assert [p for p in tmp_path.iterdir() if p.name.startswith("kling-sim-")]
    finally:
        _stop(process)
    text = log.read_text()
    assert "SECRET_KEY" not in text and "Traceback" not in text, text
    assert "GET /v1/videos/advanced-lip-sync/1" in text  # each request is logged at INFO
    assert not [p for p in tmp_path.iterdir() if p.name.startswith("kling-sim-")]


def test_the_simulator_removes_its_files_when_terminated(clone, tmp_path):
    port = _free_port()
    env = newcomer_env(tmp_path / "var", TMPDIR=str(tmp_path), KLING_ACCESS_KEY="ak")
    argv = [".venv/bin/python", "manage.py", "kling_simulator", "--port", str(port)]
    process = _serve_until(argv, clone, env, tmp_path / "sim.log", "listening on")
    os.killpg(process.pid, signal.SIGTERM)
    assert process.wait(timeout=30) == 0
    assert not [p for p in tmp_path.iterdir() if p.name.startswith("kling-sim-")]


# --- the app on a remote engine: PUBLIC_BASE_URL follows PORT -------------------------------


REMOTE_RUN_LINES = [line for line in COMMANDS if _checker(line) == "remote-run"]


@pytest.mark.parametrize("line", REMOTE_RUN_LINES)
def test_the_app_on_the_simulator_starts_and_is_reached_on_its_port(clone, tmp_path, line):
    env_given, words = _split(line)
    port = _free_port()
    env = newcomer_env(tmp_path / "var", LIPSYNC_ADMIN_PASSWORD="readme-admin-0123", **env_given)
    argv = [*words, f"PORT={port}", _installed_stamp(tmp_path)]
    process = _serve_until(argv, clone, env, tmp_path / "run.log", "Serving http://")
    try:
        text = (tmp_path / "run.log").read_text()
        assert f"The engine reaches this app at http://127.0.0.1:{port}" in text, text
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.5)
        else:
            pytest.fail("The app did not answer on its port")
    finally:
        _stop(process)


# --- the others, in a short form ---------------------------------------------------------------


def _short_form(words: list[str], tmp_path: Path) -> list[str]:
    if words[0] == "make":
        return ["make", "-n", *words[1:]]
    if words[0] == "python" and words[1:3] == ["-m", "tests.support.mouthpreview"]:
        return [sys.executable, *words[1:], str(tmp_path / "mouths.png")]
    if words[0] == "python" and words[1] == "-m":
        return [sys.executable, *words[1:], "--help"]
    if words[0] in ("manage.py", ".venv/bin/python"):
        rest = words[1:] if words[0] == "manage.py" else words[2:]
        return [sys.executable, "manage.py", rest[0], "--help"]
    if words[0] == "celery":
        return [sys.executable, "-m", "celery", *words[1:4], "--help"]
    if words[0] == "gunicorn":
        return [sys.executable, "-m", "gunicorn", *words[1:], "--check-config"]
    raise AssertionError(f"No short form for {words}")


OTHER_LINES = [line for line in COMMANDS if _checker(line) in ("make-dry-run", "help")]


@pytest.mark.parametrize("line", OTHER_LINES)
def test_the_other_commands_run(clone, tmp_path, line):
    env_given, words = _split(line)
    # Production commands are shown with the production settings around them.
    env = newcomer_env(tmp_path / "var", SECRET_KEY="readme-" + "k" * 50, **env_given)
    done = subprocess.run(
        _short_form(words, tmp_path),
        cwd=clone,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, f"{line}:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
