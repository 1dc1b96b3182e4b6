"""Moving files between our storage (local folder or S3) and the local disk the workers use."""

from __future__ import annotations

import hashlib
import shutil
import tempfile
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from django.core.files import File
from django.core.files.base import ContentFile
from django.core.files.storage import Storage
from django.db import transaction
from django.db.models.fields.files import FieldFile

COPY_CHUNK_BYTES = 1024 * 1024
MAX_DISPLAY_NAME_CHARS = 200


@contextmanager
def local_path(field_file: FieldFile, suffix: str = "") -> Iterator[Path]:
    """A path on this machine for a stored file: the file itself, or a temporary copy (S3)."""
    try:
        yield Path(field_file.path)
        return
    except NotImplementedError:
        pass  # remote storage: copy it down
    with tempfile.NamedTemporaryFile(suffix=suffix) as copy:
        with field_file.open("rb") as source:
            shutil.copyfileobj(source, copy, COPY_CHUNK_BYTES)
        copy.flush()
        yield Path(copy.name)


def store_path(field_file: FieldFile, name: str, path: Path) -> None:
    """Copy a local file into storage under `field_file`'s upload_to (does not save the row)."""
    with path.open("rb") as handle:
        field_file.save(name, File(handle), save=False)


def store_as(field_file: FieldFile, path: Path, name: str, content_type: str) -> str:
    """Store a local file under `name` in `field_file`'s storage, with this content type (S3
    keeps it with the object and answers with it); the name storage chose. The row is not
    changed."""
    with path.open("rb") as handle:
        content = File(handle)
        content.content_type = content_type  # read by django-storages; the browser's is ignored
        return field_file.storage.save(name, content)


def store_bytes(field_file: FieldFile, name: str, data: bytes) -> None:
    field_file.save(name, ContentFile(data), save=False)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(COPY_CHUNK_BYTES), b""):
            digest.update(chunk)
    return digest.hexdigest()


def delete_quietly(*field_files: FieldFile) -> None:
    """Remove stored files; a file already gone is fine (this runs on cleanup paths)."""
    for field_file in field_files:
        if field_file and field_file.name:
            delete_names_quietly(field_file.storage, field_file.name)


def delete_names_quietly(storage: Storage, *names: str) -> None:
    for name in names:
        with suppress(OSError):
            storage.delete(name)


def display_name(raw: str | None, fallback: str) -> str:
    """A file name safe to show: no control or bidi characters, NFC, bounded length.

    The stored name never comes from here (see `models._media_path`); this is for people.
    """
    text = unicodedata.normalize("NFC", raw or "")
    text = "".join(ch for ch in text if unicodedata.category(ch)[0] not in ("C", "Z") or ch == " ")
    text = " ".join(text.split()).strip(". ")
    if not text:
        return fallback
    if len(text) > MAX_DISPLAY_NAME_CHARS:
        _stem, dot, suffix = text.rpartition(".")
        keep = suffix[:10] if dot and len(suffix) <= 10 else ""
        text = text[: MAX_DISPLAY_NAME_CHARS - len(keep) - 2] + "…" + ("." + keep if keep else "")
    return text


def delete_when_committed(*field_files: FieldFile) -> None:
    """Remove stored files once the transaction that stopped referring to them has committed
    (a rollback keeps rows and files together)."""
    stored = [(field.storage, field.name) for field in field_files if field and field.name]

    def delete() -> None:
        for storage, name in stored:
            with suppress(OSError):
                storage.delete(name)

    transaction.on_commit(delete)
