""" "Hear this voice": one press plays the sample once and asks the worker for one recording."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from projects import background
from projects.services import voices
from tests.support.browser import WORKER_TIMEOUT_MS, log_in

pytestmark = pytest.mark.django_db(transaction=True)

VOICE = "oversea_male1"

COUNT_PLAYS = """() => {
  window.samplePlays = 0;
  const play = HTMLMediaElement.prototype.play;
  HTMLMediaElement.prototype.play = function () {
    window.samplePlays += 1;
    return play.call(this).catch(() => undefined);
  };
}"""


def test_one_press_plays_once_and_records_once(page, worker, users, project, monkeypatch):
    sample = voices.sample_path(VOICE, "en")  # not recorded yet, nor asked for
    sample.unlink(missing_ok=True)
    sample.with_name(sample.name + ".requested").unlink(missing_ok=True)
    asked: list[tuple] = []
    delay = background.make_voice_sample.delay_on_commit

    def counted_delay(*args, **kwargs):
        asked.append(args)
        return delay(*args, **kwargs)

    monkeypatch.setattr(background.make_voice_sample, "delay_on_commit", counted_delay)
    page.add_init_script(f"({COUNT_PLAYS})()")
    log_in(page, "editor")
    page.goto(project.get_absolute_url())
    page.get_by_text("Type text for a voice instead").click()
    page.get_by_label("Voice").select_option(VOICE)
    button = page.get_by_role("button", name="Hear this voice")
    button.click()
    page.wait_for_function("() => window.samplePlays > 0", timeout=WORKER_TIMEOUT_MS)
    expect(button).to_be_enabled()
    page.wait_for_timeout(1_500)  # a second handler's play would come within this
    assert page.evaluate("() => window.samplePlays") == 1
    assert asked == [(VOICE, "en")]
    assert voices.sample_path(VOICE, "en").exists()
    assert page.js_errors == []
