"""The editor's side of reviews: marking the decisions notice as seen."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect
from django.utils.dateparse import parse_datetime
from django.views.decorators.http import require_POST

from projects.access import get_project_for_user
from projects.services import review
from projects.types import HtmxHttpRequest


@login_required
@require_POST
def decisions_seen(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """Hide the decisions listed in the notice; newer ones will show on the next visit."""
    project = get_project_for_user(request.user, pk)
    membership = review.membership_of(request.user, project)
    if membership is not None:  # staff who see every project have no notice to clear
        review.mark_decisions_seen(membership, _shown_until(request.POST.get("until", "")))
    if request.htmx:
        return HttpResponse("")  # the notice is swapped for nothing
    return redirect(project)


def _shown_until(raw: str):
    """The newest decision the page showed; a missing or garbled value means "now"."""
    try:
        return parse_datetime(raw)
    except ValueError:
        return None
