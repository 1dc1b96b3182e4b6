"""Environment for the test run, set before Django reads its settings (loaded with `-p`).

Each run gets its own var folder (database file, broker folder, engine work folder), so that
two runs on one machine do not trample each other; it is removed when the run ends.
"""

import atexit
import os
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# Parallel workers (pytest-xdist) inherit the run's folder and each take one of their own
# inside it: they share nothing, not even the broker's folder.
_worker = os.environ.get("PYTEST_XDIST_WORKER")
if "LIPSYNC_VAR_DIR" not in os.environ or (_worker and "LIPSYNC_RUN_VAR_DIR" in os.environ):
    run_dir = Path(
        os.environ.get("LIPSYNC_RUN_VAR_DIR") or ROOT / "var/test" / f"run-{os.getpid()}"
    )
    if not _worker:
        os.environ["LIPSYNC_RUN_VAR_DIR"] = str(run_dir)
    own_dir = run_dir / _worker if _worker else run_dir
    os.environ["LIPSYNC_VAR_DIR"] = str(own_dir)
    atexit.register(shutil.rmtree, own_dir, ignore_errors=True)
os.environ.setdefault("SECRET_KEY", "test-only-secret-key-not-for-production-0123456789abcdef")
os.environ.setdefault("DEBUG", "false")
os.environ.setdefault("LIPSYNC_ENGINE", "local")

# whitenoise warns about a missing STATIC_ROOT; tests serve static files from the finders.
(Path(os.environ["LIPSYNC_VAR_DIR"]) / "static").mkdir(parents=True, exist_ok=True)
