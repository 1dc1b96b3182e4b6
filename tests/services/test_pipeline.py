"""The pipeline's rules, step by step, with the real local engine in this process.

The Celery tasks only call these services; here each step is run by hand, in order, so that
every claim, duplicate and crash-recovery path can be exercised deterministically. The same
flow through real worker processes (and killed ones) is in test_pipeline_workers.py.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from projects import selectors
from projects.mediakit.probe import probe_media
from projects.models import (
    ApiCall,
    AuditEvent,
    DetectedFace,
    LipSyncTask,
    TaskStatus,
)
from projects.services import faces as face_services
from projects.services import pipeline
from projects.services import tasks as task_services
from projects.services.errors import ServiceError
from tests.support.fixtures import FACE_WINDOW_MS

pytestmark = [pytest.mark.django_db, pytest.mark.portable]


def timeline_post(face, clip, **overrides) -> dict:
    data = {
        "face": face.pk,
        "audio": clip.pk,
        "sound_start": "0.000",
        "sound_end": "2.500",
        "sound_insert": "0.800",
        "sound_volume": "1.0",
        "original_audio_volume": "0.5",
    }
    data.update(overrides)
    return data


def drive(task: LipSyncTask, max_steps: int = 20) -> LipSyncTask:
    """Run the pipeline's steps in order, as the workers would, until the task ends."""
    for _ in range(max_steps):
        task.refresh_from_db()
        if task.is_final or task.status == TaskStatus.DRAFT:
            return task
        if task.status == TaskStatus.QUEUED:
            pipeline.dispatch(task.engine)
        elif task.status == TaskStatus.SUBMITTING:
            pipeline.submit(str(task.pk))
        else:
            pipeline.poll(str(task.pk), task.poll_seq)
    task.refresh_from_db()
    return task


@pytest.fixture
def face(face_video) -> DetectedFace:
    faces = selectors.current_faces(face_video)
    assert len(faces) == 1
    return faces[0]


def submit_from_timeline(clients, face_video, face, speech, **overrides) -> LipSyncTask:
    url = reverse("projects:video", args=[face_video.pk])
    response = clients["editor"].post(url, timeline_post(face, speech, **overrides))
    assert response.status_code == 302, response.content.decode()[-2000:]
    return LipSyncTask.objects.get()


def test_face_identified_in_its_window(face_video, face):
    start, end = FACE_WINDOW_MS
    assert abs(face.start_ms - start) <= 200 and abs(face.end_ms - end) <= 200
    assert face.thumbnail.read()[:3] == b"\xff\xd8\xff"


def test_timeline_to_result_on_the_local_engine(clients, face_video, face, speech):
    task = submit_from_timeline(clients, face_video, face, speech, watermark="on")
    assert task.status == TaskStatus.QUEUED
    assert (task.sound_start_ms, task.sound_end_ms, task.sound_insert_ms) == (0, 2500, 800)
    task = drive(task)
    assert task.status == TaskStatus.SUCCEED, task.status_message
    info = probe_media(task.result_file.path)
    assert info.kind == "video" and abs(info.duration_ms - face_video.duration_ms) < 200
    assert task.watermarked_result_file
    assert task.finished_at and task.submitted_at and task.engine_task_id
    assert AuditEvent.objects.filter(task=task, verb="submitted").exists()
    assert ApiCall.objects.filter(task=task, endpoint="create_advanced").count() == 1
    page = clients["editor"].get(task.get_absolute_url()).content.decode()
    assert "Download the video" in page
    download = clients["reviewer"].get(
        reverse("projects:task-file", args=[task.pk, "result_file"]) + "?download=1"
    )
    assert download.status_code == 200
    assert "attachment" in download["Content-Disposition"]


