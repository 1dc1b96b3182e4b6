"""The Kling simulator on its own, driven with raw HTTP written from docs/kling.md.

Nothing here goes through our client, so a misunderstanding shared by the client and the
simulator cannot pass unnoticed: bodies are hand-written JSON, tokens hand-made JWTs.
"""

from __future__ import annotations

import base64
import io
import time

import av
import httpx
import pytest
from PIL import Image

from tests.support.simulator import (
    ACCESS_KEY,
    ADVANCED_VIDEO_MS,
    FACE_WINDOW,
    PROXY_HEADERS,
    identified,
    make_jwt,
    official_headers,
    set_faults,
    stats,
    wait_for_status,
)

# The simulator, media and callback fixtures.
pytest_plugins = ("tests.support.simulator",)

ADVANCED = "/v1/videos/advanced-lip-sync"
BASIC = "/v1/videos/lip-sync"
IDENTIFY = "/v1/videos/identify-face"


def post(sim, path, body, headers=None, **kwargs):
    return httpx.post(
        f"{sim.url}{path}", json=body, headers=headers or official_headers(), timeout=60, **kwargs
    )


def advanced_body(sim, media, **changes) -> dict:
    """A valid advanced create: 3 s of speech inserted at 0.5 s, over the face's window."""
    session = identified(sim, media)
    choice = {
        "face_id": session["face_data"][0]["face_id"],
        "sound_file": media.url("speech.wav"),
        "sound_start_time": 0,
        "sound_end_time": 3000,
        "sound_insert_time": 500,
        "sound_volume": 1,
        "original_audio_volume": 1,
    }
    choice.update(changes.pop("choice", {}))
    body = {"session_id": session["session_id"], "face_choose": [choice]}
    body.update(changes)
    return body


def assert_error(response: httpx.Response, http_status: int, code: int, *words: str) -> dict:
    body = response.json()
    assert (response.status_code, body["code"]) == (http_status, code), body
    assert body["request_id"]
    for word in words:
        assert word in body["message"], body["message"]
    return body


# --- authentication ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("make_headers", "code"),
    [
        (lambda: {}, 1001),
        (lambda: {"Authorization": ""}, 1001),
        (lambda: {"Authorization": f"Basic {ACCESS_KEY}"}, 1002),
        (lambda: {"Authorization": "Bearer not-a-jwt"}, 1002),
        (
            lambda: {
                "Authorization": f"Bearer {make_jwt(secret='another-secret-0123456789abcdef-0123')}"
            },
            1000,
        ),
        (lambda: {"Authorization": f"Bearer {make_jwt(iss='someone-else')}"}, 1000),
        # Tokens are made when the test runs, not at collection: their times are relative.
        (lambda: {"Authorization": f"Bearer {make_jwt(nbf_in=120)}"}, 1003),
        (lambda: {"Authorization": f"Bearer {make_jwt(exp_in=-10)}"}, 1004),
    ],
)
def test_official_auth_errors_have_their_codes_and_401(sim, make_headers, code):
    response = httpx.get(f"{sim.url}{ADVANCED}", headers=make_headers())
    assert_error(response, 401, code)


def test_the_server_clock_decides_expiry(sim):
    token = make_jwt()
    assert httpx.get(f"{sim.url}{ADVANCED}", headers=official_headers(token)).status_code == 200
    httpx.post(f"{sim.url}/__sim__/clock", json={"offset_s": 1900})
    assert_error(httpx.get(f"{sim.url}{ADVANCED}", headers=official_headers(token)), 401, 1004)
    httpx.post(f"{sim.url}/__sim__/clock", json={"offset_s": -60})
    assert_error(httpx.get(f"{sim.url}{ADVANCED}", headers=official_headers(token)), 401, 1003)


@pytest.mark.parametrize(
    ("headers", "proxy_code"),
    [({}, "authorization_missing"), ({"Authorization": "Bearer wrong"}, "invalid_token")],
)
def test_proxy_auth_errors_use_the_proxy_shape(sim, headers, proxy_code):
    response = httpx.get(f"{sim.url}/kling{ADVANCED}", headers=headers)
    body = response.json()
    assert response.status_code == 401
    assert body["success"] is False and body["error"]["code"] == proxy_code
    assert body["trace_id"]


