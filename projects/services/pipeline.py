"""The lip-sync pipeline: from a queued task to a stored, probed result, never paid twice.

States: draft → queued → submitting → submitted → processing → succeed | failed | cancelled.

Every step runs on a Celery worker and claims its row with a conditional update, so a step
delivered twice (a lost worker, a duplicate message, a callback racing a poll) does its work
once. The rules that keep a task from being lost or created twice at the engine:

* `dispatch` moves queued tasks to `submitting` under a per-engine lock, so that no more than
  LIPSYNC_MAX_CONCURRENT tasks are at the engine at once (we queue instead of earning 1303s).
* `submit` counts the attempt *before* sending the create, as a claim (one attempt at a time);
  any later attempt (a retry, or the reconciler after a crash) first looks the task up at the
  engine by our `external_task_id`. A full engine account (1303) is waited for, not failed.
* Polls form one chain per task: each poll carries a sequence number and claims it, so a
  duplicated poll message is dropped. `reconcile` (on beat) restarts a chain that died with
  its worker, re-submits a stale `submitting` task, and gives up on tasks past their deadline.
* Callbacks are only hints: they schedule a query with our own credentials, debounced.
* Results are downloaded and probed before the task is `succeed`; their stored names are fixed
  per task, so a download repeated after a crash overwrites instead of leaving an orphan, and
  overlapping downloads (a poll and a callback's refresh) each use their own scratch folder.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from urllib.parse import unquote, urlparse

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone

from projects import media
from projects.engines.base import (
    AdvancedRequest,
    BasicRequest,
    Engine,
    EngineError,
    EngineTask,
    TaskKind,
)
from projects.fetch import FetchError, fetch_to_file
from projects.medialinks import audio_content_type
from projects.models import (
    FINAL_STATUSES,
    AudioSource,
    EngineQueue,
    LipSyncTask,
    TaskStatus,
)
from projects.services.engines import audio_ref, engine_for, is_remote, media_ref
from projects.services.faces import SessionRefreshNeeded, ensure_fresh_session
from projects.services.storage import store_path

log = logging.getLogger(__name__)

IN_FLIGHT = (TaskStatus.SUBMITTING, TaskStatus.SUBMITTED, TaskStatus.PROCESSING)
AT_ENGINE = (TaskStatus.SUBMITTED, TaskStatus.PROCESSING)
MAX_CREATE_ATTEMPTS = 8
ENGINE_SLOTS_BUSY = 1303  # Kling: concurrency over the resource pack's limit
CREATE_BACKOFF_S = (5, 15, 30, 60, 120, 240, 300)
HINT_DEBOUNCE_S = 2
RESULT_DOWNLOAD_TIMEOUT_S = 600
DOWNLOAD_RETRYING = "Downloading the result failed; we will try again."
# Result fields and the download names that give their fixed stored names.
RESULT_FIELDS = {"result_file": "result.mp4", "watermarked_result_file": "watermarked.mp4"}


# --- Queueing and dispatch -----------------------------------------------------------------


def queue(task: LipSyncTask) -> None:
    """Move a saved draft to `queued`; the dispatcher submits it after the commit."""
    updated = LipSyncTask.objects.filter(pk=task.pk, status=TaskStatus.DRAFT).update(
        status=TaskStatus.QUEUED, status_message="", status_changed_at=timezone.now()
    )
    if updated:
        task.status = TaskStatus.QUEUED
        _after_commit("dispatch_engine", task.engine)


def dispatch(engine_name: str) -> list[str]:
    """Start as many queued tasks as the engine's concurrency limit allows; return their ids."""
    EngineQueue.objects.get_or_create(engine=engine_name)
    with transaction.atomic():
        EngineQueue.objects.select_for_update().get(engine=engine_name)
        busy = LipSyncTask.objects.filter(engine=engine_name, status__in=IN_FLIGHT).count()
        free = settings.LIPSYNC_MAX_CONCURRENT - busy
        if free <= 0:
            return []
        waiting = LipSyncTask.objects.filter(engine=engine_name, status=TaskStatus.QUEUED)
        ids = [str(pk) for pk in waiting.order_by("created_at").values_list("pk", flat=True)[:free]]
        LipSyncTask.objects.filter(pk__in=ids, status=TaskStatus.QUEUED).update(
            status=TaskStatus.SUBMITTING, status_changed_at=timezone.now()
        )
        for task_id in ids:
            _after_commit("submit_task", task_id)
    return ids


