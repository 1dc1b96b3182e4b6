"""Dubs through the services with the local engine and real faces: people, lines and their
rules, the plan, the jobs as lip-sync tasks through the pipeline, and the assembled result.

The media checks of a whole dub (speech at its time, mouths moving, untouched frames) are
tests/mediakit/test_dub_local.py's, on 150 s; here a 30 s source checks what the services add.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import av
import pytest
from django.utils import timezone

from projects.engines import limits
from projects.models import (
    ApiCall,
    AudioClip,
    Dub,
    DubJob,
    DubState,
    LipSyncTask,
    SourceVideo,
    TaskStatus,
)
from projects.services import dubs
from projects.services.errors import ServiceError
from tests.support.dubs import (
    SHORT_LINES,
    SHORT_MS,
    add_dub_video,
    add_speech_like,
    write_short_dub_video,
)
from tests.support.pipeline_harness import orphaned_media_files

pytestmark = [pytest.mark.django_db, pytest.mark.slow]


@pytest.fixture(scope="module")
def short_video_file(tmp_path_factory) -> Path:
    return write_short_dub_video(tmp_path_factory.mktemp("dub") / "interview.mp4")


@pytest.fixture
def video(project, users, short_video_file):
    return add_dub_video(project, users["editor"], short_video_file)


@pytest.fixture
def dub(video, users) -> Dub:
    return dubs.create(video=video, user=users["editor"], original_volume=0.5)


def add_lines(dub: Dub, users, tmp_path: Path, lines=SHORT_LINES) -> list:
    made = []
    for seed, (person, at, length) in enumerate(lines, start=1):
        clip = add_speech_like(
            dub.project, users["editor"], tmp_path / f"line{seed}.wav", seed, length
        )
        made.append(dubs.add_line(dub, dubs.LineInput(person=person, at_ms=at, audio=clip)))
    return made


def test_people_are_numbered_in_order_of_first_appearance_with_their_windows(video):
    people = list(video.people.all())
    assert [p.number for p in people] == [1, 2]
    first, second = people
    assert len(first.spans) == 2, first.spans  # leaves at 18 s, comes back at 22 s
    assert abs(first.spans[0][0] - 0) <= 300 and abs(first.spans[1][0] - 22_000) <= 300
    assert len(second.spans) == 1 and abs(second.spans[0][0] - 4_000) <= 300
    assert first.thumbnail.read()[:3] == b"\xff\xd8\xff"


def test_a_video_too_small_for_one_task_is_taken_for_a_dub(video):
    # 640x360: below the engine's 512 px sides; its windows are scaled up when sent.
    assert [p["code"] for p in video.problems] == ["too_small"]
    assert video.can_dub, video.dub_refusal


def test_a_dub_runs_each_planned_job_once_and_assembles_the_source_length(
    dub, users, tmp_path, settings
):
    add_lines(dub, users, tmp_path)
    plan = dubs.submit(dub, users["editor"])
    assert dub.state == DubState.RUNNING
    assert plan.engine_tasks == 3 and len(plan.windows) == 2
    assert dub.plan["engine_tasks"] == 3 and dub.plan["people"] == 2
    # A worker that claimed the first job and died: its claim goes stale and the job starts
    # again, once (beat's reconcile moves every dub being made on).
    first = dub.jobs.first()
    first.starting_at = timezone.now() - dubs.start_stale_after() - timedelta(seconds=1)
    first.save(update_fields=["starting_at"])
    assert dubs.reconcile() == 1

    dubs.run_in_process(dub, poll_s=0.05)
    dub.refresh_from_db()
    assert dub.state == DubState.DONE, dub.state_message
    tasks = LipSyncTask.objects.filter(dub_jobs__dub=dub)
    assert tasks.count() == 3 and all(t.status == TaskStatus.SUCCEED for t in tasks)
    creates = ApiCall.objects.filter(endpoint__contains="create_advanced")
    assert creates.count() == 3
    with av.open(dub.result_file.path) as result:
        stream = result.streams.video[0]
        frames = sum(1 for _ in result.decode(stream))
        assert abs(frames - SHORT_MS * 12 / 1000) <= 1
        assert (stream.codec_context.width, stream.codec_context.height) == (640, 360)
        assert result.streams.audio[0].codec_context.name == "aac"
    # The parts sent to the engine are not the project's own videos.
    assert list(dub.project.videos.filter(made_for_dub__isnull=True)) == [dub.source]

    # Submitting again with nothing changed reuses every result: nothing is sent again.
    dubs.submit(dub, users["editor"])
    dubs.run_in_process(dub, poll_s=0.05)
    dub.refresh_from_db()
    assert dub.state == DubState.DONE
    assert ApiCall.objects.filter(endpoint__contains="create_advanced").count() == 3


def test_editing_one_line_reruns_only_its_jobs(dub, users, tmp_path):
    made = add_lines(dub, users, tmp_path)
    dubs.submit(dub, users["editor"])
    dubs.run_in_process(dub, poll_s=0.05)
    last = made[2]
    dubs.change_line(
        last, dubs.LineInput(person=1, at_ms=last.at_ms + 500, audio=last.audio, volume=0.9)
    )
    dubs.submit(dub, users["editor"])
    dubs.run_in_process(dub, poll_s=0.05)
    dub.refresh_from_db()
    assert dub.state == DubState.DONE
    assert ApiCall.objects.filter(endpoint__contains="create_advanced").count() == 4


# --- bad input: plain words, nothing sent ------------------------------------------------------


def _nothing_sent(dub: Dub) -> None:
    dub.refresh_from_db()
    assert dub.state == DubState.DRAFT
    assert not dub.jobs.exists()
    assert not LipSyncTask.objects.exists()
    assert not ApiCall.objects.exists()


def test_a_line_off_screen_is_told_with_a_fix_and_nothing_is_sent(dub, users, tmp_path):
    # Person 1 is away from 18 s to 22 s.
    (line,) = add_lines(dub, users, tmp_path, lines=((1, 19_000, 2_000),))
    check = dubs.line_checks(dub)[line.pk]
    assert "not on screen" in check.violations[0].message
    assert check.violations[0].fixed is not None
    with pytest.raises(ServiceError, match="not on screen"):
        dubs.submit(dub, users["editor"])
    _nothing_sent(dub)
    dubs.apply_fix(line)
    assert dubs.line_checks(dub)[line.pk].ok


def test_overlapping_lines_of_one_person_are_refused_in_words(dub, users, tmp_path):
    add_lines(dub, users, tmp_path, lines=((2, 8_000, 3_000), (2, 10_000, 2_000)))
    with pytest.raises(ServiceError, match="overlaps person 2's line"):
        dubs.submit(dub, users["editor"])
    _nothing_sent(dub)


def test_a_line_longer_than_the_engine_takes_is_refused_in_words(dub, users, tmp_path):
    longest = limits.AUDIO.max_duration_ms
    clip = add_speech_like(dub.project, users["editor"], tmp_path / "long.wav", 9, longest + 1_000)
    line = dubs.add_line(dub, dubs.LineInput(person=2, at_ms=5_000, audio=clip))
    check = dubs.line_checks(dub)[line.pk]
    assert check.violations[0].message.startswith("This line lasts 61 s")
    with pytest.raises(ServiceError, match="at most 60 s"):
        dubs.submit(dub, users["editor"])
    _nothing_sent(dub)


def test_a_source_over_thirty_minutes_is_refused_in_words(video, users):
    video.duration_ms = limits.DUB_SOURCE.max_duration_ms + 1_000
    video.save(update_fields=["duration_ms"])
    with pytest.raises(ServiceError, match="up to 30 minutes"):
        dubs.create(video=video, user=users["editor"])
    assert not Dub.objects.exists()


def test_text_over_the_voices_limit_is_refused_in_words(dub):
    with pytest.raises(ServiceError, match="at most 120"):
        dubs.speech_clip(dub, text="word " * 40, voice_id="genshin_vindi2")


def test_a_person_who_is_not_in_the_video_is_refused_in_words(dub, users, tmp_path):
    clip = add_speech_like(dub.project, users["editor"], tmp_path / "x.wav", 3, 2_000)
    with pytest.raises(ServiceError, match="no person 3"):
        dubs.add_line(dub, dubs.LineInput(person=3, at_ms=1_000, audio=clip))
    assert not dub.lines.exists()


def test_a_job_started_by_two_workers_is_sent_once(dub, users, tmp_path, monkeypatch):
    """A worker slow enough for its claim to go stale, and a second one that starts the same
    job meanwhile: the first to attach its task sends it; the other's is dropped unsent."""
    add_lines(dub, users, tmp_path)
    dubs.submit(dub, users["editor"])
    job = dub.jobs.order_by("window_index", "chain_index").first()
    make_task = dubs._make_task
    second_started = []

    def slow_first_worker(dub_, job_, previous):
        task = make_task(dub_, job_, previous)
        if not second_started:  # meanwhile the claim went stale and another worker took it
            second_started.append(True)
            DubJob.objects.filter(pk=job_.pk).update(
                starting_at=timezone.now() - dubs.start_stale_after() - timedelta(seconds=1)
            )
            dubs._start_job(dub_, DubJob.objects.get(pk=job_.pk), previous)
        return task

    monkeypatch.setattr(dubs, "_make_task", slow_first_worker)
    dubs._start_job(dub, job, None)
    job.refresh_from_db()
    made = LipSyncTask.objects.filter(title=job.task.title)
    assert made.count() == 1 and job.task == made.get()
    assert job.starting_at is None


