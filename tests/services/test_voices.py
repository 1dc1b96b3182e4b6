"""Voice samples: asked for many times at once, recorded once, never a half-written file."""

from __future__ import annotations

import os
import time
from concurrent.futures import ThreadPoolExecutor

from projects import background
from projects.services import voices

VOICE = "uk_man2"


def not_recorded_yet(language: str) -> None:
    sample = voices.sample_path(VOICE, language)
    sample.unlink(missing_ok=True)
    sample.with_name(sample.name + ".requested").unlink(missing_ok=True)


def test_many_requests_at_once_ask_for_one_recording(monkeypatch):
    not_recorded_yet("en")
    asked: list[tuple] = []
    monkeypatch.setattr(background.make_voice_sample, "delay_on_commit", lambda *a: asked.append(a))
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda _: voices.sample_or_request(VOICE, "en"), range(16)))
    assert answers == [None] * 16
    assert asked == [(VOICE, "en")]


def test_a_lost_request_is_asked_again(monkeypatch):
    not_recorded_yet("en")
    asked: list[tuple] = []
    monkeypatch.setattr(background.make_voice_sample, "delay_on_commit", lambda *a: asked.append(a))
    voices.sample_or_request(VOICE, "en")
    marker = voices.sample_path(VOICE, "en").with_name(f"{VOICE}-en.wav.requested")
    long_ago = time.time() - voices.REQUEST_GIVE_UP_S - 1
    os.utime(marker, (long_ago, long_ago))
    voices.sample_or_request(VOICE, "en")
    assert asked == [(VOICE, "en"), (VOICE, "en")]


def test_two_recordings_at_once_leave_one_whole_sample():
    not_recorded_yet("zh")
    target = voices.sample_path(VOICE, "zh")
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(lambda _: voices.make_sample(VOICE, "zh"), range(2)))
    assert target.read_bytes()[:4] == b"RIFF"
    assert sorted(path.name for path in target.parent.glob(f"{VOICE}-zh*")) == [target.name]
