"""The secret key `make run` keeps under the var folder."""

from __future__ import annotations

from lipsync_web import secret_key


def test_the_secret_key_is_made_once_and_kept(tmp_path):
    path = tmp_path / "var" / secret_key.FILE_NAME
    first = secret_key.read_or_create(path)
    assert len(first) >= 50
    assert secret_key.read_or_create(path) == first
    assert path.stat().st_mode & 0o777 == 0o600
