"""An owner invites from the members page (htmx: the answer and errors stay in the panel); the
invited person accepts from the notice on their projects page and lands in the project."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from projects.models import Membership
from tests.support.browser import create_project, log_in, screenshot

pytestmark = pytest.mark.django_db(transaction=True)


def test_invite_then_accept_from_the_notice(page, browser, live_server, users):
    log_in(page, "owner")
    create_project(page, "Harbour promo")
    page.get_by_role("link", name="Members").click()
    page.get_by_label("Username").fill("outsider")
    page.get_by_label("Role").select_option("editor")
    page.get_by_role("button", name="Send invitation").click()
    panel = page.locator("#members-panel")
    expect(panel.get_by_text("Invitation sent to “outsider”.")).to_be_visible()
    expect(panel.get_by_role("cell", name="outsider", exact=True)).to_be_visible()
    assert page.get_by_label("Username").input_value() == "", "the form is ready for another"

    page.get_by_label("Username").fill("owner")
    page.get_by_role("button", name="Send invitation").click()
    expect(panel.locator(".field.has-error").get_by_text("already a member")).to_be_visible()
    screenshot(page, "members-invitation")
    assert not Membership.objects.filter(user=users["outsider"]).exists()

    invited = browser.new_context(base_url=live_server.url).new_page()
    log_in(invited, "outsider")
    notice = invited.locator("#invitations-notice")
    expect(notice).to_contain_text("owner invited you to Harbour promo as editor.")
    screenshot(invited, "projects-invitation-notice")
    notice.get_by_role("button", name="Accept").click()
    expect(invited.get_by_role("heading", name="Harbour promo")).to_be_visible()
    expect(invited.get_by_text("You joined “Harbour promo” as editor.")).to_be_visible()
    assert Membership.objects.get(user=users["outsider"]).role == "editor"
    assert page.js_errors == []