def test_proxy_token_is_not_a_jwt_and_a_jwt_is_not_a_proxy_token(sim):
    assert httpx.get(f"{sim.url}/kling{ADVANCED}", headers=PROXY_HEADERS).json()["code"] == 0
    assert_error(httpx.get(f"{sim.url}{ADVANCED}", headers=PROXY_HEADERS), 401, 1002)


def test_unknown_path_and_wrong_method(sim):
    assert_error(httpx.get(f"{sim.url}/v1/videos/nothing", headers=official_headers()), 404, 1203)
    assert_error(httpx.delete(f"{sim.url}{ADVANCED}", headers=official_headers()), 404, 1202)


# --- identify-face ---------------------------------------------------------------------------


def test_identify_face_finds_the_astronaut_and_serves_its_image(sim, media):
    data = identified(sim, media)
    assert data["session_id"]
    [face] = data["face_data"]
    assert isinstance(face["start_time"], int) and isinstance(face["end_time"], int)
    assert abs(face["start_time"] - FACE_WINDOW[0]) <= 200
    assert abs(face["end_time"] - FACE_WINDOW[1]) <= 200
    image = httpx.get(face["face_image"])
    assert image.status_code == 200
    assert Image.open(io.BytesIO(image.content)).format == "JPEG"


def test_identify_face_old_spelling_and_proxy_path(sim, media):
    response = post(sim, "/v1/videos/Identify-face", {"video_url": media.url("face.mp4")})
    assert response.json()["code"] == 0
    proxy = post(sim, f"/kling{IDENTIFY}", {"video_url": media.url("face.mp4")}, PROXY_HEADERS)
    assert proxy.json()["data"]["face_data"][0]["face_id"]


@pytest.mark.parametrize(
    ("body", "code", "words"),
    [
        ({}, 1200, ["video_id or video_url"]),
        ({"video_url": "", "video_id": ""}, 1200, ["video_id or video_url"]),
        ({"video_url": "{media}/face.mp4", "video_id": "123"}, 1201, ["not both"]),
        ({"video_id": "999"}, 1201, ["not a video made"]),
        ({"video_url": "{media}/small.mp4"}, 1201, ["512", "640x360"]),
        ({"video_url": "{media}/short.mp4"}, 1201, ["1.5 s"]),
        ({"video_url": "{media}/notes.txt"}, 1201, ["not a readable"]),
        ({"video_url": "{media}/missing.mp4"}, 1201, ["cannot download"]),
    ],
)
def test_identify_face_rules(sim, media, body, code, words):
    body = {key: value.replace("{media}", media.base_url) for key, value in body.items()}
    assert_error(post(sim, IDENTIFY, body), 400, code, *words)


# --- advanced create: every rule -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "code", "words"),
    [
        ({"session_id": ""}, 1200, ["session_id is required"]),
        ({"session_id": "nope"}, 1201, ["unknown"]),
        ({"face_choose": []}, 1200, ["face_choose"]),
        ({"face_choose": "x"}, 1200, ["face_choose"]),
        ({"choice": {"face_id": "42"}}, 1201, ["not in this session"]),
        ({"choice": {"sound_file": ""}}, 1200, ["audio_id or sound_file"]),
        ({"choice": {"audio_id": "tts-1"}}, 1201, ["not both"]),
        ({"choice": {"sound_start_time": "0"}}, 1200, ["whole number"]),
        ({"choice": {"sound_insert_time": None}}, 1200, ["sound_insert_time is required"]),
        ({"choice": {"sound_end_time": 1500}}, 1201, ["at least 2 s", "lasts 1.5 s"]),
        ({"choice": {"sound_end_time": 3200}}, 1201, ["after the audio's end (3 s)"]),
        ({"choice": {"sound_insert_time": 1000}}, 1201, ["after the video's end (3.5 s)"]),
        ({"choice": {"sound_volume": 2.5}}, 1201, ["between 0 and 2"]),
        ({"choice": {"original_audio_volume": -1}}, 1201, ["between 0 and 2"]),
        ({"choice": {"sound_file": "{media}/short.wav"}}, 1201, ["at least 2 s"]),
        ({"choice": {"sound_file": "{media}/long.wav"}}, 1201, ["at most 60 s"]),
        ({"choice": {"sound_file": "{media}/big.wav"}}, 1201, ["larger than 5 MB"]),
        ({"choice": {"sound_file": "{media}/notes.txt"}}, 1201, ["not a readable"]),
        ({"choice": {"sound_file": "{media}/face.mp4"}}, 1201, ["must be mp3/wav/m4a/aac"]),
        ({"choice": {"sound_file": "%%% not base64"}}, 1201, ["neither a URL nor valid Base64"]),
        ({"watermark_info": True}, 1200, ["watermark_info"]),
        ({"callback_url": "ftp://example.com/x"}, 1201, ["callback_url"]),
    ],
)
def test_advanced_create_rules(sim, media, changes, code, words):
    choice = {
        key: value.replace("{media}", media.base_url) if isinstance(value, str) else value
        for key, value in changes.pop("choice", {}).items()
    }
    body = advanced_body(sim, media, choice=choice, **changes)
    assert_error(post(sim, ADVANCED, body), 400, code, *words)


