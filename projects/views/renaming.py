"""Renaming from a small form, shared by the rename views of videos, audio clips and tasks:
the name is checked, the service renames, and the page it came from says what happened."""

from __future__ import annotations

from collections.abc import Callable

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect

from projects.forms import RenameForm
from projects.htmx import HtmxHttpRequest


def rename_then_return(
    request: HtmxHttpRequest,
    *,
    rename: Callable[[str], object],
    shown_as: Callable[[], str],
    back: object,
    required: bool = True,
) -> HttpResponse:
    """`rename(name)` is the service call; `shown_as()` the name the thing goes by afterwards
    (for a task an empty name brings back the one made from it); `back` what redirect() takes."""
    form = RenameForm(request.POST, required=required)
    if form.is_valid():
        rename(form.cleaned_data["name"])
        messages.success(request, f"Renamed to “{shown_as()}”.")
    else:
        messages.error(request, form.errors["name"][0])
    return redirect(back)
