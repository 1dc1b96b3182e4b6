"""Asking before deleting, shared by the delete views of videos, audio clips, tasks and dubs:
GET shows projects/confirm_delete.html; POST runs the service's delete and goes on, or comes
back with the refusal in words."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render

from projects.htmx import HtmxHttpRequest
from projects.models import Project
from projects.services.errors import ServiceError


@dataclass(frozen=True)
class Deletion:
    project: Project
    what: str  # the thing in words: 'the video “x.mp4”'
    also: str  # what goes with it, and what stays
    refusal: str  # why it cannot be deleted now, or ""
    back_url: str  # where "Keep it" and a refusal lead
    done_url: str  # where the page goes once it is deleted
    delete: Callable[[], None]  # the service call
    done_message: str = ""  # what the next page says; "Deleted <what>." when empty


def confirm_then_delete(request: HtmxHttpRequest, deletion: Deletion) -> HttpResponse:
    if request.method == "POST":
        try:
            deletion.delete()
        except ServiceError as error:
            messages.error(request, str(error))
            return redirect(deletion.back_url)
        messages.success(request, deletion.done_message or f"Deleted {deletion.what}.")
        return redirect(deletion.done_url)
    context = {
        "project": deletion.project,
        "what": deletion.what,
        "also": deletion.also,
        "refusal": deletion.refusal,
        "back_url": deletion.back_url,
    }
    return render(request, "projects/confirm_delete.html", context)
