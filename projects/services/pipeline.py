"""The lip-sync pipeline: from a queued task to a stored, probed result, never paid twice.

States: draft → queued → submitting → submitted → processing → succeed | failed | cancelled.

Every step runs on a Celery worker and claims its row with a conditional update, so a step
delivered twice (a lost worker, a duplicate message, a callback racing a poll) does its work
once. The rules that keep a task from being lost or created twice at the engine:

* `dispatch` moves queued tasks to `submitting` under a per-engine lock, so that no more than
  LIPSYNC_MAX_CONCURRENT tasks are at the engine at once (we queue instead of earning 1303s).
* `submit` counts the attempt *before* anything is sent, as a claim (one attempt at a time);
  an attempt after a create whose fate is unknown (`create_unsure`: no answer, or a crash)
  first looks the task up at the engine by our `external_task_id`. Every failure (the look-up
  and the face search included) waits before the next attempt: LIPSYNC_RETRY_BACKOFF_S,
  doubling with jitter up to its cap. An engine that cannot be reached, or a full account
  (1303), is waited for until the give-up deadline (LIPSYNC_TASK_GIVE_UP_S from the start of
  sending), which ends the task saying whether it may have been charged. A task waiting for
  its next attempt can be cancelled; when the engine answers again, waiting tasks try at once.
* A face session the engine forgot (it restarted) is renewed once, automatically: the video
  is identified again and the chosen face matched in the new session.
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
import random
import shutil
import tempfile
import uuid
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from urllib.parse import unquote, urlparse

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone

from projects import background
from projects.engines.base import (
    AdvancedRequest,
    BasicRequest,
    Engine,
    EngineError,
    EngineTask,
    MediaRef,
    TaskKind,
)
from projects.fetch import FetchError, fetch_to_file
from projects.mediakit.errors import MediaError
from projects.mediakit.probe import probe_media
from projects.models import (
    AT_ENGINE_STATUSES,
    CANCELLABLE_STATUSES,
    FINAL_STATUSES,
    IN_FLIGHT_STATUSES,
    AudioClip,
    AudioSource,
    AuditVerb,
    DubJob,
    EngineQueue,
    LipSyncTask,
    TaskStatus,
)
from projects.services import audit
from projects.services.engines import audio_ref, engine_for, is_remote, video_ref
from projects.services.faces import SessionRefreshNeeded, ensure_fresh_session
from projects.services.storage import store_path

log = logging.getLogger(__name__)

MAX_CREATE_ATTEMPTS = 8
ENGINE_SLOTS_BUSY = 1303  # Kling: concurrency over the resource pack's limit
HINT_DEBOUNCE_S = 2
RESULT_DOWNLOAD_TIMEOUT_S = 600
# How long a download claim keeps other deliveries away: long enough for a poll and a
# callback's hint that hear "succeed" together, short enough that a download a lost worker
# left is taken up by a later poll soon after. A download that outlasts it may be fetched a
# second time; `_keep_results` still keeps one copy. (The same message delivered again after
# its worker was lost has the same id and takes its claim back at once.)
DOWNLOAD_CLAIM_S = 30
WAITING_TO_RETRY = "Waiting to retry:"
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
        background.dispatch_engine.delay_on_commit(task.engine)


def dispatch(engine_name: str) -> list[str]:
    """Start as many queued tasks as the engine's concurrency limit allows; return their ids."""
    EngineQueue.objects.get_or_create(engine=engine_name)
    with transaction.atomic():
        EngineQueue.objects.select_for_update().get(engine=engine_name)
        busy = LipSyncTask.objects.filter(engine=engine_name, status__in=IN_FLIGHT_STATUSES).count()
        free = settings.LIPSYNC_MAX_CONCURRENT - busy
        if free <= 0:
            return []
        waiting = LipSyncTask.objects.filter(engine=engine_name, status=TaskStatus.QUEUED)
        ids = [str(pk) for pk in waiting.order_by("created_at").values_list("pk", flat=True)[:free]]
        now = timezone.now()
        LipSyncTask.objects.filter(pk__in=ids, status=TaskStatus.QUEUED).update(
            status=TaskStatus.SUBMITTING, status_changed_at=now, sending_since=now
        )
        for task_id in ids:
            background.submit_task.delay_on_commit(task_id)
    return ids