def test_two_faces_are_refused(sim, media):
    body = advanced_body(sim, media)
    body["face_choose"] = body["face_choose"] * 2
    assert_error(post(sim, ADVANCED, body), 400, 1201, "Only one face")


def test_overlap_with_the_face_window_is_at_least_2_s(sim, media):
    face = identified(sim, media)["face_data"][0]
    # A 2.3 s clip ending 1.3 s into the face's window.
    insert = face["start_time"] + 1300 - 2300
    body = advanced_body(
        sim, media, choice={"sound_end_time": 2300, "sound_insert_time": max(insert, 0)}
    )
    overlap = max(insert, 0) + 2300 - face["start_time"]
    if overlap >= 2000:
        pytest.fail(f"the face window starts too early for this test ({face})")
    response = assert_error(post(sim, ADVANCED, body), 400, 1201, "at least 2 s", "later")
    assert f"it overlaps {overlap / 1000:g} s" in response["message"]


def test_an_expired_session_is_refused(sim, media):
    session_id = post(sim, IDENTIFY, {"video_url": media.url("face.mp4")}).json()["data"][
        "session_id"
    ]
    body = advanced_body(sim, media, session_id=session_id)
    httpx.post(f"{sim.url}/__sim__/sessions/{session_id}/age", json={"seconds": 24 * 3600 + 1})
    assert_error(post(sim, ADVANCED, body), 400, 1201, "expired")


def test_duplicate_external_task_id_is_refused(sim, media):
    body = advanced_body(sim, media, external_task_id="dup-1")
    assert post(sim, ADVANCED, body).json()["code"] == 0
    assert_error(post(sim, ADVANCED, body), 400, 1201, "already used")
    assert stats(sim)["creates"]["dup-1"] == 1
    assert stats(sim)["create_requests"]["dup-1"] == 2


# --- the task's life --------------------------------------------------------------------------


def test_advanced_task_lifecycle_result_and_callbacks(sim, media, callbacks):
    audio = base64.b64encode(media.path("speech.wav").read_bytes()).decode()
    body = advanced_body(
        sim,
        media,
        choice={"sound_file": audio},
        external_task_id="life-1",
        callback_url=callbacks.url,
        watermark_info={"enabled": True},
    )
    created = post(sim, ADVANCED, body).json()
    assert created["code"] == 0, created
    data = created["data"]
    assert data["task_status"] == "submitted"
    assert data["task_info"]["external_task_id"] == "life-1"
    assert isinstance(data["created_at"], int) and data["created_at"] > 1_600_000_000_000

    seen = {data["task_status"]}  # the create's own answer: a busy machine may poll too late
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        task = httpx.get(f"{sim.url}{ADVANCED}/{data['task_id']}", headers=official_headers())
        task = task.json()["data"]
        seen.add(task["task_status"])
        if task["task_status"] in ("succeed", "failed"):
            break
        time.sleep(0.05)
    assert task["task_status"] == "succeed", task
    assert {"submitted", "processing"} <= seen
    assert isinstance(task["final_unit_deduction"], str)
    assert task["updated_at"] >= task["created_at"]
    [video] = task["task_result"]["videos"]
    assert isinstance(video["duration"], str)
    assert abs(float(video["duration"]) - ADVANCED_VIDEO_MS / 1000) < 0.3
    result = httpx.get(video["url"])
    assert result.status_code == 200
    with av.open(io.BytesIO(result.content)) as container:
        assert container.streams.video and container.streams.audio
    assert httpx.get(video["watermark_url"]).status_code == 200
    assert task["watermark_info"] == {"enabled": True}

    bodies = callbacks.wait_for(lambda got: any(b["task_status"] == "succeed" for b in got))
    assert [b["task_status"] for b in bodies] == ["submitted", "processing", "succeed"]
    assert all("code" not in b and b["task_id"] == data["task_id"] for b in bodies)
    assert bodies[-1]["task_info"]["external_task_id"] == "life-1"
    assert bodies[-1]["task_result"]["videos"][0]["url"] == video["url"]