def test_rule_broken_on_the_server_gives_the_contracts_sentence(clients, face_video, face, speech):
    url = reverse("projects:video", args=[face_video.pk])
    # The clip (2 s) placed at 0.0 overlaps the face window (from about 0.5 s) too little.
    data = timeline_post(face, speech, sound_end="2.000", sound_insert="0.000")
    response = clients["editor"].post(url, data)
    assert response.status_code == 400
    page = response.content.decode().replace("&#x27;", "'")
    have_ms = 2000 - face.start_ms
    assert (
        f"must overlap the face's window by at least 2 s; it overlaps {have_ms / 1000:g} s" in page
    )
    assert f"Move it {face.start_ms / 1000:g} s later." in page
    assert not LipSyncTask.objects.exists()


def test_crop_shorter_than_two_seconds_is_refused(clients, face_video, face, speech):
    url = reverse("projects:video", args=[face_video.pk])
    response = clients["editor"].post(url, timeline_post(face, speech, sound_end="1.500"))
    assert response.status_code == 400
    assert "at least 2 s" in response.content.decode()
    assert not LipSyncTask.objects.exists()


def test_reviewer_cannot_submit(clients, face_video, face, speech):
    url = reverse("projects:video", args=[face_video.pk])
    assert clients["reviewer"].post(url, timeline_post(face, speech)).status_code == 403
    assert not LipSyncTask.objects.exists()


def test_concurrency_limit_queues_instead_of_submitting(
    clients, face_video, face, speech, settings
):
    settings.LIPSYNC_MAX_CONCURRENT = 1
    first = submit_from_timeline(clients, face_video, face, speech)
    url = reverse("projects:video", args=[face_video.pk])
    clients["editor"].post(url, timeline_post(face, speech, sound_insert="1.000"))
    second = LipSyncTask.objects.exclude(pk=first.pk).get()
    started = pipeline.dispatch("local")
    assert started == [str(first.pk)]
    assert pipeline.dispatch("local") == []  # the slot is taken
    second.refresh_from_db()
    assert second.status == TaskStatus.QUEUED
    drive(first)
    assert pipeline.dispatch("local") == [str(second.pk)]


def test_submit_delivered_twice_creates_once(clients, face_video, face, speech):
    task = submit_from_timeline(clients, face_video, face, speech)
    pipeline.dispatch("local")
    pipeline.submit(str(task.pk))
    pipeline.submit(str(task.pk))
    task.refresh_from_db()
    assert task.status == TaskStatus.SUCCEED
    assert ApiCall.objects.filter(task=task, endpoint="create_advanced").count() == 1


def test_crash_after_create_is_adopted_not_created_again(clients, face_video, face, speech):
    """A worker died after sending the create: the next attempt finds the task at the engine."""
    task = submit_from_timeline(clients, face_video, face, speech)
    pipeline.dispatch("local")
    engine = pipeline.engine_for("local", task=task)
    # What the lost worker did: count the attempt, note that a create may reach the engine,
    # then create at the engine, then die.
    LipSyncTask.objects.filter(pk=task.pk).update(create_attempts=1, create_unsure=True)
    task.refresh_from_db()
    made = pipeline._create_at_engine(engine, task)
    # The reconciler declares the quiet attempt over, and resubmits.
    LipSyncTask.objects.filter(pk=task.pk).update(next_poll_at=timezone.now())
    pipeline.submit(str(task.pk))
    task.refresh_from_db()
    assert task.engine_task_id == made.task_id
    assert task.status == TaskStatus.SUCCEED
    assert ApiCall.objects.filter(task=task, endpoint="create_advanced").count() == 1


def test_reconcile_resubmits_a_stale_submitting_task(clients, face_video, face, speech, settings):
    settings.LIPSYNC_SUBMIT_TIME_LIMIT_S = 5
    task = submit_from_timeline(clients, face_video, face, speech)
    pipeline.dispatch("local")
    LipSyncTask.objects.filter(pk=task.pk).update(
        status_changed_at=timezone.now() - timedelta(seconds=11)
    )
    counts = pipeline.reconcile()
    assert counts["resubmitted"] == 1
    assert pipeline.reconcile()["resubmitted"] == 0  # claimed: not twice


