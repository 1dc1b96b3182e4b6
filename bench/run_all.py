"""`make bench`: run every bench/bench_*.py and write bench/results.json.

Each benchmark prints one JSON object ({"name", "figures", "target", "met"}) as the last line of
its stdout. They run one after another (they measure time on a shared machine), each with a
time limit, and the whole run stops by itself within the budget: a benchmark still running at
its limit is stopped and recorded as not met, with the reason.

Usage: bench/run_all.py [--quick] [--only NAME ...] [--budget-s SECONDS]
With `--only`, the other benchmarks' last results stay in bench/results.json.
`--quick` (or BENCH_QUICK=1) is passed on to every benchmark; those that support it run smaller.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
RESULTS = BENCH_DIR / "results.json"
DEFAULT_BUDGET_S = 28 * 60
# The longest any one benchmark may take, whatever budget is left.
PER_BENCH_LIMIT_S = 12 * 60


def discover(only: list[str] | None) -> list[Path]:
    scripts = sorted(BENCH_DIR.glob("bench_*.py"))
    if only:
        scripts = [s for s in scripts if s.stem.removeprefix("bench_") in only or s.stem in only]
    return scripts


def run_one(script: Path, quick: bool, limit_s: float) -> dict:
    """Run one benchmark in its own process group; return its report or a failure record."""
    command = [sys.executable, str(script), *(["--quick"] if quick else [])]
    env = {**os.environ, **({"BENCH_QUICK": "1"} if quick else {})}
    started = time.monotonic()
    process = subprocess.Popen(
        command,
        cwd=BENCH_DIR.parent,
        env=env,
        stdout=subprocess.PIPE,
        stderr=None,  # progress goes straight to the console
        text=True,
        start_new_session=True,  # so a stop reaches gunicorn, locust and probes it started
    )
    try:
        stdout, _ = process.communicate(timeout=limit_s)
    except subprocess.TimeoutExpired:
        _stop_group(process)
        return _failure(script, f"stopped after {limit_s:.0f} s (time limit)", started)
    if process.returncode != 0:
        return _failure(script, f"exited with status {process.returncode}", started)
    result = _last_json_object(stdout)
    if result is None:
        return _failure(script, "printed no JSON object", started)
    result["seconds"] = round(time.monotonic() - started, 1)
    return result


def _stop_group(process: subprocess.Popen) -> None:
    for sig, wait_s in ((signal.SIGTERM, 20), (signal.SIGKILL, 10)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=wait_s)
            return
        except subprocess.TimeoutExpired:
            continue


def _last_json_object(stdout: str) -> dict | None:
    for line in reversed(stdout.strip().splitlines()):
        try:
            value = json.loads(line)
        except ValueError:
            continue
        if isinstance(value, dict) and "name" in value:
            return value
    return None


def _failure(script: Path, reason: str, started: float) -> dict:
    return {
        "name": script.stem.removeprefix("bench_"),
        "figures": {},
        "target": "",
        "met": False,
        "error": reason,
        "seconds": round(time.monotonic() - started, 1),
    }


def _with_earlier_results(fresh: list[dict]) -> list[dict]:
    """`--only` runs some benchmarks: the others keep their last results in the file."""
    try:
        earlier = json.loads(RESULTS.read_text())["results"]
    except (OSError, ValueError, KeyError):
        earlier = []
    by_name = {result["name"]: result for result in earlier}
    by_name.update({result["name"]: result for result in fresh})
    return sorted(by_name.values(), key=lambda result: result["name"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", default=os.environ.get("BENCH_QUICK") == "1"
    )
    parser.add_argument("--only", nargs="*", help="benchmark names, e.g. load hostile")
    parser.add_argument("--budget-s", type=float, default=DEFAULT_BUDGET_S)
    args = parser.parse_args(argv)
    deadline = time.monotonic() + args.budget_s
    results = []
    for script in discover(args.only):
        left = deadline - time.monotonic()
        if left < 30:
            results.append(_failure(script, "not run: the time budget was spent", time.monotonic()))
            continue
        print(f"== {script.name}", file=sys.stderr, flush=True)
        result = run_one(script, args.quick, min(PER_BENCH_LIMIT_S, left))
        results.append(result)
        verdict = "met" if result.get("met") else "NOT met"
        print(f"== {script.name}: {verdict} ({result['seconds']} s)", file=sys.stderr, flush=True)
    if args.only:
        results = _with_earlier_results(results)
    summary = {
        "quick": args.quick,
        "met": sum(1 for r in results if r.get("met")),
        "total": len(results),
        "results": results,
    }
    RESULTS.write_text(json.dumps(summary, indent=2) + "\n")
    print(f"wrote {RESULTS} ({summary['met']}/{summary['total']} targets met)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
