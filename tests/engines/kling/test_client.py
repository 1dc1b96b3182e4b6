"""KlingClient against the running simulator over real HTTP on loopback."""

from __future__ import annotations

import time

import httpx
import jwt
import pytest

from projects.engines.base import (
    AdvancedRequest,
    BasicRequest,
    EngineError,
    FaceSession,
    MediaRef,
)
from projects.engines.kling import (
    CODE_ADVICE,
    ApiCallRecord,
    JwtTokens,
    KlingClient,
    RetryPolicy,
    Timeouts,
    parse_callback,
    redacted_body,
)
from tests.support.simulator import (
    ACCESS_KEY,
    PROXY_TOKEN,
    SECRET_KEY,
    set_faults,
    stats,
)

# The simulator, media and callback fixtures.
pytest_plugins = ("tests.support.simulator",)


class Sleeps(list):
    """An injectable sleep that only remembers how long it was asked to wait."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def client_for(sim, *, flavour="official", records=None, sleeps=None, **options) -> KlingClient:
    keys = (
        {"access_key": ACCESS_KEY, "secret_key": SECRET_KEY}
        if flavour == "official"
        else {"proxy_token": PROXY_TOKEN}
    )
    options.setdefault("timeouts", Timeouts(connect_s=2, read_s=10, total_s=60))
    return KlingClient(
        sim.url,
        flavour=flavour,
        recorder=records.append if records is not None else None,
        sleep=sleeps if sleeps is not None else Sleeps(),
        jitter=lambda: 1.0,
        **keys,
        **options,
    )


@pytest.fixture
def client(sim):
    kling = client_for(sim)
    yield kling
    kling.close()


@pytest.fixture
def session(sim, media) -> FaceSession:
    kling = client_for(sim)
    found = kling.identify_faces(MediaRef(url=media.url("face.mp4")))
    kling.close()
    return found


def advanced_request(session: FaceSession, media, **changes) -> AdvancedRequest:
    face = session.faces[0]
    values = {
        "session_id": session.session_id,
        "face_id": face.face_id,
        "sound_start_ms": 0,
        "sound_end_ms": 3_000,
        "sound_insert_ms": 500,
        "audio": MediaRef(path=str(media.path("speech.wav"))),
    }
    values.update(changes)
    return AdvancedRequest(**values)


def wait_terminal(kling: KlingClient, task_id: str, kind="advanced", timeout_s=120):
    deadline = time.monotonic() + timeout_s
    while True:
        task = kling.get_task(task_id, kind)
        if task.is_terminal or time.monotonic() > deadline:
            return task
        time.sleep(0.1)


# --- every endpoint ------------------------------------------------------------------------------


def test_identify_faces(session, media):
    assert session.session_id
    [face] = session.faces
    assert face.end_ms - face.start_ms > 2_500
    assert httpx.get(face.image_url).headers["content-type"] == "image/jpeg"
    assert session.expires_at.timestamp() == pytest.approx(time.time() + 24 * 3600, abs=60)


def test_advanced_create_get_list_and_find(sim, client, session, media):
    records: list[ApiCallRecord] = []
    kling = client_for(sim, records=records)
    created = kling.create_advanced(
        advanced_request(session, media, external_task_id="client-adv-1", watermark=True)
    )
    assert created.status == "submitted" and created.external_task_id == "client-adv-1"
    done = wait_terminal(kling, created.task_id)
    assert done.status == "succeed", done.message
    [video] = done.videos
    assert video.duration_s == pytest.approx(3.5, abs=0.3)
    assert video.watermark_url and video.url.startswith(sim.url)
    assert done.credits and isinstance(done.credits, str)
    assert done.created_at and done.updated_at >= done.created_at
    listed = kling.list_tasks("advanced", page=1, size=500)
    assert created.task_id in [task.task_id for task in listed]
    found = kling.find_by_external_id("client-adv-1", "advanced")
    assert found is not None and found.task_id == created.task_id
    assert kling.find_by_external_id("never-made", "advanced") is None
    # Every exchange was recorded, the Base64 audio never in full.
    first = records[0]
    assert (first.method, first.endpoint, first.http_status, first.code) == (
        "POST",
        "/v1/videos/advanced-lip-sync",
        200,
        0,
    )
    assert first.request_id and first.duration_ms >= 0
    assert all(len(record.response_body) <= 4096 for record in records)


def test_audio_goes_by_url_when_given_one(sim, client, session, media):
    created = client.create_advanced(
        advanced_request(session, media, audio=MediaRef(url=media.url("speech.wav")))
    )
    assert wait_terminal(client, created.task_id).status == "succeed"


def test_audio_over_5_mb_without_url_is_refused_before_sending(sim, session, media):
    records: list[ApiCallRecord] = []
    kling = client_for(sim, records=records)
    with pytest.raises(EngineError, match="at most 5 MB") as caught:
        kling.create_advanced(
            advanced_request(session, media, audio=MediaRef(path=str(media.path("big.wav"))))
        )
    assert caught.value.permanent and records == []


def test_video_needs_a_url(client):
    with pytest.raises(EngineError, match="by URL"):
        client.identify_faces(MediaRef(path="/tmp/video.mp4"))


def test_basic_official_text2video(sim, client, media):
    created = client.create_basic(
        BasicRequest(
            video=MediaRef(url=media.url("basic.mp4")),
            mode="text2video",
            text="Good morning.",
            voice_id="oversea_male1",
            voice_speed=1.0,
            external_task_id="client-basic-1",
        )
    )
    assert created.kind == "basic"
    done = wait_terminal(client, created.task_id, "basic")
    assert done.status == "succeed", done.message
    assert client.find_by_external_id("client-basic-1", "basic").task_id == created.task_id


def test_proxy_flavour_basic_is_async_and_queryable(sim, media, callbacks):
    kling = client_for(sim, flavour="proxy")
    started = time.monotonic()
    created = kling.create_basic(
        BasicRequest(
            video=MediaRef(url=media.url("basic.mp4")),
            mode="audio2video",
            audio=MediaRef(url=media.url("speech.wav")),
            callback_url=callbacks.url,
        )
    )
    assert time.monotonic() - started < 0.5, "the flat call must not block"
    assert created.status == "submitted" and created.task_id
    done = wait_terminal(kling, created.task_id, "basic")
    assert done.status == "succeed"
    bodies = callbacks.wait_for(lambda got: any(b.get("state") == "succeed" for b in got))
    hint = parse_callback(bodies[-1], "basic")
    assert (hint.task_id, hint.status) == (created.task_id, "succeed")
    assert hint.videos[0].url == done.videos[0].url


def test_proxy_flavour_advanced_flow(sim, media):
    kling = client_for(sim, flavour="proxy")
    session = kling.identify_faces(MediaRef(url=media.url("face.mp4")))
    created = kling.create_advanced(advanced_request(session, media))
    assert wait_terminal(kling, created.task_id).status == "succeed"
    assert stats(sim)["calls"]["POST /kling/v1/videos/advanced-lip-sync"] >= 1


def test_callbacks_parse_flat_and_enveloped(sim, client, session, media, callbacks):
    created = client.create_advanced(advanced_request(session, media, callback_url=callbacks.url))
    bodies = callbacks.wait_for(lambda got: any(b["task_status"] == "succeed" for b in got))
    hints = [parse_callback(body) for body in bodies]
    assert [hint.status for hint in hints] == ["submitted", "processing", "succeed"]
    assert all(hint.task_id == created.task_id for hint in hints)
    wrapped = {"code": 0, "message": "SUCCEED", "request_id": "r", "data": bodies[-1]}
    assert parse_callback(wrapped) == hints[-1]


# --- errors: every code, mapped ------------------------------------------------------------------

PERMANENT = [1000, 1001, 1002, 1100, 1101, 1102, 1103, 1200, 1201, 1202, 1203, 1300, 1301, 1304]


@pytest.mark.parametrize("code", PERMANENT)
def test_permanent_codes_surface_at_once_with_advice(sim, code):
    sleeps = Sleeps()
    kling = client_for(sim, sleeps=sleeps)
    set_faults(sim, f"{code}@get")
    with pytest.raises(EngineError) as caught:
        kling.get_task("1")
    error = caught.value
    assert (error.code, error.permanent, error.ambiguous) == (code, True, False)
    assert error.message.startswith(CODE_ADVICE[code].rstrip("."))
    assert sleeps == []


def test_1102_message_tells_what_to_do(sim, client):
    set_faults(sim, "1102@list")
    with pytest.raises(EngineError) as caught:
        client.list_tasks()
    assert caught.value.message == (
        "Your Kling resource pack is used up or expired. Buy more credits, then try again."
    )
    assert caught.value.http_status == 429


@pytest.mark.parametrize("code", [1302, 1303, 5000, 5001, 5002])
def test_transient_codes_are_retried_with_backoff(sim, code):
    sleeps = Sleeps()
    kling = client_for(sim, sleeps=sleeps, retry=RetryPolicy(max_attempts=4, base_delay_s=0.2))
    set_faults(sim, f"{code}x2@list")
    assert kling.list_tasks() is not None
    assert len(sleeps) == 2
    if code in (1302, 1303):
        assert min(sleeps) >= 1.0  # the simulator's Retry-After: 1
    else:
        assert sleeps == [0.2, 0.4]


def test_transient_codes_give_up_after_the_attempts(sim):
    sleeps = Sleeps()
    kling = client_for(sim, sleeps=sleeps, retry=RetryPolicy(max_attempts=3))
    set_faults(sim, "5001xinf@get")
    with pytest.raises(EngineError) as caught:
        kling.get_task("1")
    assert caught.value.code == 5001 and not caught.value.permanent
    assert len(sleeps) == 2


@pytest.mark.parametrize("status", [429, 502, 503])
def test_bare_http_errors_are_transient(sim, status):
    sleeps = Sleeps()
    kling = client_for(sim, sleeps=sleeps)
    set_faults(sim, f"http{status}@list")
    assert kling.list_tasks() is not None
    assert len(sleeps) == 1


def test_the_body_code_wins_over_the_http_status(sim):
    # 1102 comes with HTTP 429, which alone would look transient.
    kling = client_for(sim)
    set_faults(sim, "1102@get")
    with pytest.raises(EngineError) as caught:
        kling.get_task("1")
    assert caught.value.permanent


def test_validation_errors_show_the_server_message(client, session, media):
    with pytest.raises(EngineError) as caught:
        client.create_advanced(advanced_request(session, media, sound_volume=3.0))
    assert caught.value.code == 1201 and caught.value.permanent
    assert "between 0 and 2" in caught.value.message


def test_total_deadline_is_enforced(sim):
    kling = client_for(
        sim, timeouts=Timeouts(connect_s=1, read_s=5, total_s=0.3), retry=RetryPolicy(1)
    )
    set_faults(sim, "slow:1@list")
    started = time.monotonic()
    with pytest.raises(EngineError) as caught:
        kling.list_tasks()
    assert time.monotonic() - started < 0.9
    assert not caught.value.permanent


def test_unreachable_server_is_transient(sim):
    kling = KlingClient(
        "http://127.0.0.1:9",
        access_key=ACCESS_KEY,
        secret_key=SECRET_KEY,
        sleep=Sleeps(),
        retry=RetryPolicy(max_attempts=2),
    )
    with pytest.raises(EngineError) as caught:
        kling.list_tasks()
    assert not caught.value.permanent and not caught.value.ambiguous


# --- tokens ------------------------------------------------------------------------------------


def test_1004_renews_the_token_and_retries_once(sim):
    records: list[ApiCallRecord] = []
    kling = client_for(sim, records=records)
    set_faults(sim, "1004@list")
    assert kling.list_tasks() is not None
    assert [record.code for record in records] == [1004, 0]


def test_a_second_1004_is_permanent_and_speaks_of_the_clock(sim):
    kling = client_for(sim)
    set_faults(sim, "1004x2@list")
    with pytest.raises(EngineError) as caught:
        kling.list_tasks()
    assert caught.value.code == 1004 and caught.value.permanent
    assert "clock" in caught.value.message


def test_clock_skew_shows_as_1003(sim):
    kling = client_for(sim, clock=lambda: time.time() + 600)
    with pytest.raises(EngineError) as caught:
        kling.list_tasks()
    assert caught.value.code == 1003 and "ahead" in caught.value.message


def test_jwt_claims_and_renewal_before_expiry():
    now = [1_000_000.0]
    tokens = JwtTokens(ACCESS_KEY, SECRET_KEY, clock=lambda: now[0])
    first = tokens.token()
    claims = jwt.decode(first, SECRET_KEY, algorithms=["HS256"], options={"verify_exp": False})
    assert claims == {"iss": ACCESS_KEY, "exp": 1_001_800, "nbf": 999_995}
    assert jwt.get_unverified_header(first) == {"alg": "HS256", "typ": "JWT"}
    now[0] += 1_400  # 400 s before expiry: still fine
    assert tokens.token() == first
    now[0] += 150  # within the 5 min margin: renewed
    assert tokens.token() != first


def test_long_lived_client_keeps_working_across_renewals(sim):
    offset = [0.0]
    kling = client_for(sim, clock=lambda: time.time() + offset[0])
    assert kling.list_tasks() is not None
    offset[0] = 1_600.0  # the client's clock moves on; so does the server's
    httpx.post(f"{sim.url}/__sim__/clock", json={"offset_s": 1_600})
    assert kling.list_tasks() is not None


def test_proxy_errors_in_both_shapes(sim, media):
    wrong = KlingClient(sim.url, flavour="proxy", proxy_token="wrong", sleep=Sleeps())
    with pytest.raises(EngineError) as caught:
        wrong.list_tasks()
    assert caught.value.code == "invalid_token" and caught.value.permanent
    kling = client_for(sim, flavour="proxy")
    with pytest.raises(EngineError) as caught:
        kling.create_basic(
            BasicRequest(
                video=MediaRef(url=media.url("basic.mp4")),
                mode="text2video",
                text="x" * 130,
                voice_id="oversea_male1",
            )
        )
    assert caught.value.code == "bad_request"
    assert "at most 120 characters" in caught.value.message
    set_faults(sim, "1302x2")
    sleeps = Sleeps()
    assert client_for(sim, flavour="proxy", sleeps=sleeps).list_tasks() is not None
    assert len(sleeps) == 2


# --- no double create ----------------------------------------------------------------------------


@pytest.mark.parametrize("fault", ["hang@create", "drop@create", "5000+@create", "http502@create"])
def test_an_unclear_create_is_looked_up_not_repeated(sim, session, media, fault):
    external = f"once-{fault}"
    sleeps = Sleeps()
    kling = client_for(sim, sleeps=sleeps, timeouts=Timeouts(connect_s=1, read_s=1, total_s=5))
    lookups_before = stats(sim)["calls"].get("GET /v1/videos/advanced-lip-sync", 0)
    set_faults(sim, fault)
    task = kling.create_advanced(advanced_request(session, media, external_task_id=external))
    assert task.external_task_id == external and task.task_id
    counts = stats(sim)
    # hang, drop and 5000+ made the task: found by the lookup, never sent again. The bare 502
    # came before the work: the lookup found nothing, and the one retry made the task.
    assert counts["create_requests"][external] == 1
    assert counts["creates"][external] == 1
    assert counts["calls"]["GET /v1/videos/advanced-lip-sync"] > lookups_before
    assert wait_terminal(kling, task.task_id).status == "succeed"


def test_a_create_refused_for_load_is_retried_and_made_once(sim, session, media):
    sleeps = Sleeps()
    kling = client_for(sim, sleeps=sleeps)
    set_faults(sim, "1303x2@create")
    task = kling.create_advanced(advanced_request(session, media, external_task_id="busy-1"))
    assert task.task_id and len(sleeps) == 2
    assert stats(sim)["creates"]["busy-1"] == 1


def test_a_create_sent_again_after_a_crash_finds_the_first(sim, session, media):
    kling = client_for(sim)
    first = kling.create_advanced(advanced_request(session, media, external_task_id="crash-1"))
    # A worker that died before saving the task id sends the same create again.
    again = kling.create_advanced(advanced_request(session, media, external_task_id="crash-1"))
    assert again.task_id == first.task_id
    assert stats(sim)["creates"]["crash-1"] == 1


def test_ambiguous_create_whose_lookup_also_fails_stays_ambiguous(sim, session, media):
    kling = client_for(
        sim,
        retry=RetryPolicy(max_attempts=2),
        timeouts=Timeouts(connect_s=1, read_s=1, total_s=5),
    )
    set_faults(sim, "hang@create,5001xinf@list")
    with pytest.raises(EngineError) as caught:
        kling.create_advanced(advanced_request(session, media, external_task_id="unclear-1"))
    assert caught.value.ambiguous and not caught.value.permanent
    assert stats(sim)["creates"]["unclear-1"] == 1


# --- records and parsing --------------------------------------------------------------------------


def test_recorded_bodies_hide_secrets_and_blobs():
    body = {"token": "abc", "data": {"sound_file": "A" * 10_000, "url": "https://x/y.mp4"}}
    text = redacted_body(body)
    assert "abc" not in text and "AAAA" not in text
    assert "<10000 characters elided>" in text and "https://x/y.mp4" in text
    assert len(redacted_body({"items": ["x" * 200] * 100})) <= 4096


def test_lenient_task_reading():
    task = parse_callback(
        {
            "task_id": 12,
            "task_status": "SUCCEED",
            "created_at": "1722769557708",
            "updated_at": 1722769557,
            "final_unit_deduction": 5,
            "task_result": {"videos": [{"id": 1, "url": "https://v/1.mp4", "duration": "5.2s"}]},
        }
    )
    assert (task.task_id, task.status, task.credits) == ("12", "succeed", "5")
    assert task.videos[0].duration_s == 5.2
    assert task.created_at.year == 2024 and task.updated_at.year == 2024
