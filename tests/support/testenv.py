"""Environment for the test run, set before Django reads its settings (loaded with `-p`).

Each run gets its own var folder (database file, broker folder, engine work folder), so that
two runs on one machine do not trample each other; it is removed when the run ends.
"""

import atexit
import os
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

if "LIPSYNC_VAR_DIR" not in os.environ:
    run_dir = ROOT / "var" / "test" / f"run-{os.getpid()}"
    os.environ["LIPSYNC_VAR_DIR"] = str(run_dir)
    atexit.register(shutil.rmtree, run_dir, ignore_errors=True)
os.environ.setdefault("SECRET_KEY", "test-only-secret-key-not-for-production-0123456789abcdef")
os.environ.setdefault("DEBUG", "false")
os.environ.setdefault("LIPSYNC_ENGINE", "local")

# whitenoise warns about a missing STATIC_ROOT; tests serve static files from the finders.
(Path(os.environ["LIPSYNC_VAR_DIR"]) / "static").mkdir(parents=True, exist_ok=True)
