"""Security headers with production-like settings, and a content security policy the pages obey.

`manage.py check --deploy` with production settings is tested in test_settings.py. Here the
answers themselves are checked: HSTS on TLS requests only, the plain-HTTP redirect, nosniff,
frame denial, the referrer policy, and a CSP without inline or eval'd script that every page
of the app lives with (no inline script, no inline event handler, no `javascript:` link, no
htmx attribute that needs eval, scripts from our own origin only).
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.test import Client
from django.urls import reverse

from projects.models import FaceSearchState, MediaStatus, Project
from tests.support.objects import project_objects
from tests.support.personas import PASSWORD, make_user

pytestmark = pytest.mark.django_db

YEAR_S = 31_536_000


@pytest.fixture
def production(settings):
    """The values lipsync_web/settings.py derives for a TLS deployment behind a proxy."""
    settings.DEBUG = False
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.SECURE_HSTS_SECONDS = YEAR_S
    settings.SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    settings.SECURE_HSTS_PRELOAD = True
    settings.SESSION_COOKIE_SECURE = True
    settings.CSRF_COOKIE_SECURE = True
    return settings


@pytest.fixture
def pages(project, users) -> dict[str, str]:
    """One URL per kind of page a person sees, with the objects they are about."""
    objects = project_objects(project, users["editor"])
    video, audio = objects["video"], objects["audio"]
    # Faces found and a ready clip: the workspace then shows the timeline and its scripts.
    video.face_search_state = FaceSearchState.DONE
    video.face_search_engine = "local"
    video.face_session_id = objects["face"].session_id
    video.duration_ms = 3000
    video.save()
    audio.status, audio.duration_ms = MediaStatus.READY, 3000
    audio.media_info = {"problems": []}  # checked, within the limits: offered on the timeline
    audio.save()
    return {
        "project list": reverse("projects:list"),
        "project": project.get_absolute_url(),
        "members": reverse("projects:members", args=[project.pk]),
        "video workspace (timeline)": reverse("projects:video", args=[objects["video"].pk]),
        "quick mode": reverse("projects:quick", args=[objects["video"].pk]),
        "task": objects["task"].get_absolute_url(),
        "task status partial": reverse("projects:task-status", args=[objects["task"].pk]),
    }


def owner_client(users) -> Client:
    client = Client()
    client.force_login(users["owner"])
    return client


def csp_directives(header: str) -> dict[str, list[str]]:
    directives = {}
    for part in header.split(";"):
        words = part.split()
        if words:
            directives[words[0]] = words[1:]
    return directives


# --- Transport and framing headers ------------------------------------------------------------


def test_tls_requests_get_hsts_for_a_year_with_subdomains_and_preload(production, users):
    response = owner_client(users).get(reverse("projects:list"), secure=True)
    assert response.status_code == 200
    assert response["Strict-Transport-Security"] == (
        f"max-age={YEAR_S}; includeSubDomains; preload"
    )


def test_plain_http_is_redirected_to_https_without_hsts(production, users):
    response = owner_client(users).get(reverse("projects:list"))
    assert response.status_code == 301
    assert response["Location"].startswith("https://")
    assert "Strict-Transport-Security" not in response


def test_the_proxy_header_counts_as_tls(production, users):
    client = owner_client(users)
    response = client.get(reverse("projects:list"), HTTP_X_FORWARDED_PROTO="https")
    assert response.status_code == 200
    assert "Strict-Transport-Security" in response


@pytest.mark.parametrize("debug", [False, True])
def test_a_host_we_do_not_serve_gets_400_with_the_security_headers(production, debug):
    production.DEBUG = debug
    response = Client().get(reverse("login"), HTTP_HOST="evil.example", secure=True)
    assert response.status_code == 400
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["Strict-Transport-Security"].startswith(f"max-age={YEAR_S}")
    assert csp_directives(response["Content-Security-Policy"])["frame-ancestors"] == ["'none'"]


def test_plain_http_to_a_host_we_do_not_serve_is_sent_to_our_own_host(production):
    production.SECURE_SSL_HOST = "lipsync.example.com"
    response = Client().get(reverse("login"), HTTP_HOST="evil.example")
    assert response.status_code == 301
    assert response["Location"] == "https://lipsync.example.com" + reverse("login")


def test_health_check_is_reachable_over_plain_http(production):
    """The load balancer probes over HTTP inside the network: exempt from the redirect."""
    assert Client().get("/healthz").status_code == 200


def test_every_page_denies_framing_sniffing_and_leaking_referrers(production, users, pages):
    client = owner_client(users)
    for name, url in pages.items():
        response = client.get(url, secure=True)
        assert response.status_code in (200, 286), name
        assert response["X-Content-Type-Options"] == "nosniff", name
        assert response["X-Frame-Options"] == "DENY", name
        assert response["Referrer-Policy"] == "same-origin", name
        assert response["Cross-Origin-Opener-Policy"] == "same-origin", name


def test_session_and_csrf_cookies_are_secure_and_the_session_is_http_only(production, users):
    make_user("walker")
    client = Client()
    login = client.get(reverse("login"), secure=True)
    assert login.cookies["csrftoken"]["secure"]
    token = login.cookies["csrftoken"].value
    client.cookies["csrftoken"] = token
    response = client.post(
        reverse("login"),
        {"username": "walker", "password": PASSWORD, "csrfmiddlewaretoken": token},
        secure=True,
    )
    assert response.status_code == 302
    session = response.cookies["sessionid"]
    assert session["secure"] and session["httponly"]
    assert session["samesite"] == "Lax"


# --- Content security policy -----------------------------------------------------------------


def test_csp_forbids_inline_and_eval_script_plugins_framing_and_foreign_forms(production, users):
    response = owner_client(users).get(reverse("projects:list"), secure=True)
    policy = csp_directives(response["Content-Security-Policy"])
    assert policy["script-src"] == ["'self'"]
    assert "'unsafe-inline'" not in policy["default-src"] + policy["script-src"]
    assert all("'unsafe-eval'" not in sources for sources in policy.values())
    assert policy["object-src"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["base-uri"] == ["'self'"]
    assert policy["form-action"] == ["'self'"]
    assert policy["connect-src"] == ["'self'"], "htmx requests go to our own origin only"


class _ScriptAudit(HTMLParser):
    """Collects what a CSP without 'unsafe-inline' / 'unsafe-eval' would block."""

    EVAL_ATTRIBUTES = re.compile(r"^(hx-on.*|hx-vars|on[a-z]+)$")

    def __init__(self) -> None:
        super().__init__()
        self.problems: list[str] = []
        self.script_sources: list[str] = []
        self._in_inline_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        for name, value in attrs:
            if self.EVAL_ATTRIBUTES.match(name):
                self.problems.append(f"<{tag} {name}=…> needs inline script or eval")
            if value and value.strip().lower().startswith("javascript:"):
                self.problems.append(f"<{tag} {name}='javascript:…'>")
            if name == "hx-vals" and value and value.strip().startswith("js:"):
                self.problems.append(f"<{tag} hx-vals='js:…'> needs eval")
        if tag == "script":
            if values.get("src"):
                self.script_sources.append(values["src"])
            elif values.get("type") not in ("application/json", "application/ld+json"):
                self._in_inline_script = True

    def handle_data(self, data: str) -> None:
        if self._in_inline_script and data.strip():
            self.problems.append(f"inline <script>: {data.strip()[:60]}")

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_inline_script = False


def audit(html: str) -> _ScriptAudit:
    parser = _ScriptAudit()
    parser.feed(html)
    return parser


def test_pages_live_with_the_policy(production, users, pages):
    client = owner_client(users)
    seen_scripts: set[str] = set()
    for name, url in pages.items():
        response = client.get(url, secure=True)
        found = audit(response.content.decode())
        assert found.problems == [], f"{name}: {found.problems}"
        assert all(src.startswith("/static/") for src in found.script_sources), name
        seen_scripts.update(found.script_sources)
    assert any("htmx" in src for src in seen_scripts), "htmx is loaded from our own origin"
    assert any("timeline" in src for src in seen_scripts), seen_scripts
    for src in seen_scripts:  # each script the pages load is really served
        assert client.get(src, secure=True).status_code == 200, src


def test_login_and_review_panel_live_with_the_policy(production, users, project):
    anonymous = Client()
    found = audit(anonymous.get(reverse("login"), secure=True).content.decode())
    assert found.problems == []
    users["owner"].is_staff = users["owner"].is_superuser = True
    users["owner"].save()
    client = owner_client(users)
    for url in (
        reverse("admin:index"),
        reverse("admin:projects_project_change", args=[project.pk]),
    ):
        found = audit(client.get(url, secure=True).content.decode())
        assert found.problems == [], f"{url}: {found.problems}"
    assert Project.objects.filter(pk=project.pk).exists()


def test_our_scripts_use_no_eval():
    root = Path(__file__).resolve().parents[2] / "static" / "js"
    scripts = list(root.rglob("*.js"))
    assert any(script.parent.name == "timeline" for script in scripts), "the editor's modules"
    for script in scripts:
        text = script.read_text()
        for forbidden in ("eval(", "new Function(", 'setTimeout("', "setTimeout('"):
            assert forbidden not in text, f"{script.name} uses {forbidden}"