def cancel(task: LipSyncTask) -> bool:
    """Cancel a task that has not reached the engine yet; True when it was cancelled."""
    now = timezone.now()
    cancelled = LipSyncTask.objects.filter(pk=task.pk, status__in=CANCELLABLE_STATUSES).update(
        status=TaskStatus.CANCELLED, finished_at=now, status_changed_at=now
    )
    return bool(cancelled)


# --- Submit --------------------------------------------------------------------------------


def submit(task_id: str) -> None:
    """Create the task at the engine, once. Runs on a worker for a task in `submitting`.

    Every attempt is claimed and counted first, whatever it does (a look-up, a face search, a
    create), and every failure backs off; the give-up deadline ends the sending.
    """
    task = _load(task_id)
    if task is None or task.status != TaskStatus.SUBMITTING:
        return
    if not _claim_create(task):
        _adopt_if_already_made(task)
        return
    engine = engine_for(task.engine, task=task)
    if task.cancel_requested:
        _finish_cancel(engine, task)
        return
    if _past_deadline(task):
        _give_up_sending(engine, task)
        return
    try:
        if task.create_unsure and _adopt_existing(engine, task):
            return
        created = _create_with_fresh_session(engine, task)
    except SessionRefreshNeeded as reason:
        _back_to_draft(task, str(reason))
        return
    except EngineError as error:
        _handle_create_error(task, error)
        return
    _mark_submitted(task, created)


def _adopt_if_already_made(task: LipSyncTask) -> None:
    """Another attempt holds the claim: it is running, or its worker died while a create may
    have been sent (this may be that attempt's redelivered message). If the engine already has
    the task, carry on with it now instead of when the reconciler declares the attempt over.
    Only a look-up: whatever it finds or fails, the claim's attempt stays in charge."""
    if not task.create_unsure:
        return
    engine = engine_for(task.engine, task=task)
    try:
        found = find_at_engine(engine, task.external_task_id, task.kind)
    except EngineError:
        return
    if found is not None:
        _mark_submitted(task, found)


def _create_with_fresh_session(engine: Engine, task: LipSyncTask) -> EngineTask:
    """Create; when the engine has forgotten the face session (it restarted), identify the
    video again, match the chosen face, and create once more, once."""
    if task.kind == TaskKind.ADVANCED:
        ensure_fresh_session(task)
    try:
        return _send_create(engine, task)
    except EngineError as error:
        if task.kind != TaskKind.ADVANCED or not error.lost_session:
            raise
    log.info("task %s: the engine forgot the face session; identifying again", task.pk)
    ensure_fresh_session(task, forgotten=True)
    return _send_create(engine, task)


def _send_create(engine: Engine, task: LipSyncTask) -> EngineTask:
    """Send the create. Until its answer is known it may have reached the engine; a clear
    answer (even a refusal, or a connection that never opened) says it did not."""
    _set_create_unsure(task, True)
    try:
        return _create_at_engine(engine, task)
    except EngineError as error:
        if not error.ambiguous:
            _set_create_unsure(task, False)
        raise


def _set_create_unsure(task: LipSyncTask, unsure: bool) -> None:
    if task.create_unsure != unsure:
        LipSyncTask.objects.filter(pk=task.pk).update(create_unsure=unsure)
        task.create_unsure = unsure


def _claim_create(task: LipSyncTask) -> bool:
    """Count the attempt before anything is sent, as a claim that no other is under way.

    If we never hear back, the next attempt looks the task up before it creates. For a task
    in `submitting`, `next_poll_at` says when the next attempt is due: empty while one is
    under way. So a delivery of this step arriving while another runs (a redelivered message,
    the reconciler's resubmission) stands back, unless that attempt is older than any live one
    can be (its worker died).
    """
    now = timezone.now()
    stale = now - timedelta(seconds=submit_stale_after_s())
    no_attempt_under_way = (
        Q(create_attempts=0)
        | Q(next_poll_at__lte=now)
        | Q(next_poll_at=None, status_changed_at__lt=stale)
    )
    claimed = LipSyncTask.objects.filter(
        no_attempt_under_way,
        pk=task.pk,
        status=TaskStatus.SUBMITTING,
        create_attempts=task.create_attempts,
    ).update(create_attempts=F("create_attempts") + 1, status_changed_at=now, next_poll_at=None)
    if claimed:
        task.create_attempts += 1
        task.next_poll_at = None
    return bool(claimed)