def cancel(task: LipSyncTask) -> bool:
    """Cancel a task that has not reached the engine yet; True when it was cancelled."""
    now = timezone.now()
    cancelled = LipSyncTask.objects.filter(
        pk=task.pk, status__in=[TaskStatus.DRAFT, TaskStatus.QUEUED]
    ).update(status=TaskStatus.CANCELLED, finished_at=now, status_changed_at=now)
    return bool(cancelled)


# --- Submit --------------------------------------------------------------------------------


def submit(task_id: str) -> None:
    """Create the task at the engine, once. Runs on a worker for a task in `submitting`."""
    task = _load(task_id)
    if task is None or task.status != TaskStatus.SUBMITTING:
        return
    engine = engine_for(task.engine, task=task)
    try:
        if task.create_attempts and _adopt_existing(engine, task):
            return
        if task.kind == "advanced":
            ensure_fresh_session(task)
    except SessionRefreshNeeded as reason:
        _back_to_draft(task, str(reason))
        return
    except EngineError as error:
        _handle_create_error(task, error, attempt_ended=False)
        return
    if not _claim_create(task):
        return  # another delivery of this step is sending the create right now
    try:
        created = _create_at_engine(engine, task)
    except EngineError as error:
        _handle_create_error(task, error, attempt_ended=True)
        return
    _mark_submitted(task, created)


def _claim_create(task: LipSyncTask) -> bool:
    """Count the attempt before sending, as a claim that no other attempt is under way.

    If we never hear back, the next attempt looks the task up before it creates. For a task
    in `submitting`, `next_poll_at` says when the next create attempt is due: empty while one
    is being sent. So a delivery of this step arriving while another sends (a redelivered
    message, the reconciler's resubmission) stands back, unless that attempt is older than
    any live one can be (its worker died).
    """
    now = timezone.now()
    stale = now - timedelta(seconds=submit_stale_after_s())
    no_attempt_under_way = (
        Q(create_attempts=0) | Q(next_poll_at__lte=now) | Q(status_changed_at__lt=stale)
    )
    claimed = LipSyncTask.objects.filter(
        no_attempt_under_way,
        pk=task.pk,
        status=TaskStatus.SUBMITTING,
        create_attempts=task.create_attempts,
    ).update(create_attempts=F("create_attempts") + 1, status_changed_at=now, next_poll_at=None)
    if claimed:
        task.create_attempts += 1
    return bool(claimed)


def _adopt_existing(engine: Engine, task: LipSyncTask) -> bool:
    """After an attempt whose fate is unknown: if the engine has our task, carry on with it."""
    found = find_at_engine(engine, task.external_task_id, task.kind)
    if found is None:
        return False
    _mark_submitted(task, found)
    return True


def find_at_engine(engine: Engine, external_task_id: str, kind: TaskKind) -> EngineTask | None:
    finder = getattr(engine, "find_by_external_id", None)
    if finder is not None:
        return finder(external_task_id, kind)
    for page in range(1, 1001):
        tasks = engine.list_tasks(kind, page=page, size=500)
        for candidate in tasks:
            if candidate.external_task_id == external_task_id:
                return candidate
        if len(tasks) < 500:
            return None
    return None