def test_list_pages_and_their_limits(sim, media):
    created = post(sim, ADVANCED, advanced_body(sim, media, external_task_id="list-1")).json()
    listed = httpx.get(
        f"{sim.url}{ADVANCED}", params={"pageNum": 1, "pageSize": 500}, headers=official_headers()
    ).json()["data"]
    assert created["data"]["task_id"] in [task["task_id"] for task in listed]
    assert any(task["task_info"]["external_task_id"] == "list-1" for task in listed)
    for params, code in [
        ({"pageNum": 0}, 1201),
        ({"pageSize": 501}, 1201),
        ({"pageNum": "a"}, 1200),
    ]:
        response = httpx.get(f"{sim.url}{ADVANCED}", params=params, headers=official_headers())
        assert_error(response, 400, code, next(iter(params)))


def test_unknown_task_is_404_1203(sim):
    response = httpx.get(f"{sim.url}{ADVANCED}/123456", headers=official_headers())
    assert_error(response, 404, 1203)


def test_content_policy_failure(sim, media):
    set_faults(sim, "policy-fail")
    created = post(sim, ADVANCED, advanced_body(sim, media)).json()["data"]
    task = wait_for_status(sim, f"{ADVANCED}/{created['task_id']}", {"succeed", "failed"})
    assert task["task_status"] == "failed"
    assert "content policy" in task["task_status_msg"]
    assert task["task_result"]["videos"] == []


def test_concurrency_limit_answers_1303_until_a_slot_frees(sim, media):
    httpx.post(f"{sim.url}/__sim__/config", json={"concurrency": 1, "task_seconds": 1.5})
    wait_until_idle(sim)
    first = post(sim, ADVANCED, advanced_body(sim, media)).json()["data"]
    response = post(sim, ADVANCED, advanced_body(sim, media))
    assert_error(response, 429, 1303)
    # identify-face holds no slot.
    assert post(sim, IDENTIFY, {"video_url": media.url("face.mp4")}).json()["code"] == 0
    wait_for_status(sim, f"{ADVANCED}/{first['task_id']}", {"succeed", "failed"})
    assert post(sim, ADVANCED, advanced_body(sim, media)).json()["code"] == 0