def test_deleting_a_dub_takes_what_was_made_for_it_and_keeps_what_another_reuses(
    video, users, tmp_path, django_capture_on_commit_callbacks
):
    media_root = tmp_path / "media"
    editor = users["editor"]
    clip = add_speech_like(video.project, editor, tmp_path / "line.wav", 1, 2_500)

    def made_dub() -> Dub:
        dub = dubs.create(video=video, user=editor)
        dubs.add_line(dub, dubs.LineInput(person=1, at_ms=6_000, audio=clip))
        dubs.submit(dub, editor)
        dubs.run_in_process(dub, poll_s=0.05)
        dub.refresh_from_db()
        assert dub.state == DubState.DONE, dub.state_message
        return dub

    first, second = made_dub(), made_dub()
    shared = LipSyncTask.objects.get()  # the second dub reused the first one's job
    assert second.jobs.get().task == shared
    assert "delete the dub first" in video.delete_refusal

    with django_capture_on_commit_callbacks(execute=True):
        dubs.delete(first, by=editor)
    assert not Dub.objects.filter(pk=first.pk).exists()
    shared.refresh_from_db()
    assert shared.result_file.storage.exists(shared.result_file.name)
    assert SourceVideo.objects.get(pk=shared.video_id).made_for_dub_id == second.pk
    assert second.result_file.storage.exists(second.result_file.name)
    assert orphaned_media_files(media_root) == []

    with django_capture_on_commit_callbacks(execute=True):
        dubs.delete(second, by=editor)
    assert not LipSyncTask.objects.exists()
    assert not SourceVideo.objects.filter(made_for_dub__isnull=False).exists()
    assert not AudioClip.objects.filter(made_for_dub__isnull=False).exists()
    assert orphaned_media_files(media_root) == []
    # With its dubs gone, the video itself can be deleted.
    video.refresh_from_db()
    assert video.delete_refusal == ""


def test_a_dub_being_made_is_not_deleted(dub, users, tmp_path):
    add_lines(dub, users, tmp_path, lines=SHORT_LINES[:1])
    dubs.submit(dub, users["editor"])
    with pytest.raises(ServiceError, match="being made right now"):
        dubs.delete(dub, by=users["editor"])
    assert Dub.objects.filter(pk=dub.pk).exists()
