"""Errors of htmx requests land in the page, never instead of it, with DEBUG on and off.

A form error (400) is shown in its form; a refused upload in its drop area; a server error
(500) as a calm sentence in the form's error area, with the page around it untouched.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from projects.services import membership
from tests.support.browser import log_in, screenshot

pytestmark = pytest.mark.django_db(transaction=True)

DEBUG_MODES = [pytest.param(True, id="debug-on"), pytest.param(False, id="debug-off")]


def expect_page_intact(page) -> None:
    """The page around the error is still ours: its bar, its heading, its stylesheet."""
    expect(page.locator("header.topbar")).to_be_visible()
    expect(page.locator("h1")).to_be_visible()
    assert page.evaluate("() => document.styleSheets.length") >= 1


@pytest.mark.parametrize("debug", DEBUG_MODES)
def test_inviting_a_member_again_is_told_inside_the_form(page, settings, users, project, debug):
    settings.DEBUG = debug
    log_in(page, "owner")
    page.goto(f"/projects/{project.pk}/members/")
    page.get_by_label("Username").fill("editor")  # already a member of the project
    page.get_by_role("button", name="Send invitation").click()
    panel = page.locator("#members-panel")
    expect(panel.get_by_role("alert")).to_contain_text("editor is already a member")
    expect_page_intact(page)
    expect(page.get_by_role("heading", name="Members", exact=True)).to_be_visible()
    if debug:
        screenshot(page, "request-error-form")
    assert page.js_errors == []


@pytest.mark.parametrize("debug", DEBUG_MODES)
def test_empty_upload_is_told_in_its_drop_area(page, settings, users, project, tmp_path, debug):
    settings.DEBUG = debug
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    log_in(page, "editor")
    page.goto(f"/projects/{project.pk}/")
    page.locator("#video-file").set_input_files(str(empty))
    page.get_by_role("button", name="Upload video").click()
    expect(page.locator("#video-upload-result")).to_contain_text("This file is empty (0 bytes).")
    expect_page_intact(page)
    expect(page.get_by_role("heading", name=project.name)).to_be_visible()


def test_an_address_we_cannot_import_is_told_inside_the_form(page, settings, users, project):
    settings.DEBUG = True
    log_in(page, "editor")
    page.goto(f"/projects/{project.pk}/")
    page.get_by_text("Import from a web address instead").click()
    page.get_by_label("Address of the file").fill("ftp://example.com/interview.mp4")
    page.get_by_role("button", name="Import").click()
    expect(page.locator("#import-errors").get_by_role("alert")).to_have_text(
        "Only web addresses (http:// or https://) can be imported."
    )
    expect(page.locator("main h1")).to_have_count(1)  # no second page inside the form
    expect_page_intact(page)


@pytest.mark.parametrize("debug", DEBUG_MODES)
def test_server_error_is_a_calm_notice_in_the_form(
    page, settings, users, project, monkeypatch, debug
):
    settings.DEBUG = debug

    def broken_invite(*args, **kwargs):
        raise RuntimeError("database on fire")  # an unexpected fault inside the request

    monkeypatch.setattr(membership, "invite", broken_invite)
    log_in(page, "owner")
    page.goto(f"/projects/{project.pk}/members/")
    page.get_by_label("Username").fill("outsider")
    page.get_by_role("button", name="Send invitation").click()
    notice = page.locator("#members-panel [data-request-errors]").get_by_role("alert")
    expect(notice).to_have_text(
        "Something went wrong on our side. Try again in a moment; if it happens again, "
        "tell your administrator."
    )
    expect_page_intact(page)
    body = page.locator("body").inner_text()
    assert "database on fire" not in body and "Traceback" not in body
    if debug:
        screenshot(page, "request-error-server")
    assert page.js_errors == []
