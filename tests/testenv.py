"""Environment for the test run, set before Django reads its settings (loaded with `-p`)."""

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

os.environ.setdefault("SECRET_KEY", "test-only-secret-key-not-for-production-0123456789abcdef")
os.environ.setdefault("DEBUG", "false")
os.environ.setdefault("LIPSYNC_VAR_DIR", str(ROOT / "var" / "test"))
os.environ.setdefault("LIPSYNC_ENGINE", "local")

# whitenoise warns about a missing STATIC_ROOT; tests serve static files from the finders.
(Path(os.environ["LIPSYNC_VAR_DIR"]) / "static").mkdir(parents=True, exist_ok=True)
