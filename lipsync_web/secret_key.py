"""The secret key of one machine: made once, kept in the var folder, read on every start.

`make run` serves the app as production does (DEBUG off), where Django needs a SECRET_KEY.
Without one in the environment, `python -m lipsync_web.secret_key` prints the key kept in
`$LIPSYNC_VAR_DIR/secret_key` (`var/` by default), making it the first time. Sessions and signed
links then survive a restart, and the key never leaves the machine.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

FILE_NAME = "secret_key"
KEY_BYTES = 50


def default_var_dir() -> Path:
    """The same folder settings.VAR_DIR names, without loading the settings (they need the key)."""
    return Path(os.environ.get("LIPSYNC_VAR_DIR") or Path(__file__).resolve().parent.parent / "var")


def read_or_create(path: Path) -> str:
    """The key in `path`; a new random one written there (readable by its owner only) if none."""
    try:
        return _read(path)
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(KEY_BYTES)
    try:
        handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _read(path)  # another start made it a moment ago: use that one
    with os.fdopen(handle, "w") as file:
        file.write(key + "\n")
    return key


def _read(path: Path) -> str:
    key = path.read_text().strip()
    if not key:
        raise SystemExit(f"{path} is empty: delete it to have a new secret key made.")
    return key


if __name__ == "__main__":
    print(read_or_create(default_var_dir() / FILE_NAME))
