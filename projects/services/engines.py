"""Which engine runs a task, and how its calls are recorded as ApiCall rows.

The engines themselves know nothing of Django; this module builds them from settings and
gives each a recorder bound to the task or video the call is made for.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db.models.fields.files import FieldFile

from projects import medialinks
from projects.engines.base import Engine, EngineError, MediaRef
from projects.engines.kling import ApiCallRecord, KlingClient
from projects.engines.limits import AUDIO
from projects.models import ApiCall, LipSyncTask, SourceVideo
from projects.services.storage import local_path

ENGINE_CALLS = ("identify_faces", "create_advanced", "create_basic", "get_task", "list_tasks")


def engine_for(
    name: str, *, task: LipSyncTask | None = None, video: SourceVideo | None = None
) -> Engine:
    """The engine called `name`, recording every call it makes against `task` or `video`."""
    recorder = _recorder(name, task=task, video=video)
    if name == "local":
        from projects.engines.local import LocalEngine

        return _RecordedCalls(LocalEngine(settings.LIPSYNC_ENGINE_WORKDIR), recorder)
    if name == "kling":
        return KlingClient(
            settings.KLING_BASE_URL,
            flavour="official",
            access_key=settings.KLING_ACCESS_KEY,
            secret_key=settings.KLING_SECRET_KEY,
            recorder=recorder,
        )
    if name == "proxy":
        return KlingClient(
            settings.LIPSYNC_PROXY_BASE_URL,
            flavour="proxy",
            proxy_token=settings.LIPSYNC_PROXY_TOKEN,
            recorder=recorder,
        )
    raise ImproperlyConfigured(f"Unknown engine {name!r}.")


def is_remote(engine_name: str) -> bool:
    return engine_name != "local"


@contextmanager
def media_ref(engine_name: str, field_file: FieldFile, content_type: str) -> Iterator[MediaRef]:
    """How `engine_name` gets a stored file: a local path, inline bytes or a signed URL."""
    if not is_remote(engine_name):
        yield MediaRef(path=str(_stable_local_copy(field_file)))
        return
    yield MediaRef(url=public_url(field_file, content_type))


@contextmanager
def audio_ref(engine_name: str, field_file: FieldFile, content_type: str) -> Iterator[MediaRef]:
    """Audio goes inline (Base64) when it fits the engine's 5 MB, else by URL."""
    if is_remote(engine_name) and field_file.size <= AUDIO.max_bytes:
        with field_file.open("rb") as handle:
            yield MediaRef(data=handle.read())
        return
    with media_ref(engine_name, field_file, content_type) as ref:
        yield ref


def _stable_local_copy(field_file: FieldFile) -> Path:
    """A path that outlives this call: the local engine's sessions refer back to the video."""
    try:
        return Path(field_file.path)
    except NotImplementedError:
        pass  # remote storage: keep a copy in the engine's own folder
    copy = Path(settings.LIPSYNC_ENGINE_WORKDIR) / "inputs" / field_file.name.replace("/", "_")
    if not copy.exists():
        copy.parent.mkdir(parents=True, exist_ok=True)
        with local_path(field_file) as path:
            shutil.copyfile(path, copy)
    return copy


def public_url(field_file: FieldFile, content_type: str) -> str:
    """A URL an engine on the internet can fetch: S3's presigned URL, or our signed link."""
    if settings.AWS_STORAGE_BUCKET_NAME:
        return field_file.storage.url(field_file.name, expire=settings.LIPSYNC_MEDIA_LINK_MAX_AGE)
    if not settings.PUBLIC_BASE_URL:
        raise EngineError(
            "The engine cannot fetch our files: set PUBLIC_BASE_URL to the address where it can "
            "reach this app, or use S3-compatible storage.",
            permanent=True,
        )
    return medialinks.signed_media_url(field_file, content_type)


# --- recording -------------------------------------------------------------------------------


def _recorder(
    engine_name: str, *, task: LipSyncTask | None, video: SourceVideo | None
) -> Callable[[ApiCallRecord], None]:
    def record(call: ApiCallRecord) -> None:
        if task is None and video is None:
            return
        ApiCall.objects.create(
            task=task,
            video=video if task is None else None,
            engine=engine_name,
            method=call.method,
            endpoint=call.endpoint,
            http_status=call.http_status,
            business_code="" if call.code is None else str(call.code),
            request_id=call.request_id,
            duration_ms=call.duration_ms,
            response_body=call.response_body,
            error=call.error,
        )

    return record


class _RecordedCalls:
    """Wraps an in-process engine so that its calls are logged like HTTP calls."""

    def __init__(self, engine: Any, recorder: Callable[[ApiCallRecord], None]) -> None:
        self._engine = engine
        self._recorder = recorder
        self.name = getattr(engine, "name", "local")

    def __getattr__(self, attribute: str) -> Any:
        target = getattr(self._engine, attribute)
        if attribute not in ENGINE_CALLS:
            return target
        return self._recorded(attribute, target)

    def _recorded(self, attribute: str, target: Callable) -> Callable:
        @wraps(target)
        def call(*args: Any, **kwargs: Any) -> Any:
            started = time.monotonic()
            error = ""
            code: int | str | None = 0
            try:
                result = target(*args, **kwargs)
                return result
            except EngineError as failure:
                error, code = failure.message, failure.code
                raise
            finally:
                self._recorder(
                    ApiCallRecord(
                        method="CALL",
                        endpoint=attribute,
                        http_status=None,
                        code=code,
                        request_id="",
                        duration_ms=round((time.monotonic() - started) * 1000),
                        response_body="",
                        error=error,
                    )
                )

        return call
