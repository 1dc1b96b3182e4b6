"""Kling's own voices and ids through the client, against the simulator over real HTTP:
text to speech, its audio_id in an advanced create (and refused once expired), voice_speed
rounding, and a Kling-made video identified by its video_id without a download."""

from __future__ import annotations

import time

import httpx
import pytest

from projects.engines import limits
from projects.engines.base import (
    AdvancedRequest,
    BasicRequest,
    EngineError,
    MediaRef,
    SpeechRequest,
    TaskKind,
)
from projects.engines.kling.payloads import speech_body
from tests.support.simulator import stats

pytest_plugins = ("tests.support.simulator",)

from tests.engines.kling.test_client import client_for  # noqa: E402  (after the fixtures)

SENTENCE = "Hello there, this is a test of the speaking voice for a lip sync."


@pytest.fixture
def kling(sim):
    records = []
    client = client_for(sim, records=records, sleeps=time.sleep)
    client.records = records
    yield client
    client.close()


def spoken(kling, **changes):
    fields = {"text": SENTENCE, "voice_id": "oversea_male1", "voice_language": "en"}
    fields.update(changes)
    return kling.speak(SpeechRequest(**fields))


def test_speech_is_made_by_the_engine_with_an_audio_id_and_its_units(sim, kling):
    task = spoken(kling)
    assert task.status == "succeed" and len(task.audios) == 1
    audio = task.audios[0]
    assert audio.audio_id and audio.duration_s and audio.duration_s > 2
    download = httpx.get(audio.url)
    assert download.status_code == 200 and download.content[:4] == b"RIFF"
    endpoints = [(record.method, record.endpoint) for record in kling.records]
    assert endpoints[0] == ("POST", "/v1/audio/tts")
    assert all(endpoint.startswith("/v1/audio/tts") for _, endpoint in endpoints)
    charged = [record.units for record in kling.records if record.units]
    assert charged == [task.credits] and float(task.credits) > 0
    listed = kling.list_speech()
    assert task.task_id in [item.task_id for item in listed]


def test_voice_speed_is_rounded_half_up_and_accepted(sim, kling, media):
    assert speech_body(SpeechRequest("Hi.", "oversea_male1", "en", 1.25))["voice_speed"] == 1.3
    assert spoken(kling, voice_speed=1.25).status == "succeed"
    created = kling.create_basic(
        BasicRequest(
            video=MediaRef(url=media.url("basic.mp4")),
            mode="text2video",
            text="Hello from the simulator.",
            voice_id="oversea_male1",
            voice_speed=1.25,
        )
    )
    assert created.status in ("submitted", "processing")


def test_a_voice_in_a_language_it_does_not_speak_is_refused_in_plain_words(sim, kling):
    with pytest.raises(EngineError) as refused:
        spoken(kling, voice_id="tiyuxi_xuedi", voice_language="en")  # a Chinese-only voice
    assert "does not speak English" in refused.value.message
    assert "Choose Chinese for 运动少年" in refused.value.message
    assert refused.value.permanent


def test_tts_text_takes_up_to_1000_characters(sim, kling):
    with pytest.raises(EngineError) as refused:
        kling.create_speech(SpeechRequest("word " * 201, "oversea_male1", "en"))
    assert "at most 1000" in refused.value.message


def _advanced(session, **changes) -> AdvancedRequest:
    fields = {
        "session_id": session.session_id,
        "face_id": session.faces[0].face_id,
        "sound_start_ms": 0,
        "sound_end_ms": 2_500,
        "sound_insert_ms": 500,
    }
    fields.update(changes)
    return AdvancedRequest(**fields)


def _finished(kling, task_id: str, kind: TaskKind = TaskKind.ADVANCED):
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        task = kling.get_task(task_id, kind)
        if task.is_terminal:
            return task
        time.sleep(0.2)
    raise AssertionError("the task did not finish")


def test_an_audio_id_is_lip_synced_and_refused_once_expired(sim, kling, media):
    audio = spoken(kling).audios[0]
    session = kling.identify_faces(MediaRef(url=media.url("face.mp4")))
    fetched = stats(sim)["fetches"].get("sound_file", 0)
    created = kling.create_advanced(_advanced(session, audio_id=audio.audio_id))
    done = _finished(kling, created.task_id)
    assert done.status == "succeed", done.message
    assert stats(sim)["fetches"].get("sound_file", 0) == fetched  # no audio was sent or fetched
    # 30 days later Kling refuses the id: the caller sends the file instead.
    age = {"seconds": limits.AUDIO_ID_TTL_S + 60}
    httpx.post(f"{sim.url}/__sim__/audios/{audio.audio_id}/age", json=age).raise_for_status()
    session = kling.identify_faces(MediaRef(url=media.url("face.mp4")))
    with pytest.raises(EngineError) as refused:
        kling.create_advanced(_advanced(session, audio_id=audio.audio_id))
    assert refused.value.code == 1201 and "expired" in refused.value.message
    with pytest.raises(EngineError) as unknown:
        kling.create_advanced(_advanced(session, audio_id="123"))
    assert "not a TTS audio" in unknown.value.message


def test_a_kling_made_video_is_identified_by_its_id_without_a_download(sim, kling, media):
    session = kling.identify_faces(MediaRef(url=media.url("face.mp4")))
    assert session.credits is not None and float(session.credits) > 0
    created = kling.create_advanced(_advanced(session, audio=MediaRef(url=media.url("speech.wav"))))
    result = _finished(kling, created.task_id).videos[0]
    before = stats(sim)["fetches"].get("video_url", 0)
    again = kling.identify_faces(MediaRef(engine_id=result.id))
    assert again.faces and stats(sim)["fetches"].get("video_url", 0) == before
    charged = [r for r in kling.records if r.endpoint.endswith("identify-face") and r.units]
    assert len(charged) == 2
    with pytest.raises(EngineError) as refused:
        kling.identify_faces(MediaRef(engine_id="999"))
    assert "not a video made by this account" in refused.value.message