def _create_at_engine(engine: Engine, task: LipSyncTask) -> EngineTask:
    callback_url = callback_url_for(task)
    audio = task.audio
    if task.kind == "basic" and audio.source == AudioSource.TTS:
        with media_ref(task.engine, task.video.file, "video/mp4") as video:
            return engine.create_basic(
                BasicRequest(
                    video=video,
                    mode="text2video",
                    text=audio.tts_text,
                    voice_id=audio.voice_id,
                    voice_language=audio.voice_language or "en",
                    voice_speed=float(audio.voice_speed or 1),
                    external_task_id=task.external_task_id,
                    callback_url=callback_url,
                )
            )
    content_type = audio_content_type(audio.media_info.get("probe", {}).get("container"))
    with audio_ref(task.engine, audio.file, content_type) as sound:
        if task.kind == "basic":
            with media_ref(task.engine, task.video.file, "video/mp4") as video:
                return engine.create_basic(
                    BasicRequest(
                        video=video,
                        mode="audio2video",
                        audio=sound,
                        external_task_id=task.external_task_id,
                        callback_url=callback_url,
                    )
                )
        face = task.face
        return engine.create_advanced(
            AdvancedRequest(
                session_id=face.session_id,
                face_id=face.engine_face_id,
                audio=sound,
                sound_start_ms=task.sound_start_ms,
                sound_end_ms=task.sound_end_ms,
                sound_insert_ms=task.sound_insert_ms,
                sound_volume=task.sound_volume,
                original_audio_volume=task.original_audio_volume,
                watermark=task.watermark_wanted,
                external_task_id=task.external_task_id,
                callback_url=callback_url,
            )
        )


def callback_url_for(task: LipSyncTask) -> str | None:
    """Only a remote engine with a PUBLIC_BASE_URL to reach us gets a callback address."""
    if not settings.PUBLIC_BASE_URL or not is_remote(task.engine):
        return None
    path = reverse("projects:engine-callback", args=[task.pk, task.callback_token])
    return settings.PUBLIC_BASE_URL + path


def _handle_create_error(task: LipSyncTask, error: EngineError, *, attempt_ended: bool) -> None:
    """Fail, or schedule another attempt. `attempt_ended`: this call's own create came back
    (with an error), so the next attempt is due after the delay; an error before our claim
    leaves the claim's bookkeeping to whichever attempt holds it."""
    if error.permanent and not error.ambiguous:
        fail(task, error.message)
        return
    if _gives_up_creating(task, error):
        fail(
            task,
            f"The engine kept refusing the task ({error.message}). Try again in a few minutes.",
        )
        return
    # Transient (rate, concurrency 1303, 5xx) or unclear: wait and try again; an unclear
    # attempt is looked up at the engine before any new create.
    delay = create_retry_delay_s(task, error)
    now = timezone.now()
    waiting = {"status_message": f"Waiting to retry: {error.message}", "status_changed_at": now}
    if attempt_ended:
        waiting["next_poll_at"] = now + timedelta(seconds=delay)
    LipSyncTask.objects.filter(pk=task.pk, status=TaskStatus.SUBMITTING).update(**waiting)
    _after_commit("submit_task", str(task.pk), countdown=delay)


def _gives_up_creating(task: LipSyncTask, error: EngineError) -> bool:
    """A full account (1303) is waited for until the give-up time, like our own queue;
    other refusals end the task after MAX_CREATE_ATTEMPTS."""
    if error.code == ENGINE_SLOTS_BUSY:
        waited = timezone.now() - task.created_at
        return waited > timedelta(seconds=settings.LIPSYNC_TASK_GIVE_UP_S)
    return task.create_attempts >= MAX_CREATE_ATTEMPTS


def create_retry_delay_s(task: LipSyncTask, error: EngineError) -> int:
    """The engine's Retry-After, else our backoff; never beyond the longest backoff, so that a
    scheduled retry stays well inside the broker's visibility timeout."""
    step = max(0, min(task.create_attempts, len(CREATE_BACKOFF_S)) - 1)
    delay = error.retry_after or CREATE_BACKOFF_S[step]
    return max(1, min(round(delay), CREATE_BACKOFF_S[-1]))


def _mark_submitted(task: LipSyncTask, created: EngineTask) -> None:
    now = timezone.now()
    moved = LipSyncTask.objects.filter(pk=task.pk, status=TaskStatus.SUBMITTING).update(
        status=TaskStatus.SUBMITTED,
        engine_task_id=created.task_id,
        submitted_at=now,
        status_changed_at=now,
        status_message="",
        poll_count=0,
        next_poll_at=now,
    )
    if not moved:
        return
    task.refresh_from_db()
    if created.is_terminal:
        apply_engine_state(task, created)  # the local engine answers with the result at once
    else:
        schedule_poll(task)


