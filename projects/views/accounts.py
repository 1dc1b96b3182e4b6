"""Pages under /accounts/ are Django's own (lipsync_web/urls.py lists them). This module holds
what both login pages, the app's and the review panel's, answer while logins are locked after
repeated failures (django-axes calls `locked_out`), and how a lock is recorded."""

from __future__ import annotations

import math
from datetime import timedelta

from axes.helpers import get_client_username, get_cool_off
from axes.models import AccessAttempt
from django.contrib.auth.forms import AuthenticationForm
from django.db.models import Max, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone

from projects.services import audit

TOO_MANY_REQUESTS = 429


def locked_out(
    request: HttpRequest, original_response: HttpResponse | None, credentials: dict | None
) -> HttpResponse:
    """The login page again, saying how long to wait, rather than a bare refusal."""
    username = get_client_username(request, credentials) or ""
    form = AuthenticationForm(request, initial={"username": username})
    fallback = reverse("admin:index") if is_admin_login(request) else ""
    context = {
        "form": form,
        "next": request.POST.get("next") or request.GET.get("next") or fallback,
        "locked_minutes": minutes_until_unlocked(request, username),
    }
    return render(request, "registration/login.html", context, status=TOO_MANY_REQUESTS)


def minutes_until_unlocked(request: HttpRequest, username: str) -> int:
    """Whole minutes until the lock on this account or address ends (at least one): the lock
    lasts LIPSYNC_LOGIN_LOCK_MINUTES from the last failure that counted."""
    cool_off = get_cool_off(request) or timedelta(0)
    last_failure = AccessAttempt.objects.filter(
        Q(username=username) | Q(ip_address=getattr(request, "axes_ip_address", None))
    ).aggregate(last=Max("attempt_time"))["last"]
    left = cool_off if last_failure is None else last_failure + cool_off - timezone.now()
    return max(1, math.ceil(left.total_seconds() / 60))


def is_admin_login(request: HttpRequest) -> bool:
    return request.path == reverse("admin:login")


def record_login_lock(
    sender: object, request: HttpRequest, username: str, ip_address: str, **kwargs
) -> None:
    """Receiver of axes' `user_locked_out`: one audit event when a lock starts.

    Axes signals again for each attempt during the lock; only the attempt that started it was
    counted (`axes_failures_since_start` is set on that request alone).
    """
    failures = getattr(request, "axes_failures_since_start", None)
    if failures is None:
        return
    audit.record_login_lock(
        username=username or "",
        address=ip_address or "",
        login="review panel's login" if is_admin_login(request) else "app's login",
        failures=failures,
    )
