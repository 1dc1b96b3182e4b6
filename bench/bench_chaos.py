"""Benchmark: the chaos test's long run, with many more SIGKILLs than the test suite's 50.

Runs tests/test_chaos.py with LIPSYNC_CHAOS_KILLS (150 by default, 60 with --quick): tasks
keep flowing against the Kling simulator while two Celery workers are killed at random points
of submit, poll and download and restarted. The test asserts that every task ends, that the
engine made each task exactly once and that no stored file is orphaned; this script reports
its figures (kills by phase, tasks, time) as one JSON object.

    .venv/bin/python bench/bench_chaos.py [--quick] [--kills N] [--seed N]
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from common import ROOT, log, quick_mode, report


def option(name: str, default: int | None) -> int | None:
    if name in sys.argv:
        return int(sys.argv[sys.argv.index(name) + 1])
    return default


def main() -> None:
    kills = option("--kills", 60 if quick_mode() else 150)
    seed = option("--seed", None)
    with tempfile.TemporaryDirectory() as folder:
        figures_path = Path(folder) / "chaos.json"
        env = {
            **os.environ,
            "LIPSYNC_CHAOS_KILLS": str(kills),
            "LIPSYNC_CHAOS_REPORT": str(figures_path),
        }
        if seed is not None:
            env["LIPSYNC_CHAOS_SEED"] = str(seed)
        log(f"chaos: {kills} kills, running tests/test_chaos.py")
        command = [sys.executable, "-m", "pytest", "tests/test_chaos.py", "-q", "-x"]
        completed = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
        if completed.returncode != 0:
            log(completed.stdout[-6000:])
        figures = json.loads(figures_path.read_text()) if figures_path.exists() else {}
    passed = completed.returncode == 0
    figures["invariants_held"] = passed
    report(
        "chaos",
        figures,
        f">= {kills} SIGKILLs at random points of submit, poll and download: every task ends "
        "succeeded, the engine made each task once, no stored file is orphaned",
        passed and figures.get("kills", 0) >= kills,
    )


if __name__ == "__main__":
    main()
