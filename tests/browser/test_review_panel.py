"""The review panel in a real browser: moving through the queue by keyboard, and before and
after compared where the speech changed."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from projects.models import LipSyncTask, ReviewState
from tests.support.browser import log_in, screenshot
from tests.support.reviewing import (
    OUTAGE_FAILURE,
    QUEUE_CHANGELIST,
    TASKS_CHANGELIST,
    another_task,
    change_url,
    finish,
    finished_task_with_media,
    log_an_outage,
    staff,  # noqa: F401 - fixture
)

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def three_in_the_queue(project, staff, tmp_path) -> list[LipSyncTask]:  # noqa: F811
    """Three finished takes awaiting review, oldest first, sharing one source and result."""
    first = finished_task_with_media(project, staff["editor"], tmp_path)
    takes = [first]
    for minutes in (1, 2):
        take = another_task(first, sound_insert_ms=first.sound_insert_ms)
        take.result_file.name = first.result_file.name
        take.save()
        takes.append(finish(take, when=first.finished_at + timedelta(minutes=minutes)))
    return takes


def test_the_queue_fits_at_1280_px_and_counts_in_words(page, three_in_the_queue):
    page.set_viewport_size({"width": 1280, "height": 900})
    log_in(page, "reviewer")
    page.goto(reverse(QUEUE_CHANGELIST))
    expect(page.locator("#changelist .paginator")).to_contain_text("3 tasks awaiting review")
    results = page.locator("#changelist .results")
    overflow = results.evaluate("box => box.scrollWidth - box.clientWidth")
    assert overflow <= 0, f"the queue's columns run {overflow} px past the list"
    assert page.evaluate("document.documentElement.scrollWidth") <= 1280
    screenshot(page, "review-queue")


def test_a_reviewer_moves_through_the_queue_from_the_task_list_by_keyboard(
    page, three_in_the_queue
):
    oldest, middle, newest = three_in_the_queue
    log_in(page, "reviewer")
    page.goto(reverse(TASKS_CHANGELIST))
    page.get_by_role("link", name=str(newest.pk)[:8]).click()
    keys = page.locator("[data-review-keys]")
    expect(keys).to_be_visible()
    expect(keys).to_contain_text("A approve")
    screenshot(page, "review-task-keys")

    page.keyboard.press("a")  # approve, and the oldest task awaiting review opens
    page.wait_for_url(f"**{change_url(oldest)}")
    assert LipSyncTask.objects.get(pk=newest.pk).review_state == ReviewState.APPROVED
    expect(page.locator("#messages, .messagelist")).to_contain_text("Approved")

    page.keyboard.press("n")  # on without a decision: the next one in the queue's order
    page.wait_for_url(f"**{change_url(middle)}")
    assert LipSyncTask.objects.get(pk=oldest.pk).review_state == ReviewState.PENDING

    page.keyboard.press("r")  # rejecting needs a note: the keyboard is taken there first
    note = page.get_by_label("Note for the editor")
    expect(note).to_be_focused()
    expect(page.locator("[data-review-hint]")).to_have_text(
        "Write a note for the editor, then press Ctrl+Enter to reject."
    )
    note.press_sequentially("The mouth drifts after 0:05.")
    note.press("Control+Enter")
    page.wait_for_url(f"**{change_url(oldest)}")
    middle.refresh_from_db()
    assert (middle.review_state, middle.review_note) == (
        ReviewState.REJECTED,
        "The mouth drifts after 0:05.",
    )
    assert page.js_errors == []


def test_the_keys_can_be_turned_off(page, three_in_the_queue):
    oldest = three_in_the_queue[0]
    log_in(page, "reviewer")
    page.goto(change_url(oldest))
    page.get_by_label("Use these keys").uncheck()
    page.locator("body").press("a")
    page.wait_for_timeout(500)
    assert LipSyncTask.objects.get(pk=oldest.pk).review_state == ReviewState.PENDING
    page.reload()
    expect(page.get_by_label("Use these keys")).not_to_be_checked()  # remembered


def test_the_review_page_opens_at_the_edit_with_one_control(page, three_in_the_queue):
    oldest = three_in_the_queue[0]
    log_in(page, "reviewer")
    page.goto(change_url(oldest, "reviewqueuetask"))
    start_s = (oldest.sound_insert_ms - 1_000) / 1000
    page.wait_for_function(
        """seconds => [...document.querySelectorAll('[data-compare] video')]
             .every(v => v.readyState >= 1 && Math.abs(v.currentTime - seconds) < 0.05)""",
        arg=start_s,
    )
    page.get_by_role("button", name="Play both").click()
    page.wait_for_function(
        "start => document.querySelector('[data-compare-after]').currentTime > start + 0.8",
        arg=start_s,
    )
    times = page.eval_on_selector_all(
        "[data-compare] video", "videos => videos.map(v => v.currentTime)"
    )
    assert abs(times[0] - times[1]) < 0.2
    page.get_by_role("button", name="Pause both").click()
    screenshot(page, "review-compare")
    assert page.js_errors == []


def test_the_task_page_of_an_outage_stays_short(page, project, staff, tmp_path):  # noqa: F811
    """95 failed creates are one line of the engine log: the page stays short."""
    task = finished_task_with_media(project, staff["editor"], tmp_path)
    log_an_outage(task, failures=95)
    log_in(page, "reviewer")
    page.goto(change_url(task))
    log = page.locator("table.engine-log")
    expect(log).to_contain_text(f"95 × {OUTAGE_FAILURE}")
    expect(log).to_contain_text("callback received")
    height = page.evaluate("document.documentElement.scrollHeight")
    assert height < 3500, height
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= page.viewport_size["width"], width
    screenshot(page, "review-panel-task-outage")
