"""An axe-core audit of every page state, in Chromium: no WCAG 2.1 A or AA violation.

axe-core comes inside the axe-playwright-python wheel (no network at test time); it is run in
each page after the page has settled.
"""

from __future__ import annotations

import pytest
from axe_playwright_python.sync_playwright import Axe

from tests.support.browser import log_in
from tests.support.pagestates import build_page_states

pytestmark = pytest.mark.django_db(transaction=True)

WCAG_21_AA = {"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}}


def _summary(violations: list[dict]) -> list[str]:
    return [
        f"{violation['id']} ({violation['impact']}): {violation['help']} — "
        + "; ".join(node["target"][0] for node in violation["nodes"][:4])
        for violation in violations
    ]


def test_every_page_state_passes_axe(browser, live_server, users, project, tmp_path):
    states = build_page_states(project, users, tmp_path)
    axe = Axe()
    found: dict[str, list[str]] = {}
    for user in {state.user for state in states}:
        context = browser.new_context(
            base_url=live_server.url, viewport={"width": 1366, "height": 900}
        )
        page = context.new_page()
        if user:
            log_in(page, user)
        for state in (state for state in states if state.user == user):
            page.goto(state.url)
            page.wait_for_load_state("networkidle")
            violations = axe.run(page, options=WCAG_21_AA).response["violations"]
            if violations:
                found[state.name] = _summary(violations)
        context.close()
    assert found == {}
    assert len(states) >= 15
