"""What views share about htmx: the request type, and answering a polling partial."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string
from django_htmx.http import HttpResponseStopPolling
from django_htmx.middleware import HtmxDetails


class HtmxHttpRequest(HttpRequest):
    htmx: HtmxDetails


def render_polled(
    request: HttpRequest, template: str, context: dict, *, settled: bool
) -> HttpResponse:
    """A partial that the page polls (`hx-trigger="every 1s"`): once `settled`, nothing more
    will change, and htmx is told to stop polling."""
    content = render_to_string(template, context, request)
    return HttpResponseStopPolling(content) if settled else HttpResponse(content)
