"""The dub page in a real browser with a real worker and the local engine: people with their
time on screen, a line that breaks a rule fixed with one click, a line typed for a voice, the
plan before anything is paid, submit, live progress and the result."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.support.browser import log_in, screenshot
from tests.support.dubs import add_dub_video, add_speech_like, write_short_dub_video

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


@pytest.fixture(scope="module")
def video_file(tmp_path_factory):
    return write_short_dub_video(tmp_path_factory.mktemp("dubbrowser") / "interview.mp4")


def test_a_dub_from_lines_to_the_result(page, worker, project, users, video_file, tmp_path):
    video = add_dub_video(project, users["editor"], video_file)
    add_speech_like(project, users["editor"], tmp_path / "welcome.wav", 1, 2_500)
    log_in(page, "editor")
    page.goto(video.get_absolute_url())
    page.get_by_role("button", name="Dub this video").click()
    expect(page.get_by_role("heading", name="Person 1")).to_be_visible()
    expect(page.get_by_role("heading", name="Person 2")).to_be_visible()

    # Person 1 is away from 18 s to 22 s: a line at 19 s breaks a rule, and its fix mends it.
    form = page.locator("#add-line")
    form.get_by_label("Who says it").select_option("1")
    form.locator("select[name=audio]").select_option(label="welcome.wav")
    form.get_by_label("Starts at (s)").fill("19")
    form.get_by_role("button", name="Add the line").click()
    people = page.locator("#people")
    expect(people.get_by_text("is not on screen all that time")).to_be_visible()
    # The plan waits for the lines to meet the rules, and says which one does not.
    expect(page.locator("#plan").get_by_text("Person 1's line at 0:19")).to_be_visible()
    screenshot(page, "dub-rule")
    page.get_by_role("button", name="Fix it").click()
    expect(page.get_by_text("Fixed: the line now meets every rule.")).to_be_visible()
    expect(people.get_by_text("is not on screen all that time")).to_have_count(0)

    # A line typed for a voice, for person 2.
    form = page.locator("#add-line")
    form.get_by_label("Who says it").select_option("2")
    form.get_by_label("Typed text").check()
    form.get_by_label("Words to say").fill("Welcome back to the harbour")
    form.locator("select[name=voice_id]").select_option("AOT")
    form.get_by_label("Starts at (s)").fill("7")
    form.get_by_role("button", name="Add the line").click()
    expect(page.locator("#person-2").get_by_text("Welcome back")).to_be_visible()

    plan = page.locator("#plan")
    expect(plan.get_by_text("2 engine tasks")).to_be_visible()
    screenshot(page, "dub-plan")
    plan.get_by_role("button", name="Make the dub").click()
    expect(page.get_by_text("engine tasks done")).to_be_visible()
    expect(page.get_by_role("link", name="Download the dub")).to_be_visible(timeout=240_000)
    expect(page.locator("#dub-status .badge-dub-done")).to_have_text("Done")
    screenshot(page, "dub-result")
    assert page.js_errors == []