def _adopt_existing(engine: Engine, task: LipSyncTask) -> bool:
    """After an attempt whose fate is unknown: if the engine has our task, carry on with it."""
    found = find_at_engine(engine, task.external_task_id, task.kind)
    if found is None:
        _set_create_unsure(task, False)
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
    if task.kind == TaskKind.BASIC and audio.source == AudioSource.TTS:
        with video_ref(task.engine, task.video) as video:
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
    audio_id = _audio_id_for(task)
    if audio_id:
        # Kling's own speech, while its audio_id is valid: Kling need not receive the file.
        try:
            return engine.create_advanced(_advanced_request(task, callback_url, audio_id=audio_id))
        except EngineError as error:
            if not _audio_id_refused(error):
                raise
            # A clear refusal creates nothing: forget the id and send our copy of the file.
            AudioClip.objects.filter(pk=audio.pk).update(kling_audio_id="")
            audio.kling_audio_id = ""
    with audio_ref(task.engine, audio.file, audio.content_type) as sound:
        if task.kind == TaskKind.BASIC:
            with video_ref(task.engine, task.video) as video:
                return engine.create_basic(
                    BasicRequest(
                        video=video,
                        mode="audio2video",
                        audio=sound,
                        external_task_id=task.external_task_id,
                        callback_url=callback_url,
                    )
                )
        return engine.create_advanced(_advanced_request(task, callback_url, sound=sound))


def _audio_id_refused(error: EngineError) -> bool:
    return error.code == 1201 and "audio_id" in error.message


def _audio_id_for(task: LipSyncTask) -> str:
    """The clip's Kling audio_id for an advanced task on a remote engine, while it is valid."""
    if task.kind != TaskKind.ADVANCED or not is_remote(task.engine):
        return ""
    return task.audio.usable_kling_audio_id


def _advanced_request(
    task: LipSyncTask,
    callback_url: str | None,
    *,
    sound: MediaRef | None = None,
    audio_id: str = "",
) -> AdvancedRequest:
    face = task.face
    return AdvancedRequest(
        session_id=face.session_id,
        face_id=face.engine_face_id,
        audio=sound,
        audio_id=audio_id or None,
        sound_start_ms=task.sound_start_ms,
        sound_end_ms=task.sound_end_ms,
        sound_insert_ms=task.sound_insert_ms,
        sound_volume=task.sound_volume,
        original_audio_volume=task.original_audio_volume,
        watermark=task.watermark_wanted,
        external_task_id=task.external_task_id,
        callback_url=callback_url,
    )


def callback_url_for(task: LipSyncTask) -> str | None:
    """Only a remote engine with a PUBLIC_BASE_URL to reach us gets a callback address."""
    if not settings.PUBLIC_BASE_URL or not is_remote(task.engine):
        return None
    path = reverse("projects:engine-callback", args=[task.pk, task.callback_token])
    return settings.PUBLIC_BASE_URL + path


def _handle_create_error(task: LipSyncTask, error: EngineError) -> None:
    """Fail, or schedule the next attempt after a backoff (never past the give-up time)."""
    if error.permanent and not error.ambiguous:
        fail(task, error.message, cure=error.cure)
        return
    if _gives_up_creating(task, error):
        fail(
            task,
            f"The engine kept refusing the task ({error.message}). Try again in a few minutes.",
        )
        return
    # Transient (unreachable, rate, concurrency 1303, 5xx) or unclear: wait and try again; an
    # unclear attempt is looked up at the engine before any new create.
    delay = min(create_retry_delay_s(task, error), max(0.05, _seconds_to_deadline(task)))
    if not task.status_message.startswith(WAITING_TO_RETRY):
        # Once per run of failures: the engine log holds every attempt.
        audit.record(None, AuditVerb.RETRYING, task.project, task=task, note=error.message)
    now = timezone.now()
    LipSyncTask.objects.filter(pk=task.pk, status=TaskStatus.SUBMITTING).update(
        status_message=f"{WAITING_TO_RETRY} {error.message}",
        status_changed_at=now,
        next_poll_at=now + timedelta(seconds=delay),
    )
    background.submit_task.apply_async_on_commit(args=[str(task.pk)], countdown=delay)


