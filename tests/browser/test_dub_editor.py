"""The dub's editor in a real browser: a row per person with when they are on screen, lines as
blocks moved by keys and by dragging, the rules told after each move and a fix that mends
them, a start typed to the millisecond, and "Listen to the dub" mixing every line."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from projects.models import Line, MediaStatus
from projects.services import dubs
from tests.support.browser import log_in, screenshot, wait_for_the_added_clip
from tests.support.dubs import (
    SHORT_WINDOWS,
    add_dub_video,
    add_speech_like,
    with_people,
    write_short_dub_video,
)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


@pytest.fixture(scope="module")
def video_file(tmp_path_factory):
    return write_short_dub_video(tmp_path_factory.mktemp("dubeditor") / "interview.mp4")


@pytest.fixture
def dub(project, users, video_file, tmp_path):
    video = with_people(
        add_dub_video(project, users["editor"], video_file, find_people=False), SHORT_WINDOWS
    )
    made = dubs.create(video=video, user=users["editor"])
    clip = add_speech_like(project, users["editor"], tmp_path / "welcome.wav", 1, 2_500)
    dubs.add_line(made, dubs.LineInput(person=1, at_ms=6_000, audio=clip))
    dubs.add_line(made, dubs.LineInput(person=2, at_ms=10_000, audio=clip, volume=0.5))
    return made


def _line_at(person: int) -> int:
    return Line.objects.get(person__number=person).at_ms


def _wait_for_line(page, person: int, at_ms: int) -> None:
    """The board has come back with the line at its new start."""
    expect(page.locator(f"#dub-board [data-person='{person}']")).to_have_attribute(
        "data-at-ms", str(at_ms)
    )


def test_lines_are_moved_on_their_persons_row_and_checked_each_time(page, users, dub):
    log_in(page, "editor")
    page.goto(dub.get_absolute_url())
    editor = page.locator("[data-timeline]")
    expect(editor.locator("[data-tl-person]")).to_have_count(2)
    first = editor.locator("[data-tl-person='1'] [data-tl-block]")
    second = editor.locator("[data-tl-person='2'] [data-tl-block]")
    expect(first).to_have_attribute("aria-valuenow", "6.000")
    expect(second).to_have_attribute("aria-valuenow", "10.000")
    # Person 1's row shows the two stretches they are on screen (away from 18 s to 22 s).
    expect(editor.locator("[data-tl-person='1'] .tl-on-screen")).to_have_count(2)

    # Keys: five steps of 0.1 s, sent once when they pause.
    first.focus()
    for _ in range(5):
        page.keyboard.press("ArrowRight")
    _wait_for_line(page, 1, 6_500)
    assert _line_at(1) == 6_500
    status = editor.locator("[data-tl-say]")
    expect(status).to_contain_text("It meets every rule.")

    # Drag it to 19 s, where person 1 is away: the rule is told, the block turns red.
    box = first.bounding_box()
    lane = editor.locator("[data-tl-person='1']").bounding_box()
    px_per_ms = lane["width"] / dub.source.duration_ms
    start_x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2  # not an edge
    page.mouse.move(start_x, y)
    page.mouse.down()
    page.mouse.move(start_x + 6_000 * px_per_ms, y, steps=5)
    page.mouse.move(start_x + 12_500 * px_per_ms, y, steps=5)
    page.mouse.up()
    expect(status).to_contain_text("is not on screen all that time", timeout=10_000)
    assert abs(_line_at(1) - 19_000) <= 2 / px_per_ms + 1
    expect(first).to_have_class(r"tl-block tl-block-bad")
    screenshot(page, "dub-editor-rule")

    # The board's fix mends it; the page comes back with the block in place and valid.
    page.locator("#people").get_by_role("button", name="Fix it").click()
    expect(page.get_by_text("Fixed: the line now meets every rule.")).to_be_visible()
    first = page.locator("[data-tl-person='1'] [data-tl-block]")
    expect(first).to_have_class("tl-block")
    assert dubs.line_checks(dub)[Line.objects.get(person__number=1).pk].ok

    # A start typed to the millisecond (with a decimal comma) and a shorter crop of the clip.
    times = page.locator("#dub-board [data-person='2'] form.dub-line-times")
    times.get_by_label("Starts at (s)").fill("11,125")
    times.get_by_label("Clip to (s)").fill("1.5")
    times.get_by_role("button", name="Change").click()
    _wait_for_line(page, 2, 11_125)
    block = page.locator("[data-tl-person='2'] [data-tl-block]")
    expect(block).to_have_attribute("aria-valuenow", "11.125")
    expect(block).to_have_attribute("aria-valuetext", "From 0:11.1 to 0:12.6 (1.5 s)")
    line = Line.objects.get(person__number=2)
    assert (line.at_ms, line.crop_start_ms, line.crop_end_ms, line.volume) == (
        11_125,
        0,
        1_500,
        0.5,
    )
    screenshot(page, "dub-editor")
    assert page.js_errors == []


def test_listening_to_the_dub_mixes_every_line_at_its_time(page, users, dub):
    log_in(page, "editor")
    page.goto(dub.get_absolute_url())
    listen = page.get_by_role("button", name="Listen to the dub")
    expect(listen).to_be_enabled()
    listen.click()
    expect(page.get_by_role("button", name="Stop the dub")).to_be_visible()
    mix = page.evaluate_handle(
        """async () => {
            const module = await import(document.querySelector(
                'script[type=module][src*="timeline/main"]').src);
            return [...module.editors.values()][0].mix;
        }"""
    )
    page.wait_for_function("mix => mix.mixing && mix.scheduled.length > 0", arg=mix)
    # The video page's editor, with the lines from the board instead of the task form.
    kinds = mix.evaluate("mix => [mix.editor.constructor.name, mix.editor.source.constructor.name]")
    assert kinds == ["Editor", "BoardSource"]
    plan = mix.evaluate(
        """mix => ({sounds: mix.sounds.map(s => [s.atMs, s.lengthMs, s.volume]),
                    video: mix.video.currentTime, original: mix.originalGain.gain.value})"""
    )
    assert sorted(plan["sounds"]) == [[6_000, 2_500, 1.0], [10_000, 2_500, 0.5]]
    assert 5.0 <= plan["video"] < 5.6, "a second before the first line"
    assert plan["original"] == dub.original_volume
    # The original sound's slider is heard at once; "Set" keeps it.
    page.get_by_label("Original sound").fill("0.4")
    expect(page.locator("output[for='dub-original-volume']")).to_have_text("0.4")
    assert mix.evaluate("mix => mix.originalGain.gain.value") == pytest.approx(0.4)
    page.get_by_role("button", name="Stop the dub").click()
    assert page.evaluate("document.querySelector('[data-tl-video]').paused")
    with page.expect_navigation():
        page.get_by_role("button", name="Set").click()
    expect(page.locator("[data-timeline]")).to_have_attribute("data-original-volume", "0.4")
    dub.refresh_from_db()
    assert dub.original_volume == pytest.approx(0.4)
    screenshot(page, "dub-editor-volume")
    assert page.js_errors == []


def test_a_line_recorded_from_the_microphone_without_leaving_the_page(page, worker, users, dub):
    log_in(page, "editor")
    page.goto(dub.get_absolute_url())
    page.get_by_text("Upload or record a clip for a line").click()
    page.get_by_text("Record from the microphone").click()
    page.get_by_role("button", name="● Start recording").click()
    expect(page.locator("[data-record-time]")).to_have_text(
        re.compile(r"^[3-9]\.\d s$"), timeout=10_000
    )
    page.get_by_role("button", name="■ Stop and upload").click()
    # The page follows the recording while the worker checks it, then has it chosen.
    clip = wait_for_the_added_clip(page, "recording.m4a", anchor="add-line")
    assert (clip.source, clip.status) == ("recording", MediaStatus.READY)
    form = page.locator("#add-line form").first
    expect(form.locator("select[name=audio]")).to_have_value(str(clip.pk))
    form.get_by_label("Who says it").select_option("2")
    form.get_by_label("Starts at (s)").fill("20")
    form.get_by_role("button", name="Add the line").click()
    expect(page.locator("[data-tl-person='2'] [data-tl-block]")).to_have_count(2)
    assert Line.objects.filter(audio=clip, person__number=2, at_ms=20_000).exists()
    screenshot(page, "dub-editor-recorded-line")
    assert page.js_errors == []


def test_a_lines_edges_crop_its_clip_by_keys_and_by_dragging(page, users, dub):
    log_in(page, "editor")
    page.goto(dub.get_absolute_url())
    block = page.locator("[data-tl-person='1'] [data-tl-block]")
    start_edge = page.locator("[data-tl-person='1'] [data-tl-edge=start]")
    end_edge = page.locator("[data-tl-person='1'] [data-tl-edge=end]")
    expect(start_edge).to_have_attribute("aria-valuenow", "6.000")
    expect(end_edge).to_have_attribute("aria-valuenow", "8.500")

    # The start edge, by keys: the line starts 0.5 s later on the video and 0.5 s into its
    # clip, so the rest of its sound stays where it was.
    start_edge.focus()
    for _ in range(5):
        page.keyboard.press("ArrowRight")
    _wait_for_line(page, 1, 6_500)
    line = Line.objects.get(person__number=1)
    assert (line.at_ms, line.crop_start_ms, line.crop_end_ms) == (6_500, 500, 2_500)
    expect(start_edge).to_be_focused()

    # The end edge, dragged about 1 s to the left: the line uses less of its clip.
    box = end_edge.bounding_box()
    lane = page.locator("[data-tl-person='1']").bounding_box()
    px_per_ms = lane["width"] / dub.source.duration_ms
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x - 1_000 * px_per_ms, y, steps=5)
    page.mouse.up()
    expect(page.locator("#dub-board [data-person='1']")).not_to_have_attribute(
        "data-duration-ms", "2000"
    )
    line.refresh_from_db()
    assert (line.at_ms, line.crop_start_ms) == (6_500, 500)
    assert abs(line.crop_end_ms - 1_500) <= 2 / px_per_ms + 1
    expect(block).to_have_attribute("aria-valuetext", re.compile(r"^From 0:06\.5 to 0:07\.[45] \("))
    screenshot(page, "dub-editor-crop")
    assert page.js_errors == []
