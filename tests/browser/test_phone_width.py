"""On a phone (390 px wide) no page scrolls sideways; tables become stacked rows."""

from __future__ import annotations

import pytest
from django.urls import resolve

from tests.support.browser import log_in, screenshot
from tests.support.pagestates import NOT_PAGES, build_page_states
from tests.test_access import NOT_ALLOWED, RULES

pytestmark = pytest.mark.django_db(transaction=True)

PHONE = {"width": 390, "height": 844}
SCREENSHOTS = {"project", "members", "review-queue"}  # pages whose tables stack on a phone

WIDEST = """() => {
  const width = document.documentElement.clientWidth;
  const wide = [...document.querySelectorAll("body *")]
    .filter((element) => element.getBoundingClientRect().right > width + 1)
    .filter((element) => !element.closest("[data-tl-scroller]"))  // the timeline scrolls inside
    .map((element) => element.tagName.toLowerCase() + "." + element.className);
  return { scroll: document.documentElement.scrollWidth, width, wide: wide.slice(0, 5) };
}"""


def test_no_page_scrolls_sideways_on_a_phone(browser, live_server, users, project, tmp_path):
    states = build_page_states(project, users, tmp_path)
    too_wide = {}
    for user in {state.user for state in states}:
        context = browser.new_context(base_url=live_server.url, viewport=PHONE)
        page = context.new_page()
        if user:
            log_in(page, user)
        for state in (state for state in states if state.user == user):
            page.goto(state.url)
            page.wait_for_load_state("networkidle")
            measured = page.evaluate(WIDEST)
            if measured["scroll"] > measured["width"]:
                too_wide[state.name] = measured
            if state.name in SCREENSHOTS:
                screenshot(page, f"phone-{state.name}")
        context.close()
    assert too_wide == {}


def test_every_page_is_looked_at(users, project, tmp_path):
    """Each app address that answers GET with a page is among the states the tests walk."""
    looked_at = {
        resolve(state.url.split("?")[0]).view_name
        for state in build_page_states(project, users, tmp_path)
        if state.name != "not-found"
    }
    pages = {name for name, rule in RULES.items() if rule.get != NOT_ALLOWED} - NOT_PAGES
    assert pages - looked_at == set()