def _gives_up_creating(task: LipSyncTask, error: EngineError) -> bool:
    """An engine that is down, busy (1303) or slow to answer is waited for until the give-up
    time (the deadline ends it); other refusals end the task after MAX_CREATE_ATTEMPTS."""
    if error.unreachable or error.ambiguous or error.code == ENGINE_SLOTS_BUSY:
        return False
    return task.create_attempts >= MAX_CREATE_ATTEMPTS


def create_retry_delay_s(
    task: LipSyncTask, error: EngineError, jitter: Callable[[], float] = random.random
) -> float:
    """Our backoff (doubling from the first wait up to the cap, ±25 % jitter so that tasks
    waiting together do not return together), or the engine's longer Retry-After; never
    beyond the cap, so that a scheduled retry stays inside the broker's visibility timeout."""
    first, cap = settings.LIPSYNC_RETRY_BACKOFF_S
    step = min(cap, first * 2 ** max(0, task.create_attempts - 1))
    delay = step * (0.75 + jitter() / 2)
    if error.retry_after:
        delay = max(delay, error.retry_after)
    return round(max(0.05, min(delay, cap)), 2)


def _seconds_to_deadline(task: LipSyncTask) -> float:
    left = _deadline_start(task) + timedelta(seconds=settings.LIPSYNC_TASK_GIVE_UP_S)
    return (left - timezone.now()).total_seconds()


def _give_up_sending(engine: Engine, task: LipSyncTask) -> None:
    """The deadline has passed while sending. A create that may have reached the engine is
    looked up a last time: found, the task carries on; else we say what was charged."""
    if task.create_unsure:
        try:
            if _adopt_existing(engine, task):
                return
        except EngineError:
            fail(task, _gave_up_sending_message(task, charged=True), gave_up=True)
            return
    fail(task, _gave_up_sending_message(task, charged=False), gave_up=True)


def _gave_up_sending_message(task: LipSyncTask, *, charged: bool) -> str:
    waited = duration_words(settings.LIPSYNC_TASK_GIVE_UP_S)
    engine = _engine_words(task)
    if charged:
        return (
            f"{engine} could not be reached for {waited}; it may have received the task, so it "
            "may have been charged. Try again later."
        )
    return f"{engine} could not be reached for {waited}; nothing was charged. Try again later."


def _engine_words(task: LipSyncTask) -> str:
    """How the messages name the engine: Kling (directly or through the proxy), or ours."""
    return "Kling" if is_remote(task.engine) else "The local engine"


def duration_words(seconds: int) -> str:
    """3600 → "1 hour", 120 → "2 minutes", 45 → "45 seconds"."""
    for unit, size in (("hour", 3600), ("minute", 60)):
        if seconds >= size and seconds % size == 0:
            count = seconds // size
            return f"{count} {unit}{'' if count == 1 else 's'}"
    return f"{seconds} seconds"


# --- Cancel while waiting ------------------------------------------------------------------


def cancel_waiting(task: LipSyncTask) -> str:
    """Cancel a task waiting to be sent again. Returns what the person is told.

    When no create can have reached the engine, it is cancelled at once. Otherwise a worker
    looks it up first (`_finish_cancel`): the page says what was found.
    """
    now = timezone.now()
    waiting = LipSyncTask.objects.filter(
        pk=task.pk,
        status=TaskStatus.SUBMITTING,
        next_poll_at__isnull=False,
        create_attempts__gt=0,
        cancel_requested=False,
    )
    if waiting.filter(create_unsure=False).update(
        status=TaskStatus.CANCELLED,
        status_message="",  # the status says it: cancelled before it reached the engine
        finished_at=now,
        status_changed_at=now,
    ):
        background.dispatch_engine.delay_on_commit(task.engine)
        return "Cancelled. The engine never received it, so nothing was charged."
    if waiting.update(
        cancel_requested=True,
        next_poll_at=now,
        status_message="Cancelling: checking whether Kling received the task…",
    ):
        background.submit_task.delay_on_commit(str(task.pk))
        return "Cancelling: we are checking whether the engine received it."
    return ""


