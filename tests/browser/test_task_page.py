"""A finished task's page in a real browser: before and after, compared where the speech changed."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.support.browser import log_in, screenshot
from tests.support.reviewing import finished_task_with_media

pytestmark = pytest.mark.django_db(transaction=True)

INSERT_MS = 4_500  # the new speech starts here; the comparison a second before


def playing_times(page) -> list[dict]:
    return page.eval_on_selector_all(
        "[data-compare] video",
        "videos => videos.map(v => ({t: v.currentTime, paused: v.paused, muted: v.muted}))",
    )


def wait_until_both_at(page, seconds: float) -> None:
    page.wait_for_function(
        """seconds => [...document.querySelectorAll('[data-compare] video')]
             .every(v => v.readyState >= 1 && Math.abs(v.currentTime - seconds) < 0.05)""",
        arg=seconds,
    )


def test_before_and_after_open_at_the_edit_and_play_in_step(page, project, users, tmp_path):
    task = finished_task_with_media(project, users["editor"], tmp_path, insert_ms=INSERT_MS)
    log_in(page, "editor")
    page.goto(task.get_absolute_url())
    start_s = (INSERT_MS - 1_000) / 1000
    wait_until_both_at(page, start_s)
    expect(
        page.get_by_text("Both start at 0:03.5, a second before the new speech.")
    ).to_be_visible()
    # One control for both: the videos' own controls are gone, so they cannot drift by hand.
    assert page.eval_on_selector_all("[data-compare] video", "vs => vs.map(v => v.controls)") == [
        False,
        False,
    ]
    play = page.get_by_role("button", name="Play both")
    play.click()
    page.wait_for_function("() => document.querySelector('[data-compare-after]').currentTime > 4.6")
    before, after = playing_times(page)
    assert not before["paused"] and not after["paused"]
    assert abs(before["t"] - after["t"]) < 0.2, "the two play in step"
    assert (before["muted"], after["muted"]) == (True, False), "one is heard at a time"
    page.get_by_role("button", name="Pause both").click()
    before, after = playing_times(page)
    assert before["paused"] and after["paused"]
    assert before["t"] == pytest.approx(after["t"], abs=0.01)
    screenshot(page, "task-compare")

    page.get_by_role("radio", name="Before").check()
    before, after = playing_times(page)
    assert (before["muted"], after["muted"]) == (False, True)
    page.get_by_label("Position in both videos").fill("1")
    wait_until_both_at(page, 1.0)
    page.get_by_role("button", name="Replay from 0:03.5").click()
    page.wait_for_function(
        "() => [...document.querySelectorAll('[data-compare] video')].every(v => !v.paused)"
    )
    before, after = playing_times(page)
    assert start_s <= after["t"] < start_s + 1 and abs(before["t"] - after["t"]) < 0.2
    assert page.js_errors == []
