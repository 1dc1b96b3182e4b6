"""`python -m projects.engines.simulator`: serve the Kling simulator in the foreground.

The simulator is not the app and needs none of its settings (no SECRET_KEY, no database): this
entry point, `make simulator` and `manage.py kling_simulator` all run `main` below.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from projects.engines.simulator.config import SimulatorConfig
from projects.engines.simulator.server import serve

DESCRIPTION = (
    "Serve a Kling-compatible API (official and /kling proxy flavours) backed by the local "
    "engine. Point the app at it with LIPSYNC_ENGINE=kling KLING_BASE_URL=http://127.0.0.1:8765."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default=None, help="Interface to listen on (127.0.0.1).")
    parser.add_argument("--port", type=int, default=None, help="Port to listen on (8765).")
    parser.add_argument("--access-key", default=None, help="Overrides KLING_ACCESS_KEY.")
    parser.add_argument("--secret-key", default=None, help="Overrides KLING_SECRET_KEY.")
    parser.add_argument("--proxy-token", default=None, help="Overrides LIPSYNC_PROXY_TOKEN.")
    parser.add_argument(
        "--task-seconds", type=float, default=None, help="Least time a task takes (3)."
    )
    parser.add_argument(
        "--concurrency", type=int, default=None, help="Running tasks allowed per account (5)."
    )
    parser.add_argument(
        "--faults",
        default=None,
        help="Faults to inject, e.g. '1302x3@create,hang@create,dup-callbackxinf'.",
    )
    parser.add_argument(
        "--files-dir",
        type=Path,
        default=None,
        help="Where files are kept (default: a temporary folder removed when it stops).",
    )
    parser.add_argument("--public-url", default=None, help="How callers reach this server.")


def config_from(options: dict) -> SimulatorConfig:
    names = (
        "host",
        "port",
        "access_key",
        "secret_key",
        "proxy_token",
        "task_seconds",
        "concurrency",
        "faults",
        "files_dir",
        "public_url",
    )
    return SimulatorConfig.from_env(**{name: options.get(name) for name in names})


def main(argv: Sequence[str] | None = None, *, prog: str | None = None) -> None:
    parser = argparse.ArgumentParser(prog=prog, description=DESCRIPTION)
    add_arguments(parser)
    options = vars(parser.parse_args(argv))
    logging.basicConfig(
        level=os.environ.get("LOG_LEVEL", "INFO").upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # A process manager stops with SIGTERM: end as Ctrl-C does, so the temporary folder goes.
    signal.signal(signal.SIGTERM, _interrupt)
    serve(config_from(options), announce=_announce)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _announce(line: str) -> None:
    print(line, flush=True)  # the one line a person starting it waits for


if __name__ == "__main__":
    main(sys.argv[1:], prog="python -m projects.engines.simulator")
