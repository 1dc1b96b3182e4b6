"""The simulator's settings: environment variables first, then explicit overrides."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path


@dataclass(frozen=True)
class SimulatorConfig:
    host: str = "127.0.0.1"
    port: int = 8765
    access_key: str = ""
    secret_key: str = ""
    proxy_token: str = ""
    task_seconds: float = 3.0  # submitted -> terminal, at least (the rendering may take longer)
    concurrency: int = 5  # tasks one account may have submitted or processing at once
    faults: str = ""  # see faults.py for the syntax
    files_dir: Path | None = None  # inputs, thumbnails and results; a temporary folder if None
    public_url: str = ""  # how callers reach us; http://host:port if empty
    hang_seconds: float = 30.0  # how long a `hang` fault keeps the connection silent
    blocking_timeout_s: float = 600.0  # the proxy's blocking call gives up after this
    # Benchmarks: every task's result is a copy of this video instead of a real rendering.
    prerendered_result: Path | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: object) -> SimulatorConfig:
        """The same variables the client reads; `overrides` that are not None win."""
        env = os.environ if env is None else env
        config = cls(
            access_key=env.get("KLING_ACCESS_KEY", ""),
            secret_key=env.get("KLING_SECRET_KEY", ""),
            proxy_token=env.get("LIPSYNC_PROXY_TOKEN", ""),
        )
        known = {field.name for field in fields(cls)}
        unknown = set(overrides) - known
        if unknown:
            raise TypeError(f"Unknown simulator settings: {', '.join(sorted(unknown))}")
        given = {name: value for name, value in overrides.items() if value is not None}
        return replace(config, **given)