def wait_until_idle(sim, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while stats(sim)["active_tasks"] and time.monotonic() < deadline:
        time.sleep(0.1)


# --- basic lip-sync, official and proxy ----------------------------------------------------------


def test_basic_text2video_official(sim, media, callbacks):
    body = {
        "input": {
            "video_url": media.url("basic.mp4"),
            "mode": "text2video",
            "text": "Hello from the simulator.",
            "voice_id": "oversea_male1",
            "voice_language": "en",
            "voice_speed": 1.2,
        },
        "callback_url": callbacks.url,
        "external_task_id": "basic-1",
    }
    created = post(sim, BASIC, body).json()
    assert created["code"] == 0, created
    task = wait_for_status(sim, f"{BASIC}/{created['data']['task_id']}", {"succeed", "failed"})
    assert task["task_status"] == "succeed", task
    assert float(task["task_result"]["videos"][0]["duration"]) > 0.5
    assert httpx.get(task["task_result"]["videos"][0]["url"]).status_code == 200
    # The advanced endpoint does not know basic tasks.
    other = httpx.get(f"{sim.url}{ADVANCED}/{task['task_id']}", headers=official_headers())
    assert_error(other, 404, 1203)


def _basic(media, **changes) -> dict:
    fields = {
        "video_url": media.url("basic.mp4"),
        "mode": "text2video",
        "text": "Hi there.",
        "voice_id": "oversea_male1",
    }
    fields.update(changes)
    return {"input": {key: value for key, value in fields.items() if value is not None}}


@pytest.mark.parametrize(
    ("changes", "code", "words"),
    [
        ({"text": "x" * 121}, 1201, ["at most 120", "121"]),
        ({"text": ""}, 1200, ["words"]),
        ({"voice_speed": 2.5}, 1201, ["between 0.8 and 2"]),
        ({"voice_language": "fr"}, 1201, ["voice_language"]),
        ({"voice_id": "no_such_voice"}, 1201, ["not a voice"]),
        ({"voice_id": None}, 1200, ["voice_id is required"]),
        ({"mode": "std"}, 1201, ["text2video"]),
        ({"mode": None}, 1200, ["mode is required"]),
        ({"video_url": "{media}/face.mp4"}, 1201, ["720 to 1920", "640x512"]),
        ({"mode": "audio2video", "audio_type": None}, 1200, ["audio_type"]),
        ({"mode": "audio2video", "audio_type": "file"}, 1200, ["audio_file is required"]),
        ({"mode": "audio2video", "audio_type": "url", "audio_url": "{media}/short.wav"}, 1201, []),
    ],
)
def test_basic_create_rules(sim, media, changes, code, words):
    changes = {
        key: value.replace("{media}", media.base_url) if isinstance(value, str) else value
        for key, value in changes.items()
    }
    assert_error(post(sim, BASIC, _basic(media, **changes)), 400, code, *words)


def test_basic_needs_the_input_wrapper(sim, media):
    flat = _basic(media)["input"]
    assert_error(post(sim, BASIC, flat), 400, 1200, "input")


def test_basic_audio2video_with_base64_file(sim, media):
    audio = base64.b64encode(media.path("speech.wav").read_bytes()).decode()
    body = _basic(media, mode="audio2video", audio_type="file", audio_file=audio, text=None)
    created = post(sim, BASIC, body).json()
    assert created["code"] == 0, created
    task = wait_for_status(sim, f"{BASIC}/{created['data']['task_id']}", {"succeed", "failed"})
    assert task["task_status"] == "succeed", task
    assert abs(float(task["task_result"]["videos"][0]["duration"]) - 3.0) < 0.3


def test_proxy_flat_lip_sync_blocks_until_done(sim, media):
    body = {
        "video_url": media.url("basic.mp4"),
        "mode": "audio2video",
        "audio_url": media.url("speech.wav"),
    }
    started = time.monotonic()
    response = post(sim, "/kling/lip-sync", body, PROXY_HEADERS)
    assert time.monotonic() - started >= 0.5
    answer = response.json()
    assert response.status_code == 200 and answer["success"] is True, answer
    assert answer["state"] == "succeed" and answer["video_id"] and answer["task_id"]
    assert isinstance(answer["duration"], int | float)
    assert httpx.get(answer["video_url"]).status_code == 200
    # The proxy's official-shaped query knows the same task.
    task = httpx.get(f"{sim.url}/kling{BASIC}/{answer['task_id']}", headers=PROXY_HEADERS)
    assert task.json()["data"]["task_status"] == "succeed"


def test_proxy_flat_lip_sync_async_returns_at_once_and_calls_back(sim, media, callbacks):
    body = {
        "video_url": media.url("basic.mp4"),
        "mode": "audio2video",
        "audio_url": media.url("speech.wav"),
        "async": True,
        "callback_url": callbacks.url,
    }
    answer = post(sim, "/kling/lip-sync", body, PROXY_HEADERS).json()
    assert answer["success"] is True and answer["state"] == "submitted"
    bodies = callbacks.wait_for(lambda got: any(b.get("state") == "succeed" for b in got))
    final = bodies[-1]
    assert final["task_id"] == answer["task_id"] and final["video_url"]


def test_proxy_flat_errors_use_code_and_detail(sim, media):
    response = post(sim, "/kling/lip-sync", {"mode": "audio2video"}, PROXY_HEADERS)
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "bad_request" and "audio_url" in body["detail"]


def test_proxy_advanced_flow_uses_official_shapes(sim, media):
    session = post(sim, f"/kling{IDENTIFY}", {"video_url": media.url("face.mp4")}, PROXY_HEADERS)
    data = session.json()["data"]
    body = advanced_body(sim, media, session_id=data["session_id"])
    body["face_choose"][0]["face_id"] = data["face_data"][0]["face_id"]
    created = post(sim, f"/kling{ADVANCED}", body, PROXY_HEADERS).json()
    assert created["code"] == 0, created
    task = wait_for_status(
        sim,
        f"/kling{ADVANCED}/{created['data']['task_id']}",
        {"succeed", "failed"},
        headers=PROXY_HEADERS,
    )
    assert task["task_status"] == "succeed"


# --- fault injection --------------------------------------------------------------------------


def test_rate_limit_fault_answers_429_with_retry_after_then_recovers(sim):
    set_faults(sim, "1302x2@list")
    for _ in range(2):
        response = httpx.get(f"{sim.url}{ADVANCED}", headers=official_headers())
        assert_error(response, 429, 1302)
        assert response.headers["Retry-After"] == "1"
    assert httpx.get(f"{sim.url}{ADVANCED}", headers=official_headers()).status_code == 200


@pytest.mark.parametrize(("code", "status"), [(5000, 500), (5001, 503), (5002, 504), (1102, 429)])
def test_code_faults_carry_the_table_status(sim, code, status):
    set_faults(sim, f"{code}@get")
    response = httpx.get(f"{sim.url}{ADVANCED}/1", headers=official_headers())
    assert_error(response, status, code)


def test_bare_http_fault_has_no_kling_body(sim):
    set_faults(sim, "http502")
    response = httpx.get(f"{sim.url}{ADVANCED}", headers=official_headers())
    assert response.status_code == 502
    assert response.headers["content-type"].startswith("text/plain")


def test_proxy_rate_limit_fault_uses_the_proxy_shape(sim):
    set_faults(sim, "1302")
    response = httpx.get(f"{sim.url}/kling{ADVANCED}", headers=PROXY_HEADERS)
    assert response.status_code == 429
    assert response.json()["error"]["code"] == "too_many_requests"


@pytest.mark.parametrize(
    ("fault", "failure"), [("hang", httpx.ReadTimeout), ("drop", httpx.RemoteProtocolError)]
)
def test_silent_create_faults_still_create_the_task(sim, media, fault, failure):
    set_faults(sim, f"{fault}@create")
    body = advanced_body(sim, media, external_task_id=f"silent-{fault}")
    with pytest.raises(failure):
        httpx.post(
            f"{sim.url}{ADVANCED}", json=body, headers=official_headers(), timeout=httpx.Timeout(3)
        )
    assert stats(sim)["creates"][f"silent-{fault}"] == 1


def test_error_after_work_fault_creates_then_answers_5000(sim, media):
    set_faults(sim, "5000+@create")
    body = advanced_body(sim, media, external_task_id="after-5000")
    assert_error(post(sim, ADVANCED, body), 500, 5000)
    assert stats(sim)["creates"]["after-5000"] == 1


def test_slow_fault_delays_the_answer(sim):
    set_faults(sim, "slow:0.4@list")
    started = time.monotonic()
    assert httpx.get(f"{sim.url}{ADVANCED}", headers=official_headers()).status_code == 200
    assert time.monotonic() - started >= 0.4


def face_image_url(sim, media) -> str:
    return identified(sim, media)["face_data"][0]["face_image"]


def test_file_faults_slow_fail_or_drop_a_served_file(sim, media):
    url = face_image_url(sim, media)
    set_faults(sim, "slow:0.4@files,http503@files,drop@files")
    started = time.monotonic()
    assert httpx.get(url).status_code == 200
    assert time.monotonic() - started >= 0.4
    assert httpx.get(url).status_code == 503
    with pytest.raises(httpx.RemoteProtocolError):
        httpx.get(url)
    assert httpx.get(url).status_code == 200


def test_faults_of_every_call_leave_files_alone(sim, media):
    url = face_image_url(sim, media)
    set_faults(sim, "http502")
    assert httpx.get(url).status_code == 200
    response = httpx.get(f"{sim.url}{ADVANCED}", headers=official_headers())
    assert response.status_code == 502


def test_a_file_fault_must_be_one_a_file_can_have(sim):
    response = httpx.post(f"{sim.url}/__sim__/faults", json={"faults": "1302@files"})
    assert response.status_code == 400
    assert "slow, dropped or an http" in response.json()["error"]


def test_duplicated_and_dropped_callbacks(sim, media, callbacks):
    set_faults(sim, "drop-callback,dup-callbackx3")
    body = advanced_body(sim, media, callback_url=callbacks.url)
    task_id = post(sim, ADVANCED, body).json()["data"]["task_id"]
    bodies = callbacks.wait_for(
        lambda got: sum(b["task_status"] == "succeed" for b in got) == 2, timeout_s=60
    )
    # submitted is lost; processing and succeed arrive twice each.
    assert [b["task_status"] for b in bodies] == ["processing"] * 2 + ["succeed"] * 2
    assert stats(sim)["callbacks_sent"][task_id] == 4


def test_bad_fault_spec_is_refused(sim):
    response = httpx.post(f"{sim.url}/__sim__/faults", json={"faults": "9999"})
    assert response.status_code == 400
    assert "error table" in response.json()["error"]


def test_stats_count_calls_per_endpoint(sim):
    before = stats(sim)["calls"].get(f"GET {ADVANCED}/{{task_id}}", 0)
    httpx.get(f"{sim.url}{ADVANCED}/77", headers=official_headers())
    assert stats(sim)["calls"][f"GET {ADVANCED}/{{task_id}}"] == before + 1


# --- text to speech ------------------------------------------------------------------------------

TTS = "/v1/audio/tts"


def test_tts_create_get_and_list_then_audio_id_in_an_advanced_create(sim, media):
    text = "Hello, this is the simulator speaking slowly, one word after another."
    body = {"text": text, "voice_id": "oversea_male1"}
    created = post(sim, TTS, {**body, "voice_language": "en", "voice_speed": 1.25}).json()
    assert created["code"] == 0, created
    task_id = created["data"]["task_id"]
    done = wait_for_status(sim, f"{TTS}/{task_id}", {"succeed", "failed"})
    assert done["task_status"] == "succeed", done
    (audio,) = done["task_result"]["audios"]
    assert float(audio["duration"]) >= 2 and isinstance(done["final_unit_deduction"], str)
    assert httpx.get(audio["url"]).headers["content-type"] == "audio/wav"
    listed = httpx.get(f"{sim.url}{TTS}", headers=official_headers()).json()["data"]
    assert task_id in [item["task_id"] for item in listed]
    session = identified(sim, media)
    choice = {
        "face_id": session["face_data"][0]["face_id"],
        "audio_id": audio["id"],
        "sound_start_time": 0,
        "sound_end_time": 2000,
        "sound_insert_time": 500,
    }
    answer = post(sim, ADVANCED, {"session_id": session["session_id"], "face_choose": [choice]})
    assert answer.json()["code"] == 0, answer.text
    assert stats(sim)["audio_uses"][audio["id"]] == 1


@pytest.mark.parametrize(
    ("changes", "code", "words"),
    [
        ({"text": "x" * 1001}, 1201, ["at most 1000"]),
        ({"text": ""}, 1200, ["words"]),
        ({"voice_speed": 2.5}, 1201, ["between 0.8 and 2"]),
        ({"voice_id": "tiyuxi_xuedi", "voice_language": "en"}, 1201, ["voice id not found"]),
        ({"voice_id": "no_such_voice"}, 1201, ["voice id not found"]),
        ({"voice_language": "fr"}, 1201, ["voice_language"]),
    ],
)
def test_tts_create_rules(sim, changes, code, words):
    body = {"text": "Hi there.", "voice_id": "oversea_male1", "voice_language": "en"}
    answer = post(sim, TTS, {**body, **changes})
    assert answer.json()["code"] == code, answer.text
    for word in words:
        assert word in answer.json()["message"]


def test_the_proxy_serves_tts_with_its_token(sim):
    body = {"text": "Hello from the proxy.", "voice_id": "oversea_male1", "voice_language": "en"}
    answer = post(sim, f"/kling{TTS}", body, headers=PROXY_HEADERS)
    assert answer.json()["code"] == 0, answer.text


def test_identify_face_bills_units_and_takes_its_own_results_by_id(sim, media):
    before = stats(sim)["fetches"].get("video_url", 0)
    answer = post(sim, IDENTIFY, {"video_url": media.url("face.mp4")}).json()
    assert answer["data"]["final_unit_deduction"] == "0.5"
    assert stats(sim)["fetches"]["video_url"] == before + 1
    unknown = post(sim, IDENTIFY, {"video_id": "42"})
    assert unknown.json()["code"] == 1201 and "not a video made" in unknown.json()["message"]
