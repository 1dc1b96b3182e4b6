"""Template filters for times and sizes, worded as in the rest of the app (mediakit.wording)."""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache

from django import template
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

from projects.mediakit import wording

register = template.Library()


@register.filter
def duration(ms: int | None) -> str:
    """A length: '12.4 s'."""
    return "" if ms is None else wording.seconds(int(ms))


@register.filter
def timecode(ms: int | None) -> str:
    """A position on a timeline with tenths: '0:03.2'."""
    if ms is None:
        return ""
    ms = int(ms)
    minutes, rest = divmod(ms, 60_000)
    return f"{minutes}:{rest // 1000:02d}.{rest % 1000 // 100}"


@register.filter
def media_time(ms: int | None) -> str:
    """A position for a media fragment (`video.mp4#t=4.5`): seconds, as short as exact."""
    if ms is None:
        return "0"
    return f"{int(ms) / 1000:.3f}".rstrip("0").rstrip(".")


@register.filter
def when(moment: datetime | None) -> str:
    """A moment, written the same way on every page ('21 Nov 2026, 14:05' in the server's time
    zone), which static/js/dates.js shows in the reader's locale and time zone."""
    if moment is None:
        return ""
    local = timezone.localtime(moment)
    return format_html(
        '<time datetime="{}" title="{}" data-when>{}</time>',
        moment.isoformat(),
        f"{date_format(local, 'DATETIME_FORMAT')} ({local.tzname()})",
        date_format(local, "DATETIME_FORMAT"),
    )


@register.filter
def clock_time(moment: datetime | None) -> str:
    """A time of today to the second with its zone ('14:05:07 UTC'): when a next try is due."""
    return _time_with_zone(moment, "%H:%M:%S")


@register.filter
def exact_when(moment: datetime | None) -> str:
    """A moment to the second, with its time zone ('21 Nov 2026, 14:05:07 UTC'): for logs."""
    return _time_with_zone(moment, "%d %b %Y, %H:%M:%S")


def _time_with_zone(moment: datetime | None, shown_as: str) -> str:
    if moment is None:
        return ""
    local = timezone.localtime(moment)
    return format_html(
        '<time datetime="{}">{} {}</time>',
        moment.isoformat(),
        local.strftime(shown_as),
        local.tzname(),
    )


@register.filter
def filesize(size: int | None) -> str:
    return "" if size is None else wording.megabytes(int(size))


@register.simple_tag
def voice_options(selected: str | None) -> str:
    """The voice picker's <option>s: 46 voices built once in Python, not by 46 widget templates
    (the form widget's per-option templates were most of the project page's render time)."""
    return _voice_options(selected or "")


@lru_cache(maxsize=64)
def _voice_options(selected: str) -> str:
    from projects.engines.voices import VOICES

    # Each voice says which languages it speaks (its own first): the page switches the
    # language to one the chosen voice speaks, since Kling may refuse the others.
    return format_html_join(
        "",
        '<option value="{}" data-languages="{}"{}>{} ({})</option>',
        (
            (
                voice.voice_id,
                " ".join(voice.own_languages),
                mark_safe(" selected") if voice.voice_id == selected else "",
                voice.label,
                ", ".join(LANGUAGE_NAMES[code] for code in voice.own_languages),
            )
            for voice in VOICES
        ),
    )


LANGUAGE_NAMES = {"en": "English", "zh": "Chinese"}