def _back_to_draft(task: LipSyncTask, message: str) -> None:
    LipSyncTask.objects.filter(pk=task.pk, status=TaskStatus.SUBMITTING).update(
        status=TaskStatus.DRAFT, status_message=message, status_changed_at=timezone.now()
    )
    _after_commit("dispatch_engine", task.engine)


# --- Polling and callbacks -------------------------------------------------------------------


def poll_interval_s(poll_count: int) -> int:
    intervals = settings.LIPSYNC_POLL_INTERVALS_S
    return intervals[min(poll_count, len(intervals) - 1)]


def schedule_poll(task: LipSyncTask) -> None:
    delay = poll_interval_s(task.poll_count)
    LipSyncTask.objects.filter(pk=task.pk).update(
        next_poll_at=timezone.now() + timedelta(seconds=delay)
    )
    _after_commit("poll_task", str(task.pk), task.poll_seq, countdown=delay)


def poll(task_id: str, seq: int) -> None:
    """One link of the task's poll chain: query the engine, apply, schedule the next link."""
    claimed = LipSyncTask.objects.filter(pk=task_id, poll_seq=seq, status__in=AT_ENGINE).update(
        poll_seq=seq + 1, poll_count=F("poll_count") + 1
    )
    if not claimed:
        return  # a duplicate link, or the task has ended
    task = _load(task_id)
    if _past_deadline(task):
        fail(task, _gave_up_message(task))
        return
    refresh_from_engine(task)
    task.refresh_from_db()
    if task.status in AT_ENGINE:
        schedule_poll(task)


def callback_hint(task: LipSyncTask) -> bool:
    """A callback arrived: query the engine soon, at most once per debounce window."""
    now = timezone.now()
    recent = now - timedelta(seconds=HINT_DEBOUNCE_S)
    taken = (
        LipSyncTask.objects.filter(pk=task.pk, status__in=AT_ENGINE)
        .filter(Q(last_hint_at__isnull=True) | Q(last_hint_at__lt=recent))
        .update(last_hint_at=now)
    )
    if taken:
        _after_commit("refresh_task", str(task.pk))
    return bool(taken)


def refresh_from_engine(task: LipSyncTask) -> None:
    """Ask the engine how the task is doing, with our credentials, and apply the answer."""
    if task.status not in AT_ENGINE or not task.engine_task_id:
        return
    engine = engine_for(task.engine, task=task)
    try:
        state = engine.get_task(task.engine_task_id, task.kind)
    except EngineError as error:
        if error.permanent:
            fail(task, f"The engine no longer knows this task: {error.message}")
        return  # transient: the next poll asks again
    apply_engine_state(task, state)


def apply_engine_state(task: LipSyncTask, state: EngineTask) -> None:
    """Bring our row in line with the engine's answer; repeated answers change nothing twice."""
    if task.status in FINAL_STATUSES:
        return
    if state.status == "succeed":
        store_results(task, state)
    elif state.status == "failed":
        fail(task, state.message or "The engine could not make this video.", state.credits)
    elif state.status == "processing":
        LipSyncTask.objects.filter(pk=task.pk, status=TaskStatus.SUBMITTED).update(
            status=TaskStatus.PROCESSING, status_changed_at=timezone.now()
        )


# --- Results -------------------------------------------------------------------------------