def test_duplicate_poll_link_is_dropped(clients, face_video, face, speech, monkeypatch):
    task = submit_from_timeline(clients, face_video, face, speech)
    LipSyncTask.objects.filter(pk=task.pk).update(
        status=TaskStatus.SUBMITTED, engine_task_id="unknown-at-engine", submitted_at=timezone.now()
    )
    calls = []
    monkeypatch.setattr(
        pipeline, "refresh_from_engine", lambda task, delivery="": calls.append(task.pk)
    )
    pipeline.poll(str(task.pk), 0)
    pipeline.poll(str(task.pk), 0)  # the same link delivered again
    assert len(calls) == 1


def test_task_past_its_deadline_fails_with_a_plain_reason(
    clients, face_video, face, speech, settings
):
    settings.LIPSYNC_TASK_GIVE_UP_S = 600
    task = submit_from_timeline(clients, face_video, face, speech)
    LipSyncTask.objects.filter(pk=task.pk).update(
        status=TaskStatus.PROCESSING,
        engine_task_id="x",
        submitted_at=timezone.now() - timedelta(minutes=11),
    )
    pipeline.poll(str(task.pk), 0)
    task.refresh_from_db()
    assert task.status == TaskStatus.FAILED
    assert "did not finish within 10 minutes" in task.status_message


def test_expired_session_is_refreshed_and_the_face_matched(clients, face_video, face, speech):
    task = submit_from_timeline(clients, face_video, face, speech)
    DetectedFace.objects.filter(pk=face.pk).update(
        session_expires_at=timezone.now() - timedelta(hours=1)
    )
    task = drive(task)
    assert task.status == TaskStatus.SUCCEED, task.status_message
    assert task.face_id != face.pk
    assert task.face.session_id != face.session_id


def test_expired_session_without_a_sure_match_asks_to_pick_again(
    clients, face_video, face, speech, monkeypatch
):
    task = submit_from_timeline(clients, face_video, face, speech)
    DetectedFace.objects.filter(pk=face.pk).update(
        session_expires_at=timezone.now() - timedelta(hours=1)
    )
    monkeypatch.setattr(face_services, "best_match", lambda old, candidates: None)
    task = drive(task)
    assert task.status == TaskStatus.DRAFT
    assert "Pick the face again" in task.status_message


def test_failed_task_try_again_keeps_every_parameter(clients, face_video, face, speech):
    task = submit_from_timeline(clients, face_video, face, speech, sound_volume="1.5")
    pipeline.fail(task, "The engine's content policy refused this video.")
    page = clients["editor"].get(task.get_absolute_url()).content.decode()
    assert "content policy" in page and "Try again" in page
    response = clients["editor"].post(reverse("projects:task-retry", args=[task.pk]))
    fresh = LipSyncTask.objects.exclude(pk=task.pk).get()
    assert response.status_code == 302 and response.url == fresh.get_absolute_url()
    for name in ("face_id", "audio_id", "sound_end_ms", "sound_insert_ms", "sound_volume"):
        assert getattr(fresh, name) == getattr(task, name)
    assert fresh.external_task_id != task.external_task_id
    assert fresh.retry_of_id == task.pk
    assert AuditEvent.objects.filter(task=fresh, verb="retried").exists()


def test_duplicate_opens_the_editor_with_the_old_values(clients, face_video, face, speech):
    task = submit_from_timeline(clients, face_video, face, speech, sound_insert="0.900")
    url = reverse("projects:video", args=[face_video.pk]) + f"?from={task.pk}"
    page = clients["editor"].get(url).content.decode()
    assert 'value="0.9"' in page or 'value="0.900"' in page


def test_cancel_only_before_the_engine_has_it(clients, face_video, face, speech):
    task = submit_from_timeline(clients, face_video, face, speech)
    clients["editor"].post(reverse("projects:task-cancel", args=[task.pk]))
    task.refresh_from_db()
    assert task.status == TaskStatus.CANCELLED
    assert pipeline.dispatch("local") == []


def test_status_partial_stops_polling_when_final(clients, face_video, face, speech):
    task = submit_from_timeline(clients, face_video, face, speech)
    url = reverse("projects:task-status", args=[task.pk])
    assert clients["editor"].get(url).status_code == 200
    drive(task)
    response = clients["editor"].get(url)
    assert response.status_code == 286
    assert "Your video is ready" in response.content.decode()