def _finish_cancel(engine: Engine, task: LipSyncTask) -> None:
    """A cancel after a create that may have reached the engine: look it up, then say so."""
    try:
        found = find_at_engine(engine, task.external_task_id, task.kind)
    except EngineError:
        _end_cancelled(
            task,
            f"Cancelled. {_engine_words(task)} could not be reached to check whether it had "
            "received the task, so it may have been charged.",
        )
        return
    if found is None:
        _end_cancelled(
            task,
            f"Cancelled. {_engine_words(task)} had not received the task; nothing was charged.",
        )
        return
    # The engine has it and will charge for it: keep it, so that the result is not lost.
    LipSyncTask.objects.filter(pk=task.pk).update(cancel_requested=False)
    _mark_submitted(task, found)
    LipSyncTask.objects.filter(pk=task.pk, status__in=AT_ENGINE_STATUSES).update(
        status_message=f"{_engine_words(task)} had already received the task when you "
        "cancelled, so it is being made (and charged); the result will be here."
    )


def _end_cancelled(task: LipSyncTask, message: str) -> None:
    now = timezone.now()
    if LipSyncTask.objects.filter(pk=task.pk, status=TaskStatus.SUBMITTING).update(
        status=TaskStatus.CANCELLED,
        status_message=message,
        cancel_requested=False,
        create_unsure=False,
        finished_at=now,
        status_changed_at=now,
    ):
        background.dispatch_engine.delay_on_commit(task.engine)


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
        create_unsure=False,
    )
    if not moved:
        return
    wake_waiting(task.engine)
    task.refresh_from_db()
    if created.is_terminal:
        apply_engine_state(task, created)  # the local engine answers with the result at once
    else:
        schedule_poll(task)


def _back_to_draft(task: LipSyncTask, message: str) -> None:
    LipSyncTask.objects.filter(pk=task.pk, status=TaskStatus.SUBMITTING).update(
        status=TaskStatus.DRAFT, status_message=message, status_changed_at=timezone.now()
    )
    background.dispatch_engine.delay_on_commit(task.engine)


# --- Polling and callbacks -------------------------------------------------------------------


def poll_interval_s(poll_count: int) -> int:
    intervals = settings.LIPSYNC_POLL_INTERVALS_S
    return intervals[min(poll_count, len(intervals) - 1)]


def schedule_poll(task: LipSyncTask) -> None:
    delay = poll_interval_s(task.poll_count)
    LipSyncTask.objects.filter(pk=task.pk).update(
        next_poll_at=timezone.now() + timedelta(seconds=delay)
    )
    background.poll_task.apply_async_on_commit(args=[str(task.pk), task.poll_seq], countdown=delay)


def poll(task_id: str, seq: int, delivery: str = "") -> None:
    """One link of the task's poll chain: query the engine, apply, schedule the next link."""
    claimed = LipSyncTask.objects.filter(
        pk=task_id, poll_seq=seq, status__in=AT_ENGINE_STATUSES
    ).update(poll_seq=seq + 1, poll_count=F("poll_count") + 1)
    if not claimed:
        return  # a duplicate link, or the task has ended
    task = _load(task_id)
    if _past_deadline(task):
        fail(task, _gave_up_message(task), gave_up=True)
        return
    refresh_from_engine(task, delivery)
    task.refresh_from_db()
    if task.is_at_engine:
        schedule_poll(task)


def callback_hint(task: LipSyncTask) -> bool:
    """A callback arrived: query the engine soon, at most once per debounce window."""
    now = timezone.now()
    recent = now - timedelta(seconds=HINT_DEBOUNCE_S)
    taken = (
        LipSyncTask.objects.filter(pk=task.pk, status__in=AT_ENGINE_STATUSES)
        .filter(Q(last_hint_at__isnull=True) | Q(last_hint_at__lt=recent))
        .update(last_hint_at=now)
    )
    if taken:
        background.refresh_task.delay_on_commit(str(task.pk))
    return bool(taken)


def refresh(task_id: str, delivery: str = "") -> None:
    """A callback's hint, on a worker: ask the engine about the task now."""
    task = _load(task_id)
    if task is not None:
        refresh_from_engine(task, delivery)


