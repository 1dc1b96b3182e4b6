"""What people see to know where they are: a focus ring that shows on every background, links
told from text by more than colour, drop areas that are one big button, and a favicon."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from tests.support.browser import log_in, screenshot
from tests.support.objects import project_objects
from tests.support.reviewing import finish

pytestmark = pytest.mark.django_db(transaction=True)

# WCAG 2.1 1.4.11: a focus indicator needs 3:1 against what is next to it.
NON_TEXT_CONTRAST = 3.0

RING_STYLE = """(element) => {
  const style = getComputedStyle(element);
  let around = element.parentElement;
  let background = "rgba(0, 0, 0, 0)";
  while (around) {
    const colour = getComputedStyle(around).backgroundColor;
    if (!colour.startsWith("rgba") || !colour.endsWith(", 0)")) { background = colour; break; }
    around = around.parentElement;
  }
  const own = style.backgroundColor;
  return {
    outline: style.outlineColor, outlineWidth: parseFloat(style.outlineWidth),
    outlineStyle: style.outlineStyle, shadow: style.boxShadow,
    background: background === "rgba(0, 0, 0, 0)" ? "rgb(255, 255, 255)" : background, own,
  };
}"""


def _rgb(text: str) -> tuple[float, float, float]:
    red, green, blue = (float(part) for part in re.findall(r"[\d.]+", text)[:3])
    return red, green, blue


def _luminance(colour: tuple[float, float, float]) -> float:
    def channel(value: float) -> float:
        value /= 255
        return value / 12.92 if value <= 0.03928 else ((value + 0.055) / 1.055) ** 2.4

    red, green, blue = (channel(value) for value in colour)
    return 0.2126 * red + 0.7152 * green + 0.0722 * blue


def contrast(first: str, second: str) -> float:
    light, dark = sorted((_luminance(_rgb(first)), _luminance(_rgb(second))), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def assert_ring_shows(page, locator, *, inside: bool = False, worn_by=None) -> None:
    """The focused element's ring has two tones, one of which stands out from the background
    around it (or, for a ring drawn inside, from the element's own background). `worn_by`: the
    element that draws the ring of the focused `locator`, when another does."""
    locator.focus()
    assert locator.evaluate("element => element.matches(':focus-visible')"), "keyboard focus"
    ring = (worn_by or locator).evaluate(RING_STYLE)
    assert ring["outlineStyle"] != "none" and ring["outlineWidth"] >= 2
    halo = re.match(r"(rgba?\([^)]*\))", ring["shadow"] or "")
    assert halo, f"a second tone beside the outline, got box-shadow {ring['shadow']!r}"
    background = ring["own"] if inside else ring["background"]
    tones = (ring["outline"], halo.group(1))
    assert contrast(*tones) >= NON_TEXT_CONTRAST, f"the two tones {tones} differ clearly"
    best = max(contrast(tone, background) for tone in tones)
    assert best >= NON_TEXT_CONTRAST, f"ring {tones} on {background}: {best:.2f}:1"


def test_focus_ring_shows_on_cards_the_dark_bar_and_the_timeline(page, users, face_video, speech):
    log_in(page, "editor")
    page.goto(face_video.get_absolute_url())
    page.keyboard.press("Tab")  # keyboard use: focus rings are for it
    assert_ring_shows(page, page.get_by_role("button", name="Log out"))
    assert_ring_shows(page, page.locator(".face-card").first)
    page.locator(".face-card").first.click()
    page.get_by_label("Audio clip", exact=True).select_option(label=str(speech))
    page.keyboard.press("Tab")
    block = page.locator("[data-tl-block]")
    expect(block).to_be_visible()
    assert_ring_shows(page, block)
    assert_ring_shows(page, page.locator("[data-tl-ruler]"), inside=True)
    block.focus()
    screenshot(page, "focus-ring-timeline")


def test_links_inside_text_are_underlined_in_the_app_and_the_panel(page, users, project):
    users["owner"].is_staff = True
    users["owner"].save(update_fields=["is_staff"])
    made = project_objects(project, users["editor"])
    finish(made["task"])
    log_in(page, "owner")
    page.goto(made["task"].get_absolute_url())
    crumbs = page.locator(".crumbs a")
    assert crumbs.count() >= 2
    for index in range(crumbs.count()):
        decoration = crumbs.nth(index).evaluate("a => getComputedStyle(a).textDecorationLine")
        assert "underline" in decoration

    page.goto(reverse("admin:projects_lipsynctask_change", args=[made["task"].pk]))
    link = page.get_by_role("link", name="Open this task's page in the app")
    assert "underline" in link.evaluate("a => getComputedStyle(a).textDecorationLine")
    screenshot(page, "review-task-link")


def test_drop_area_is_one_button_over_the_whole_area_and_there_is_a_favicon(page, users, project):
    log_in(page, "editor")
    page.goto(project.get_absolute_url())
    area = page.locator("label.drop-target[for=video-file]")
    picker = page.locator("#video-file")
    # No browser "Choose File" button: the input is invisible and spans the whole area.
    assert picker.evaluate("input => getComputedStyle(input).opacity") == "0"
    area_box, picker_box = area.bounding_box(), picker.bounding_box()
    assert picker_box["width"] >= area_box["width"] - 4
    assert picker_box["height"] >= area_box["height"] - 4
    with page.expect_file_chooser() as clicked:
        # Near the area's bottom-left corner, away from its text, wherever the area is by the
        # time of the click (parts of the page above it may still be settling).
        area.click(position={"x": 12, "y": area_box["height"] - 8})
    assert not clicked.value.is_multiple()

    icon = page.locator("link[rel=icon]").get_attribute("href")
    response = page.request.get(icon)
    assert response.status == 200 and response.headers["content-type"].startswith("image/")


def test_drop_area_is_reached_and_opened_with_the_keyboard(page_of_a_new_browser, users, project):
    # A browser of its own: after the many pages of the tests before it, a long-running headless
    # Chromium stops opening the native file chooser for a key press (a click still opens it).
    page = page_of_a_new_browser
    log_in(page, "editor")
    page.goto(project.get_absolute_url())
    area = page.locator("label.drop-target[for=video-file]")
    picker = page.locator("#video-file")
    picker.focus()
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Tab")  # reached with the keyboard, the area wears the input's ring
    assert_ring_shows(page, picker, worn_by=area)
    assert picker.evaluate("input => document.activeElement === input")
    with page.expect_file_chooser() as opened:
        page.keyboard.press("Space")
    assert not opened.value.is_multiple()
    screenshot(page, "drop-areas")
