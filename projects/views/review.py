"""Pages under /review/: the editor's side of reviews (the review panel itself is the admin)."""

from __future__ import annotations

from datetime import UTC, datetime

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.views.decorators.http import require_POST

from projects import selectors
from projects.access import get_project_for_user
from projects.htmx import HtmxHttpRequest
from projects.services import review


@login_required
@require_POST
def decisions_seen(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """Hide the decisions listed in the notice; newer ones will show on the next visit."""
    project = get_project_for_user(request.user, pk)
    member = selectors.membership_of(request.user, project)
    if member is not None:  # staff who see every project have no notice to clear
        review.mark_decisions_seen(member, _shown_until(request.POST.get("until", "")))
    if request.htmx:
        return HttpResponse("")  # the notice is swapped for nothing
    return redirect(project)


def _shown_until(raw: str) -> datetime | None:
    """The newest decision the page showed; a missing, garbled or unplaceable value means
    "now". A moment without a time zone is read in UTC."""
    try:
        moment = parse_datetime(raw)
        if moment is not None and timezone.is_naive(moment):
            moment = timezone.make_aware(moment, UTC)
        # Comparing needs UTC: an offset near the ends of the calendar falls off them.
        return moment.astimezone(UTC) if moment is not None else None
    except (ValueError, OverflowError):
        return None
