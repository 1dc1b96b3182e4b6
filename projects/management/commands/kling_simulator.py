"""`manage.py kling_simulator`: serve the Kling-compatible simulator in the foreground."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandParser

from projects.engines.simulator import SimulatorConfig, serve


class Command(BaseCommand):
    help = (
        "Serve a Kling-compatible API (official and /kling proxy flavours) backed by the local "
        "engine. Point the app at it with LIPSYNC_ENGINE=kling KLING_BASE_URL=http://127.0.0.1:8765."
    )

    def add_arguments(self, parser: CommandParser) -> None:
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
        parser.add_argument("--files-dir", type=Path, default=None, help="Where files are kept.")
        parser.add_argument("--public-url", default=None, help="How callers reach this server.")

    def handle(self, *args: object, **options: object) -> None:
        config = SimulatorConfig.from_env(
            host=options["host"],
            port=options["port"],
            access_key=options["access_key"],
            secret_key=options["secret_key"],
            proxy_token=options["proxy_token"],
            task_seconds=options["task_seconds"],
            concurrency=options["concurrency"],
            faults=options["faults"],
            files_dir=options["files_dir"],
            public_url=options["public_url"],
        )
        serve(config, announce=self.stdout.write)