def refresh_from_engine(task: LipSyncTask, delivery: str = "") -> None:
    """Ask the engine how the task is doing, with our credentials, and apply the answer.

    `delivery`: the id of the worker's message that asks (see `store_results`)."""
    if not task.is_at_engine or not task.engine_task_id:
        return
    engine = engine_for(task.engine, task=task)
    try:
        state = engine.get_task(task.engine_task_id, task.kind)
    except EngineError as error:
        if error.permanent:
            fail(task, f"The engine no longer knows this task: {error.message}")
        return  # transient: the next poll asks again
    wake_waiting(task.engine)
    apply_engine_state(task, state, delivery)


def apply_engine_state(task: LipSyncTask, state: EngineTask, delivery: str = "") -> None:
    """Bring our row in line with the engine's answer; repeated answers change nothing twice."""
    if task.status in FINAL_STATUSES:
        return
    if state.status == "succeed":
        store_results(task, state, delivery)
    elif state.status == "failed":
        fail(task, state.message or "The engine could not make this video.", state.credits)
    elif state.status == "processing":
        LipSyncTask.objects.filter(pk=task.pk, status=TaskStatus.SUBMITTED).update(
            status=TaskStatus.PROCESSING, status_changed_at=timezone.now()
        )


# --- Results -------------------------------------------------------------------------------


def store_results(task: LipSyncTask, state: EngineTask, delivery: str = "") -> None:
    """Download, probe and keep the result (and its watermarked copy), then mark `succeed`.

    One download at a time: a poll and a callback's hint that both hear "succeed" would
    otherwise fetch the result twice. The one that claims it downloads; the other leaves it.
    `delivery` names the worker's message, so that the same message delivered again after its
    worker was lost takes its own claim back at once rather than waiting for it to lapse.
    """
    if not state.videos:
        fail(task, "The engine reported success but sent no video. Try again.")
        return
    claim = delivery or uuid.uuid4().hex
    if not _claim_download(task, claim):
        log.info("task %s: its result is being downloaded by another delivery", task.pk)
        return
    try:
        _download_and_keep(task, state)
    finally:
        LipSyncTask.objects.filter(pk=task.pk, download_claim=claim).update(download_claim="")


def _claim_download(task: LipSyncTask, claim: str) -> bool:
    now = timezone.now()
    lapsed = now - timedelta(seconds=DOWNLOAD_CLAIM_S)
    free = Q(download_claim="") | Q(download_claim=claim) | Q(download_claimed_at__lt=lapsed)
    taken = (
        LipSyncTask.objects.filter(pk=task.pk)
        .exclude(status__in=FINAL_STATUSES)
        .filter(free)
        .update(download_claim=claim, download_claimed_at=now)
    )
    return bool(taken)


def _download_and_keep(task: LipSyncTask, state: EngineTask) -> None:
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
            info = probe_media(path, expect="video")
            if info.kind != "video":
                raise MediaError("The engine's result has no pictures.")
    except (FetchError, MediaError, OSError) as error:
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
        locked.result_video_id = state.videos[0].id
        locked.finished_at = now
        locked.status_changed_at = now
        locked.save()
        credits = "none" if locked.credits_charged is None else str(locked.credits_charged)
        audit.record(
            None,
            AuditVerb.FINISHED,
            locked.project,
            task=locked,
            note=f"credits charged: {credits}",
        )
    _forget_workdirs(task)
    background.dispatch_engine.delay_on_commit(task.engine)
    _tell_dub(task)


