"""Which engine runs a task, and how its calls are recorded as ApiCall rows.

The engines themselves know nothing of Django; this module builds them from settings and
gives each a recorder bound to the task or video the call is made for.
"""

from __future__ import annotations

import re
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal, InvalidOperation
from functools import wraps
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db.models.fields.files import FieldFile

from lipsync_web.logmasking import mask_secrets
from projects import serving
from projects.engines.base import Engine, EngineError, EngineName, MediaRef
from projects.engines.kling import ApiCallRecord, KlingClient
from projects.engines.limits import AUDIO
from projects.models import ApiCall, AudioClip, LipSyncTask, SourceVideo
from projects.services.storage import local_path

ENGINE_CALLS = ("identify_faces", "create_advanced", "create_basic", "get_task", "list_tasks")
# A link's query string (an S3 signature, an expiry): whoever reads the log must not use it.
_LINK_QUERY = re.compile(r"(https?://[^\s\"'?]+)\?[^\s\"']+")


def mask_links(text: str) -> str:
    """Signed media links in a logged body, with their secret parts shown as ***."""
    return _LINK_QUERY.sub(r"\1?***", mask_secrets(text))


def record_callback(task: LipSyncTask, body: str, answer_status: int, note: str = "") -> None:
    """Log a callback the engine sent us as a row of the task's engine log."""
    ApiCall.objects.create(
        task=task,
        engine=task.engine,
        method=ApiCall.CALLBACK_METHOD,
        endpoint="callback",
        http_status=answer_status,
        response_body=mask_links(body),
        error=note,
    )


def engine_for(
    name: str,
    *,
    task: LipSyncTask | None = None,
    video: SourceVideo | None = None,
    audio: AudioClip | None = None,
) -> Engine:
    """The engine called `name`, recording every call it makes against `task`, `video` or
    `audio` (a clip spoken by the engine's text to speech)."""
    recorder = _recorder(name, task=task, video=video, audio=audio)
    if name == EngineName.LOCAL:
        from projects.engines.local import LocalEngine  # dlib and PyAV: loaded only when used

        return _RecordedCalls(LocalEngine(settings.LIPSYNC_ENGINE_WORKDIR), recorder)
    if name == EngineName.KLING:
        return KlingClient(
            settings.KLING_BASE_URL,
            flavour="official",
            access_key=settings.KLING_ACCESS_KEY,
            secret_key=settings.KLING_SECRET_KEY,
            recorder=recorder,
        )
    if name == EngineName.PROXY:
        return KlingClient(
            settings.LIPSYNC_PROXY_BASE_URL,
            flavour="proxy",
            proxy_token=settings.LIPSYNC_PROXY_TOKEN,
            recorder=recorder,
        )
    raise ImproperlyConfigured(f"Unknown engine {name!r}.")


def is_remote(engine_name: str) -> bool:
    return EngineName(engine_name).is_remote


def speaks_with_engine(engine_name: str) -> bool:
    """Whether typed speech is made by the engine's own text to speech (Kling's voices):
    always on Kling, on the proxy when it offers TTS (LIPSYNC_PROXY_TTS); otherwise the
    offline eSpeak NG voice speaks."""
    if engine_name == EngineName.KLING:
        return True
    return engine_name == EngineName.PROXY and settings.LIPSYNC_PROXY_TTS


@contextmanager
def video_ref(engine_name: str, video: SourceVideo) -> Iterator[MediaRef]:
    """A Kling-made video by its video_id while Kling still accepts it (it need not download
    what it already has); otherwise as `media_ref`."""
    if is_remote(engine_name) and video.usable_kling_video_id:
        yield MediaRef(engine_id=video.usable_kling_video_id)
        return
    with media_ref(engine_name, video.file, video.content_type) as ref:
        yield ref


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
    return serving.signed_media_url(field_file, content_type)


# --- recording -------------------------------------------------------------------------------


def _recorder(
    engine_name: str,
    *,
    task: LipSyncTask | None,
    video: SourceVideo | None,
    audio: AudioClip | None = None,
) -> Callable[[ApiCallRecord], None]:
    def record(call: ApiCallRecord) -> None:
        if task is None and video is None and audio is None:
            return
        ApiCall.objects.create(
            task=task,
            video=video if task is None else None,
            audio=audio if task is None and video is None else None,
            units=_units(call.units),
            engine=engine_name,
            method=call.method,
            endpoint=call.endpoint,
            http_status=call.http_status,
            business_code="" if call.code is None else str(call.code),
            request_id=call.request_id,
            duration_ms=call.duration_ms,
            response_body=mask_links(call.response_body),
            error=mask_links(call.error),
        )

    return record


def _units(value: str | None) -> Decimal | None:
    """Units as the engine wrote them ("2", "0.5"); unreadable ones are not guessed at."""
    if value in (None, ""):
        return None
    try:
        return Decimal(str(value)).quantize(Decimal("0.01"))
    except InvalidOperation:
        return None


class _RecordedCalls:
    """Wraps an in-process engine so that its calls are logged like HTTP calls."""

    def __init__(self, engine: Any, recorder: Callable[[ApiCallRecord], None]) -> None:
        self._engine = engine
        self._recorder = recorder
        self.name = getattr(engine, "name", EngineName.LOCAL)

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