def store_results(task: LipSyncTask, state: EngineTask) -> None:
    """Download, probe and keep the result (and its watermarked copy), then mark `succeed`."""
    if not state.videos:
        fail(task, "The engine reported success but sent no video. Try again.")
        return
    workdir = _attempt_workdir(task)
    try:
        first = state.videos[0]
        urls = {"result_file": first.url}
        if task.watermark_wanted and first.watermark_url:
            urls["watermarked_result_file"] = first.watermark_url
        downloads = {
            field: _download(url, workdir / RESULT_FIELDS[field]) for field, url in urls.items()
        }
        for path in downloads.values():
            info = media.probe_media(path, expect="video")
            if info.kind != "video":
                raise media.MediaError("The engine's result has no pictures.")
    except (FetchError, media.MediaError, OSError) as error:
        # OSError: the task ended meanwhile and its scratch folders went with it.
        shutil.rmtree(workdir, ignore_errors=True)
        _result_failed(task, str(error))
        return
    try:
        _keep_results(task, downloads, state)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _keep_results(task: LipSyncTask, downloads: dict[str, Path], state: EngineTask) -> None:
    with transaction.atomic():
        locked = LipSyncTask.objects.select_for_update().get(pk=task.pk)
        if locked.status in FINAL_STATUSES:
            return
        for field, path in downloads.items():
            target = getattr(locked, field)
            name = target.field.generate_filename(locked, path.name)
            target.storage.delete(name)  # a copy left by an interrupted earlier run
            store_path(target, path.name, path)
        now = timezone.now()
        locked.status = TaskStatus.SUCCEED
        locked.status_message = ""
        locked.credits_charged = _credits(state.credits)
        locked.finished_at = now
        locked.status_changed_at = now
        locked.save()
    _forget_workdirs(task)
    _after_commit("dispatch_engine", task.engine)


def _download(url: str, target: Path) -> Path:
    """Results come from the engine's own answer: file:// from the local engine, else http(s)."""
    parsed = urlparse(url)
    if parsed.scheme == "file":
        source = Path(unquote(parsed.path)).resolve()
        root = Path(settings.LIPSYNC_ENGINE_WORKDIR).resolve()
        if root not in source.parents or not source.is_file():
            raise FetchError("The local engine's result is missing. Try again.")
        shutil.copyfile(source, target)
        return target
    fetch_to_file(
        url,
        target,
        max_bytes=settings.LIPSYNC_RESULT_MAX_BYTES,
        total_timeout_s=RESULT_DOWNLOAD_TIMEOUT_S,
        allowed_private_hosts=settings.LIPSYNC_FETCH_ALLOWED_PRIVATE_HOSTS,
    )
    return target


def _result_failed(task: LipSyncTask, reason: str) -> None:
    """A download that failed may succeed later (the engine keeps results 30 days)."""
    if _past_deadline(task):
        fail(task, f"We could not download the result: {reason}")
        return
    LipSyncTask.objects.filter(pk=task.pk, status__in=AT_ENGINE).update(
        status_message=f"{DOWNLOAD_RETRYING} ({reason})"
    )


def _attempt_workdir(task: LipSyncTask) -> Path:
    """A scratch folder for one download attempt, inside the task's own folder.

    Attempts of one task can overlap (a poll and a callback's refresh both see `succeed`), so
    each downloads into its own folder; the first to lock the row keeps its copy. What killed
    attempts leave behind goes with the task's folder when the task ends.
    """
    parent = _task_workdir_root(task)
    parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(dir=parent))


def _task_workdir_root(task: LipSyncTask) -> Path:
    return Path(settings.VAR_DIR) / "work" / str(task.pk)


def _forget_workdirs(task: LipSyncTask) -> None:
    """The task has ended: no attempt's download can matter any more."""
    shutil.rmtree(_task_workdir_root(task), ignore_errors=True)


def _credits(value: str | None) -> Decimal | None:
    try:
        return Decimal(value) if value not in (None, "") else None
    except InvalidOperation:
        return None


# --- Ending --------------------------------------------------------------------------------


def fail(task: LipSyncTask, message: str, credits: str | None = None) -> bool:
    """Mark the task failed with a reason for the person; True if this call ended it."""
    now = timezone.now()
    ended = (
        LipSyncTask.objects.filter(pk=task.pk)
        .exclude(status__in=FINAL_STATUSES)
        .update(
            status=TaskStatus.FAILED,
            status_message=message,
            credits_charged=_credits(credits),
            finished_at=now,
            status_changed_at=now,
        )
    )
    if ended:
        # A download interrupted earlier may have left copies under the task's fixed names.
        _delete_result_copies(task)
        _forget_workdirs(task)
        _after_commit("dispatch_engine", task.engine)
    return bool(ended)