def test_quick_mode_text_to_video_on_the_local_engine(clients, project, users, tmp_path):
    from tests.support.facevideos import ASTRONAUT, Appearance, write_face_video
    from tests.support.fixtures import add_video

    path = tmp_path / "square.mp4"
    write_face_video(path, [Appearance(ASTRONAUT, 0, 3000)], duration_ms=3000, size=(720, 720))
    video = add_video(project, users["editor"], path, identify=False)
    response = clients["editor"].post(
        reverse("projects:quick", args=[video.pk]),
        {
            "mode": "text",
            "text": "Hello from the local engine.",
            "voice_id": "oversea_male1",
            "voice_language": "en",
            "voice_speed": "1.0",
        },
    )
    task = LipSyncTask.objects.get()
    assert response.status_code == 302
    task = drive(task)
    assert task.status == TaskStatus.SUCCEED, task.status_message
    assert task.kind == "basic"


def test_quick_mode_refuses_a_video_outside_its_limits(clients, face_video):
    page = clients["editor"].get(reverse("projects:quick", args=[face_video.pk])).content.decode()
    # 640×512 is under quick mode's 720 px: no quick task, but the enlarged copy is offered.
    assert "Quick mode needs a copy of this video" in page
    assert "Make a copy for quick mode" in page
    assert "Lip-sync the whole video" not in page


# --- Cancel while waiting to send again ------------------------------------------------------


def waiting_after(task: LipSyncTask, *, create_unsure: bool) -> None:
    """As after a failed attempt: the next one is due in a minute."""
    LipSyncTask.objects.filter(pk=task.pk).update(
        create_attempts=1,
        create_unsure=create_unsure,
        next_poll_at=timezone.now() + timedelta(minutes=1),
        status_message="Waiting to retry: the engine did not answer.",
    )
    task.refresh_from_db()


def test_cancel_after_a_possible_create_looks_up_first_and_says_none_was_made(
    clients, face_video, face, speech, users
):
    task = submit_from_timeline(clients, face_video, face, speech)
    pipeline.dispatch("local")
    waiting_after(task, create_unsure=True)
    assert task.can_cancel
    told = task_services.cancel(task, users["editor"])
    assert told == "Cancelling: we are checking whether the engine received it."
    task.refresh_from_db()
    assert task.is_cancelling and not task.can_cancel
    pipeline.submit(str(task.pk))  # the worker's look-up
    task.refresh_from_db()
    assert task.status == TaskStatus.CANCELLED
    assert task.status_message == (
        "Cancelled. The local engine had not received the task; nothing was charged."
    )
    assert not ApiCall.objects.filter(task=task, endpoint="create_advanced").exists()


def test_cancel_after_a_create_that_reached_the_engine_keeps_the_task(
    clients, face_video, face, speech, users
):
    task = submit_from_timeline(clients, face_video, face, speech)
    pipeline.dispatch("local")
    engine = pipeline.engine_for("local", task=task)
    made = pipeline._create_at_engine(engine, task)  # the create got through; its answer did not
    waiting_after(task, create_unsure=True)
    task_services.cancel(task, users["editor"])
    pipeline.submit(str(task.pk))
    task.refresh_from_db()
    assert task.engine_task_id == made.task_id
    assert task.status == TaskStatus.SUCCEED  # kept, since it was made (and charged)
    assert ApiCall.objects.filter(task=task, endpoint="create_advanced").count() == 1


def test_cancel_during_an_attempt_is_refused(clients, face_video, face, speech, users):
    task = submit_from_timeline(clients, face_video, face, speech)
    pipeline.dispatch("local")
    LipSyncTask.objects.filter(pk=task.pk).update(create_attempts=1, next_poll_at=None)
    task.refresh_from_db()
    assert not task.can_cancel
    with pytest.raises(ServiceError, match="being sent to the engine right now"):
        task_services.cancel(task, users["editor"])
