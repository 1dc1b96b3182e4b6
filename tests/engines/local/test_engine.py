"""LocalEngine: the Engine interface with the contract's sessions, rules, messages and records."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from urllib.parse import urlparse

import av
import pytest

from projects.engines.base import (
    AdvancedRequest,
    BasicRequest,
    Engine,
    EngineError,
    MediaRef,
)
from projects.engines.local import LocalEngine
from tests.support.facevideos import ASTRONAUT, Appearance
from tests.support.facevideos import write_face_video as write_appearances
from tests.support.talking_heads import syllables, write_face_video, write_wav

T0 = 1_700_000_000.0
DAY_S = 24 * 3600


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def setup(tmp_path_factory) -> dict:
    """One engine, a 4 s video of one face, its face session, and a 3 s speech-like clip."""
    folder = tmp_path_factory.mktemp("engine")
    clock = Clock()
    engine = LocalEngine(folder / "work", clock=clock)
    video = write_face_video(folder / "face.mp4", centres=(0.5,))
    session = engine.identify_faces(MediaRef(path=str(video)))
    return {
        "engine": engine,
        "clock": clock,
        "folder": folder,
        "video": video,
        "session": session,
        "clip": write_wav(folder / "clip.wav", syllables, 3000),
    }


def advanced(setup: dict, **changes) -> AdvancedRequest:
    """A valid request (clip 0-2.5 s inserted at 1 s), with `changes` applied."""
    request = AdvancedRequest(
        session_id=setup["session"].session_id,
        face_id=setup["session"].faces[0].face_id,
        sound_start_ms=0,
        sound_end_ms=2500,
        sound_insert_ms=1000,
        audio=MediaRef(path=str(setup["clip"])),
    )
    return dataclasses.replace(request, **changes)


def local_path(url: str) -> Path:
    assert url.startswith("file:///")
    return Path(urlparse(url).path)


# --- identify ----------------------------------------------------------------------------------


def test_is_an_engine(setup):
    assert isinstance(setup["engine"], Engine)
    assert setup["engine"].name == "local"


def test_identify_returns_faces_with_thumbnails_and_a_24_hour_session(setup):
    session = setup["session"]
    assert len(session.faces) == 1
    face = session.faces[0]
    assert face.image_jpeg[:2] == b"\xff\xd8"  # a JPEG
    assert face.start_ms <= 100 and face.end_ms >= 3800
    assert session.expires_at.timestamp() == T0 + DAY_S
    stored = setup["engine"].workdir / "sessions" / f"{session.session_id}.json"
    assert stored.is_file()


def test_identify_rejects_a_too_short_video(setup, tmp_path):
    short = write_face_video(tmp_path / "short.mp4", duration_ms=1000, centres=(0.5,))
    with pytest.raises(EngineError, match=r"The video must last 2 s to 60 s; it lasts 1 s\."):
        setup["engine"].identify_faces(MediaRef(path=str(short)))


# --- advanced: success -------------------------------------------------------------------------


def test_create_advanced_renders_and_records_the_task(setup):
    engine = setup["engine"]
    task = engine.create_advanced(advanced(setup, watermark=True, external_task_id="order-1"))
    assert task.status == "succeed", task.message
    assert task.kind == "advanced" and task.external_task_id == "order-1"
    video = task.videos[0]
    assert video.duration_s == pytest.approx(4.0, abs=0.05)
    for url in (video.url, video.watermark_url):
        with av.open(str(local_path(url))) as container:
            assert container.streams.video[0].codec_context.name == "h264"
    assert engine.get_task(task.task_id) == task
    assert task.task_id in [listed.task_id for listed in engine.list_tasks("advanced")]
    assert task.task_id not in [listed.task_id for listed in engine.list_tasks("basic")]


def test_a_failed_render_is_a_failed_task_with_a_plain_reason(setup, tmp_path):
    engine = setup["engine"]
    doomed = write_face_video(tmp_path / "doomed.mp4", centres=(0.5,))
    session = engine.identify_faces(MediaRef(path=str(doomed)))
    doomed.unlink()  # gone before the render starts
    task = engine.create_advanced(
        advanced(setup, session_id=session.session_id, face_id=session.faces[0].face_id)
    )
    assert task.status == "failed"
    assert task.message.startswith("The video could not be read")
    assert "Traceback" not in task.message
    assert engine.get_task(task.task_id).status == "failed"


# --- advanced: the contract's rules ------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {"sound_start_ms": 1000, "sound_end_ms": 2500},
            r"The audio clip must last at least 2 s; it lasts 1\.5 s\.",
        ),
        ({"sound_end_ms": 3500}, r"The clip ends at 3\.5 s, after the audio's end \(3 s\)\."),
        (
            {"sound_insert_ms": 2000},
            r"The clip would end at 4\.5 s, after the video's end \(4 s\)\. "
            r"Insert it at 1\.5 s or earlier\.",
        ),
        ({"sound_volume": 2.5}, r"sound_volume must be between 0 and 2; it is 2\.5\."),
        ({"original_audio_volume": -1}, r"original_audio_volume must be between 0 and 2"),
        ({"face_id": "99"}, r"face_id '99' is not in this session"),
        ({"session_id": "0123abcd"}, r"session_id '0123abcd' is not a face session"),
        ({"audio": None}, r"One of audio_id or sound_file is required\."),
    ],
)
def test_rule_violations_have_the_contracts_messages(setup, changes, message):
    with pytest.raises(EngineError, match=message) as caught:
        setup["engine"].create_advanced(advanced(setup, **changes))
    assert caught.value.permanent
    assert caught.value.code in (1200, 1201)


def test_the_clip_must_overlap_the_face_by_two_seconds(setup, tmp_path):
    engine = setup["engine"]
    brief = tmp_path / "brief.mp4"
    write_appearances(brief, [Appearance(ASTRONAUT, 0, 2500)], duration_ms=6000)
    session = engine.identify_faces(MediaRef(path=str(brief)))
    face = session.faces[0]
    assert face.end_ms < 3000
    request = advanced(
        setup,
        session_id=session.session_id,
        face_id=face.face_id,
        sound_end_ms=2000,
        sound_insert_ms=face.end_ms - 1000,
    )
    with pytest.raises(
        EngineError, match=r"overlap the face's window by at least 2 s; it overlaps 1 s\."
    ) as caught:
        engine.create_advanced(request)
    assert caught.value.code == 1201


def test_the_audio_must_last_two_seconds(setup, tmp_path):
    short = write_wav(tmp_path / "short.wav", syllables, 1500)
    with pytest.raises(EngineError, match=r"The audio must last at least 2 s; it lasts 1\.5 s\."):
        setup["engine"].create_advanced(advanced(setup, audio=MediaRef(path=str(short))))


def test_an_expired_session_is_refused(setup):
    later = LocalEngine(setup["engine"].workdir, clock=lambda: T0 + DAY_S + 1)
    with pytest.raises(EngineError, match=r"The face session has expired") as caught:
        later.create_advanced(advanced(setup))
    assert caught.value.code == 1201


def test_an_external_task_id_is_used_once(setup):
    engine = setup["engine"]
    first = engine.create_advanced(advanced(setup, external_task_id="same"))
    assert first.status == "succeed"
    with pytest.raises(EngineError, match=r"external_task_id 'same' is already used"):
        engine.create_advanced(advanced(setup, external_task_id="same"))


def test_audio_given_as_bytes(setup):
    data = setup["clip"].read_bytes()
    task = setup["engine"].create_advanced(advanced(setup, audio=MediaRef(data=data)))
    assert task.status == "succeed", task.message


# --- basic -------------------------------------------------------------------------------------


def test_text2video_speaks_the_text(setup):
    request = BasicRequest(
        video=MediaRef(path=str(setup["video"])),
        mode="text2video",
        text="Hello, this is a test of the local engine.",
        voice_id="oversea_male1",
        voice_language="en",
        voice_speed=1.0,
    )
    task = setup["engine"].create_basic(request)
    assert task.status == "succeed", task.message
    assert task.kind == "basic"
    # The output follows the speech's length: a short sentence, a couple of seconds.
    assert 1.0 <= task.videos[0].duration_s <= 5.0
    assert setup["engine"].get_task(task.task_id, "basic") == task


def test_audio2video_follows_the_audio(setup):
    clip = write_wav(setup["folder"] / "six.wav", syllables, 6000)
    request = BasicRequest(
        video=MediaRef(path=str(setup["video"])),
        mode="audio2video",
        audio=MediaRef(url=clip.as_uri()),
    )
    task = setup["engine"].create_basic(request)
    assert task.status == "succeed", task.message
    assert task.videos[0].duration_s == pytest.approx(6.0, abs=0.05)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"voice_id": "nobody"}, r"voice_id 'nobody' is not a voice\."),
        ({"text": "x" * 121}, r"at most 120 characters; it has 121\."),
        ({"voice_speed": 2.5}, r"The voice speed must be between 0\.8 and 2; it is 2\.5\."),
        ({"text": ""}, r"Type the words the person should say\."),
    ],
)
def test_basic_rule_violations(setup, changes, message):
    request = BasicRequest(
        video=MediaRef(path=str(setup["video"])),
        mode="text2video",
        text="Hello there.",
        voice_id="ai_kaiya",
    )
    with pytest.raises(EngineError, match=message):
        setup["engine"].create_basic(dataclasses.replace(request, **changes))


def test_basic_refuses_a_remote_url_offline(setup):
    request = BasicRequest(video=MediaRef(url="https://example.com/video.mp4"), mode="audio2video")
    with pytest.raises(EngineError, match=r"works offline and cannot fetch"):
        setup["engine"].create_basic(request)


# --- queries -----------------------------------------------------------------------------------


def test_an_unknown_task_is_not_found(setup):
    with pytest.raises(EngineError, match=r"There is no advanced task 'feed'") as caught:
        setup["engine"].get_task("feed")
    assert caught.value.code == 1203
    with pytest.raises(EngineError, match="no advanced task"):
        setup["engine"].get_task("../sessions/x")


def test_list_pages_newest_first(tmp_path, setup):
    engine = LocalEngine(tmp_path / "work", clock=setup["clock"])
    session = engine.identify_faces(MediaRef(path=str(setup["video"])))
    made = []
    for number in range(3):
        setup["clock"].now = T0 + number
        task = engine.create_advanced(
            advanced(setup, session_id=session.session_id, face_id=session.faces[0].face_id)
        )
        made.append(task.task_id)
    setup["clock"].now = T0
    assert [task.task_id for task in engine.list_tasks(page=1, size=2)] == made[::-1][:2]
    assert [task.task_id for task in engine.list_tasks(page=2, size=2)] == made[:1]
    with pytest.raises(EngineError, match="pageSize must be between 1 and 500"):
        engine.list_tasks(size=0)