def _delete_result_copies(task: LipSyncTask) -> None:
    for field, download_name in RESULT_FIELDS.items():
        target = getattr(task, field)
        target.storage.delete(target.field.generate_filename(task, download_name))


def _past_deadline(task: LipSyncTask) -> bool:
    started = task.submitted_at or task.status_changed_at
    return timezone.now() - started > timedelta(seconds=settings.LIPSYNC_TASK_GIVE_UP_S)


def _gave_up_message(task: LipSyncTask) -> str:
    """Why we stopped: the result we kept failing to download, else the engine's slowness."""
    if task.status_message.startswith(DOWNLOAD_RETRYING):
        reason = task.status_message.removeprefix(DOWNLOAD_RETRYING).strip(" ()")
        return f"We could not download the result: {reason}"
    minutes = settings.LIPSYNC_TASK_GIVE_UP_S // 60
    return (
        f"The engine did not finish within {minutes} minutes, so we stopped waiting. "
        "Try again; if it keeps happening, the engine may be overloaded."
    )


# --- Reconcile (periodic) ------------------------------------------------------------------


def reconcile() -> dict[str, int]:
    """The safety net on beat: restart what a lost worker dropped, end what waited too long."""
    now = timezone.now()
    counts = {"dispatched": 0, "resubmitted": 0, "repolled": 0, "gave_up": 0}
    for engine_name in _engines_with(TaskStatus.QUEUED):
        counts["dispatched"] += len(dispatch(engine_name))
    stale = now - timedelta(seconds=submit_stale_after_s())
    for task_id in LipSyncTask.objects.filter(
        status=TaskStatus.SUBMITTING, status_changed_at__lt=stale
    ).values_list("pk", flat=True):
        # Claim by touching the row, so two reconcilers do not both resubmit it; the attempt
        # that went quiet is declared over (a new one is due now).
        if LipSyncTask.objects.filter(
            pk=task_id, status=TaskStatus.SUBMITTING, status_changed_at__lt=stale
        ).update(status_changed_at=now, next_poll_at=now):
            _after_commit("submit_task", str(task_id))
            counts["resubmitted"] += 1
    overdue = now - timedelta(seconds=overdue_poll_grace_s())
    for task in LipSyncTask.objects.filter(status__in=AT_ENGINE).filter(
        Q(next_poll_at__lt=overdue) | Q(next_poll_at__isnull=True)
    ):
        if _past_deadline(task):
            counts["gave_up"] += fail(task, _gave_up_message(task))
            continue
        schedule_poll(task)
        counts["repolled"] += 1
    return counts


def submit_stale_after_s() -> int:
    """A `submitting` task older than this lost its worker: no live attempt can still run,
    because the submit task's hard time limit is shorter."""
    limit = settings.LIPSYNC_SUBMIT_TIME_LIMIT_S
    return limit + min(60, limit)


def overdue_poll_grace_s() -> int:
    """A poll this late after its schedule lost its chain (its worker died): restart it."""
    return max(settings.LIPSYNC_POLL_INTERVALS_S) + 5


def _engines_with(status: str) -> list[str]:
    return list(
        LipSyncTask.objects.filter(status=status).values_list("engine", flat=True).distinct()
    )


# --- Helpers -------------------------------------------------------------------------------


def _load(task_id: str) -> LipSyncTask | None:
    return (
        LipSyncTask.objects.select_related("video", "audio", "face", "project")
        .filter(pk=task_id)
        .first()
    )


def _after_commit(task_name: str, *args: object, countdown: int | None = None) -> None:
    from projects import tasks  # tasks import services: import late to avoid a cycle

    celery_task = getattr(tasks, task_name)
    if countdown:
        transaction.on_commit(lambda: celery_task.apply_async(args=args, countdown=countdown))
    else:
        transaction.on_commit(lambda: celery_task.delay(*args))
