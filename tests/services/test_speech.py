"""Typed speech and Kling's ids through the pipeline: the simulator over real HTTP, a real
Celery worker for the lip-sync, our own media served to the simulator by the live server.

A text line on the Kling engine is spoken by Kling's text to speech, its audio_id is sent in
the create and the task succeeds; an expired (or forgotten) audio_id falls back to the file;
a result continued as a new video is identified by its video_id without a download; credits
count the speech and the identifications.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from django.utils import timezone

from projects import selectors
from projects.models import ApiCall, AudioClip, LipSyncTask, MediaStatus, SourceVideo, TaskStatus
from projects.services import faces, media, speech
from projects.services import tasks as task_services
from tests.support import pipeline_harness as harness
from tests.support.pipeline_harness import CROP, CeleryStack, Scene, sim_stats, wait_for_final

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]
kling_sim, kling_env, scene = harness.kling_sim, harness.kling_env, harness.scene  # fixtures

LINE = "Good morning everyone, and welcome to the quarterly meeting of the team."


def spoken_clip(scene: Scene, **changes) -> AudioClip:
    """A text line made into a clip as the page's form does (the worker's job run here)."""
    data = {"text": LINE, "voice_id": "oversea_male1", "voice_language": "en"}
    data["voice_speed"] = Decimal("1.3")
    data.update(changes)
    clip = media.create_tts_clip(project=scene.project, user=scene.user, data=data)
    media.synthesize_clip(clip.pk)
    clip.refresh_from_db()
    assert clip.status == MediaStatus.READY, clip.rejection_reason
    return clip


def lip_sync(scene: Scene, clip: AudioClip, stack: CeleryStack) -> LipSyncTask:
    data = {
        "face": scene.face,
        "audio": clip,
        "sound_volume": 1.0,
        "original_audio_volume": 0.5,
        "watermark": False,
        **CROP,
    }
    task = task_services.create_advanced(video=scene.video, user=scene.user, data=data)
    wait_for_final([task], stack, timeout_s=180)
    task.refresh_from_db()
    return task


def test_typed_speech_on_kling_is_kling_tts_and_its_audio_id_is_sent(
    scene, kling_env, kling_sim, _media_root
):
    assert speech.by_engine()
    clip = spoken_clip(scene)
    assert clip.kling_audio_id and clip.usable_kling_audio_id == clip.kling_audio_id
    assert clip.kling_audio_expires_at > timezone.now() + timedelta(days=29)
    assert clip.duration_ms > CROP["sound_end_ms"]
    (tts_call,) = ApiCall.objects.filter(audio=clip, method="POST")
    assert tts_call.endpoint == "/v1/audio/tts" and tts_call.task is None
    assert ApiCall.objects.filter(audio=clip, units__gt=0).count() == 1
    stack = CeleryStack(_media_root, kling_env).start()
    try:
        task = lip_sync(scene, clip, stack)
    finally:
        stack.stop()
    assert task.status == TaskStatus.SUCCEED, task.status_message
    stats = sim_stats(kling_sim)
    assert stats["tts_tasks"] == 1
    assert stats["audio_uses"] == {clip.kling_audio_id: 1}  # the create named the audio_id
    assert task.result_video_id


def test_an_expired_or_forgotten_audio_id_falls_back_to_the_file(
    scene, kling_env, kling_sim, _media_root
):
    expired = spoken_clip(scene)
    AudioClip.objects.filter(pk=expired.pk).update(
        kling_audio_expires_at=timezone.now() - timedelta(minutes=5)
    )
    forgotten = spoken_clip(scene)  # still valid here; the engine no longer has it
    age = {"seconds": 31 * 24 * 3600}
    admin = f"{kling_sim.url}/__sim__/audios/{forgotten.kling_audio_id}/age"
    httpx.post(admin, json=age).raise_for_status()
    stack = CeleryStack(_media_root, kling_env).start()
    try:
        first = lip_sync(scene, AudioClip.objects.get(pk=expired.pk), stack)
        second = lip_sync(scene, forgotten, stack)
    finally:
        stack.stop()
    assert first.status == TaskStatus.SUCCEED, first.status_message
    assert second.status == TaskStatus.SUCCEED, second.status_message
    uses = sim_stats(kling_sim)["audio_uses"]
    assert expired.kling_audio_id not in uses  # never sent once expired
    assert forgotten.kling_audio_id not in uses  # refused by the engine, then the file went
    forgotten.refresh_from_db()
    assert forgotten.kling_audio_id == ""
    creates = ApiCall.objects.filter(task=second, method="POST", endpoint__endswith="lip-sync")
    assert [call.business_code for call in creates] == ["1201", "0"]
    assert "audio_id" in creates[0].error and "expired" in creates[0].error


def test_a_result_continued_as_a_video_is_identified_by_its_video_id(
    scene, kling_env, kling_sim, _media_root, tmp_path: Path
):
    clip = spoken_clip(scene)
    stack = CeleryStack(_media_root, kling_env).start()
    try:
        task = lip_sync(scene, clip, stack)
    finally:
        stack.stop()
    assert task.status == TaskStatus.SUCCEED, task.status_message
    video = media.continue_from_result(task, user=scene.user)
    assert video.kling_video_id == task.result_video_id
    assert video.usable_kling_video_id == task.result_video_id
    media.probe_video(video.pk)  # the worker's job, here: probe, then the face search
    video = SourceVideo.objects.get(pk=video.pk)
    assert video.status == MediaStatus.READY, video.rejection_reason
    fetched_before = sim_stats(kling_sim)["fetches"].get("video_url", 0)
    faces.identify(video.pk)
    video.refresh_from_db()
    assert video.faces_searched, video.face_search_message
    assert sim_stats(kling_sim)["fetches"].get("video_url", 0) == fetched_before
    identify_calls = ApiCall.objects.filter(video=video, endpoint__endswith="identify-face")
    assert identify_calls.count() == 1 and identify_calls.get().units > 0
    # Credits: the task, and on their own the speech and every identification.
    (month,) = selectors.credits_by_month(
        scene.project.tasks.all(), selectors.charged_calls(scene.project)
    )
    speech_units = sum(c.units for c in ApiCall.objects.filter(audio=clip, units__isnull=False))
    identify_units = sum(
        c.units for c in ApiCall.objects.filter(endpoint__endswith="identify-face", units__gt=0)
    )
    assert speech_units > 0 and identify_units >= 2 * Decimal("0.5")  # the scene's and this one
    assert month.other_units == speech_units + identify_units
    assert month.credits == task.credits_charged + speech_units + identify_units
