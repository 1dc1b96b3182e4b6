"""The app on the Kling engine (the simulator over real HTTP, a real worker): Kling's voices in
the picker, each in its own language, speech and samples made by Kling; "Import from Kling";
"Continue from this result"; credits that count speech and face identification."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import expect

from projects.engines.simulator.state import ResultFile
from projects.models import (
    ApiCall,
    AudioClip,
    AudioSource,
    LipSyncTask,
    MediaStatus,
    SourceVideo,
    TaskKind,
    TaskStatus,
)
from projects.services import voices
from tests.support import pipeline_harness as harness
from tests.support.browser import WORKER_TIMEOUT_MS, log_in, screenshot
from tests.support.workers import WorkerProcess, purge_broker, wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]
kling_sim, kling_env, scene = harness.kling_sim, harness.kling_env, harness.scene  # fixtures

COUNT_PLAYS = """() => {
  window.samplePlays = 0;
  const play = HTMLMediaElement.prototype.play;
  HTMLMediaElement.prototype.play = function () {
    window.samplePlays += 1;
    return play.call(this).catch(() => undefined);
  };
}"""


@pytest.fixture
def kling_worker(_media_root, kling_env) -> Iterator[WorkerProcess]:
    purge_broker()
    process = WorkerProcess(_media_root, kling_env).start()
    yield process
    process.stop()


def test_kling_voices_speak_typed_text_and_their_samples(page, kling_worker, kling_sim, project):
    page.add_init_script(f"({COUNT_PLAYS})()")
    log_in(page, "editor")
    page.goto(project.get_absolute_url())
    page.get_by_text("Type text for a voice instead").click()
    expect(page.get_by_text("Kling's voices speak your text")).to_be_visible()
    voice, language = page.get_by_label("Voice"), page.get_by_label("Language")
    voice.select_option("tiyuxi_xuedi")  # 运动少年 speaks Chinese only
    expect(language).to_have_value("zh")
    voice.select_option("oversea_male1")  # Anchor speaks English only
    expect(language).to_have_value("en")
    screenshot(page, "kling-voice-picker")
    sample = voices.sample_path("oversea_male1", "en")
    assert "kling" in sample.parts
    sample.unlink(missing_ok=True)
    sample.with_name(sample.name + ".requested").unlink(missing_ok=True)
    page.get_by_role("button", name="Hear this voice").click()
    page.wait_for_function("() => window.samplePlays > 0", timeout=WORKER_TIMEOUT_MS)
    assert sample.exists()
    tts_before = httpx.get(f"{kling_sim.url}/__sim__/stats").json()["tts_tasks"]
    page.get_by_label("Words to say").fill("Welcome to the harbour, where the boats come in.")
    page.get_by_role("button", name="Make the audio clip").click()
    wait_until(
        lambda: AudioClip.objects.filter(project=project, status=MediaStatus.READY).exists(),
        timeout_s=WORKER_TIMEOUT_MS / 1000,
        what="the spoken clip",
        worker=kling_worker,
    )
    clip = AudioClip.objects.get(project=project, source=AudioSource.TTS)
    assert clip.kling_audio_id
    assert httpx.get(f"{kling_sim.url}/__sim__/stats").json()["tts_tasks"] == tts_before + 1
    # The sample is served from our storage now: a second press asks Kling for nothing.
    page.goto(project.get_absolute_url())
    page.get_by_text("Type text for a voice instead").click()
    page.get_by_label("Voice").select_option("oversea_male1")
    page.get_by_role("button", name="Hear this voice").click()
    page.wait_for_function("() => window.samplePlays > 0")
    assert httpx.get(f"{kling_sim.url}/__sim__/stats").json()["tts_tasks"] == tts_before + 1
    assert page.js_errors == []


def finished_task(scene, kling_sim) -> LipSyncTask:
    """A task Kling finished: its result is one of the simulator's own videos."""
    files = kling_sim.sim.files_dir
    video_id = kling_sim.sim.store.new_id()
    result_path = files / f"result-{video_id}.mp4"
    with scene.video.file.open("rb") as source, result_path.open("wb") as out:
        shutil.copyfileobj(source, out)
    kling_sim.sim.store.add_file(ResultFile(video_id, result_path, time.time()))
    task = LipSyncTask.objects.create(
        project=scene.project,
        video=scene.video,
        face=scene.face,
        audio=scene.clip,
        kind=TaskKind.ADVANCED,
        engine="kling",
        external_task_id=f"browser-{video_id}",
        created_by=scene.user,
        status=TaskStatus.SUCCEED,
        credits_charged=2,
        result_video_id=video_id,
        **harness.CROP,
    )
    with result_path.open("rb") as handle:
        task.result_file.save("result.mp4", handle)
    return task


def test_continue_from_a_result_and_import_from_kling(scene, page, kling_sim, kling_worker):
    task = finished_task(scene, kling_sim)
    log_in(page, "editor")
    page.goto(task.get_absolute_url())
    screenshot(page, "kling-task-continue")
    fetched = httpx.get(f"{kling_sim.url}/__sim__/stats").json()["fetches"].get("video_url", 0)
    page.get_by_role("button", name="Continue from this result").click()
    page.wait_for_url("**/videos/**")
    continued = SourceVideo.objects.get(kling_video_id=task.result_video_id)
    wait_until(
        lambda: SourceVideo.objects.get(pk=continued.pk).faces_searched,
        timeout_s=WORKER_TIMEOUT_MS / 1000,
        what="the continued video's faces",
        worker=kling_worker,
    )
    stats = httpx.get(f"{kling_sim.url}/__sim__/stats").json()
    assert stats["fetches"].get("video_url", 0) == fetched  # identified by its video_id

    page.goto(scene.project.get_absolute_url())
    page.get_by_text("Import from Kling").click()
    kling_form = page.locator("form[action$='/import-kling/']")
    page.get_by_label("The video's address on Kling").fill(f"{kling_sim.url}/files/x.mp4")
    page.get_by_label("Its id on Kling").fill("not an id")
    kling_form.get_by_role("button", name="Import").click()
    expect(page.locator("#kling-import-errors")).to_contain_text("letters and digits")
    screenshot(page, "kling-import")
    result_url = f"{kling_sim.url}/files/result-{task.result_video_id}.mp4"
    page.get_by_label("The video's address on Kling").fill(result_url)
    page.get_by_label("Its id on Kling").fill(task.result_video_id)
    kling_form.get_by_role("button", name="Import").click()
    page.wait_for_url("**/videos/**")
    imported = SourceVideo.objects.exclude(pk=continued.pk).get(kling_video_id=task.result_video_id)
    wait_until(
        lambda: SourceVideo.objects.get(pk=imported.pk).status == MediaStatus.READY,
        timeout_s=WORKER_TIMEOUT_MS / 1000,
        what="the imported video",
        worker=kling_worker,
    )

    page.goto(scene.project.get_absolute_url())
    credits = page.locator("#credits-heading").locator("xpath=..")
    charged = ApiCall.objects.filter(units__isnull=False).count()
    assert charged >= 2  # the scene's identification and the continued video's
    expect(credits).to_contain_text("Speech and face searches")
    credits.scroll_into_view_if_needed()
    screenshot(page, "kling-credits")
    assert page.js_errors == []