def _tell_dub(task: LipSyncTask) -> None:
    """A dub's job has ended: its dub moves on from the database's state."""
    for dub_id in DubJob.objects.filter(task=task).values_list("dub_id", flat=True).distinct():
        background.advance_dub.delay_on_commit(dub_id)


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
        fail(task, f"We could not download the result: {reason}", gave_up=True)
        return
    LipSyncTask.objects.filter(pk=task.pk, status__in=AT_ENGINE_STATUSES).update(
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


def fail(
    task: LipSyncTask,
    message: str,
    credits: str | None = None,
    *,
    cure: str = "",
    gave_up: bool = False,
) -> bool:
    """Mark the task failed with a reason for the person; True if this call ended it.

    `cure`: what the person must change when trying the same again cannot help; `gave_up`:
    we stopped (a deadline), the engine did not refuse."""
    now = timezone.now()
    ended = (
        LipSyncTask.objects.filter(pk=task.pk)
        .exclude(status__in=FINAL_STATUSES)
        .update(
            status=TaskStatus.FAILED,
            status_message=message,
            credits_charged=_credits(credits),
            failure_cure=cure,
            cancel_requested=False,
            finished_at=now,
            status_changed_at=now,
        )
    )
    if ended:
        verb = AuditVerb.GAVE_UP if gave_up else AuditVerb.FAILED
        audit.record(None, verb, task.project, task=task, note=message)
        # A download interrupted earlier may have left copies under the task's fixed names.
        _delete_result_copies(task)
        _forget_workdirs(task)
        background.dispatch_engine.delay_on_commit(task.engine)
        _tell_dub(task)
    return bool(ended)


def _delete_result_copies(task: LipSyncTask) -> None:
    for field, download_name in RESULT_FIELDS.items():
        target = getattr(task, field)
        target.storage.delete(target.field.generate_filename(task, download_name))


def _past_deadline(task: LipSyncTask) -> bool:
    return timezone.now() - _deadline_start(task) > timedelta(
        seconds=settings.LIPSYNC_TASK_GIVE_UP_S
    )


def _deadline_start(task: LipSyncTask):
    """At the engine: since it was submitted. Being sent: since the sending began."""
    return task.submitted_at or task.sending_since or task.status_changed_at


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
    # An attempt under way (no next attempt scheduled) for longer than any can last.
    went_quiet = Q(status=TaskStatus.SUBMITTING, status_changed_at__lt=stale, next_poll_at=None)
    for task_id in LipSyncTask.objects.filter(went_quiet).values_list("pk", flat=True):
        # Claim by touching the row, so two reconcilers do not both resubmit it; the attempt
        # that went quiet is declared over (a new one is due now).
        if LipSyncTask.objects.filter(went_quiet, pk=task_id).update(
            status_changed_at=now, next_poll_at=now
        ):
            background.submit_task.delay_on_commit(str(task_id))
            counts["resubmitted"] += 1
    counts["resubmitted"] += _resume_overdue_retries(now)
    overdue = now - timedelta(seconds=overdue_poll_grace_s())
    for task in LipSyncTask.objects.filter(status__in=AT_ENGINE_STATUSES).filter(
        Q(next_poll_at__lt=overdue) | Q(next_poll_at__isnull=True)
    ):
        if _past_deadline(task):
            counts["gave_up"] += fail(task, _gave_up_message(task), gave_up=True)
            continue
        schedule_poll(task)
        counts["repolled"] += 1
    return counts


def _resume_overdue_retries(now) -> int:
    """Tasks waiting to be sent again whose scheduled attempt never came (its message was
    lost with a worker): send it now. A duplicate delivery stands back at the claim."""
    overdue = now - timedelta(seconds=overdue_retry_grace_s())
    resumed = 0
    for task_id in LipSyncTask.objects.filter(
        status=TaskStatus.SUBMITTING, next_poll_at__lt=overdue
    ).values_list("pk", flat=True):
        if LipSyncTask.objects.filter(
            pk=task_id, status=TaskStatus.SUBMITTING, next_poll_at__lt=overdue
        ).update(next_poll_at=now):
            background.submit_task.delay_on_commit(str(task_id))
            resumed += 1
    return resumed


def overdue_retry_grace_s() -> int:
    return max(10, settings.LIPSYNC_RECONCILE_EVERY_S)


def wake_waiting(engine_name: str) -> int:
    """The engine answered again: tasks waiting out a backoff for it try now, not minutes
    later. Returns how many were woken."""
    now = timezone.now()
    later = now + timedelta(seconds=1)
    waiting = LipSyncTask.objects.filter(
        engine=engine_name,
        status=TaskStatus.SUBMITTING,
        next_poll_at__gt=later,
        cancel_requested=False,
    )
    ids = list(waiting.values_list("pk", flat=True)[: settings.LIPSYNC_MAX_CONCURRENT])
    woken = 0
    for task_id in ids:
        if waiting.filter(pk=task_id).update(next_poll_at=now):
            background.submit_task.delay_on_commit(str(task_id))
            woken += 1
    return woken


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
