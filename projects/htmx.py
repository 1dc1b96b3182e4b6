"""What views share about htmx: the request type, answering a polling partial, and the "seen"
mark that lets a poll of something unchanged be answered without the work of a full answer.

Every open task page asks for its status every second, and almost always nothing has changed.
A full answer loads the session, the user and the task, checks membership and renders the
partial; a poll that brings the mark of its last full answer (`?seen=…`), while the row it
showed is unchanged, gets "204 No Content" after one plain query, and htmx keeps the element
and polls on. The mark is a signature of the row's fingerprint: it tells whoever holds it
only that what they were shown is still true. Anything new takes the full way, so a person
logged out or removed from the project is refused as soon as there is something to show.
"""

from __future__ import annotations

import hashlib

from django.core.signing import Signer
from django.db import connection, models
from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string
from django.utils.crypto import constant_time_compare
from django_htmx.http import HttpResponseStopPolling
from django_htmx.middleware import HtmxDetails

SEEN_PARAM = "seen"
_SIGNER = Signer(salt="projects.htmx.seen")


class HtmxHttpRequest(HttpRequest):
    htmx: HtmxDetails


def render_polled(
    request: HttpRequest, template: str, context: dict, *, settled: bool
) -> HttpResponse:
    """A partial that the page polls (`hx-trigger="every 1s"`): once `settled`, nothing more
    will change, and htmx is told to stop polling."""
    content = render_to_string(template, context, request)
    return HttpResponseStopPolling(content) if settled else HttpResponse(content)


def row_fingerprint(model: type[models.Model], pk: object) -> str | None:
    """A digest of every column of one row (None when there is no such row): it changes
    whenever anything a page shows of the row could. A plain query, not the ORM's, since it
    runs on every poll and building an ORM query costs more here than running it."""
    meta = model._meta
    table, column = (connection.ops.quote_name(name) for name in (meta.db_table, meta.pk.column))
    value = meta.pk.get_db_prep_value(pk, connection)
    with connection.cursor() as cursor:
        # The names come from the model's own metadata, quoted; the value is a parameter.
        cursor.execute(f"SELECT * FROM {table} WHERE {column} = %s", [value])  # noqa: S608
        row = cursor.fetchone()
    if row is None:
        return None
    return hashlib.blake2b(repr(row).encode(), digest_size=12).hexdigest()


def seen_mark(model: type[models.Model], pk: object) -> str:
    """The mark a full answer carries in its polling address. Take it before reading the row
    for the answer: a change in between then makes the mark older than the answer (the next
    poll answers in full), never newer (which would hide the change)."""
    fingerprint = row_fingerprint(model, pk)
    if fingerprint is None:
        return ""
    return _SIGNER.signature(f"{model._meta.label}:{pk}:{fingerprint}")


def polling_address(url: str, model: type[models.Model], pk: object) -> str:
    """`url` with the mark of the row as it is now; taken, like seen_mark, before the row is
    read for the answer that carries it."""
    mark = seen_mark(model, pk)
    return f"{url}?{SEEN_PARAM}={mark}" if mark else url


def is_seen_unchanged(request: HttpRequest, model: type[models.Model], pk: object) -> bool:
    """Whether the poll brings a mark of the row as it still is."""
    mark = request.GET.get(SEEN_PARAM, "")
    return bool(mark) and constant_time_compare(mark, seen_mark(model, pk))


def nothing_new() -> HttpResponse:
    """The answer to a poll of something unchanged: htmx swaps nothing and polls on."""
    return HttpResponse(status=204)
