"""Template filters for times and sizes, worded as in the rest of the app (mediakit.wording)."""

from __future__ import annotations

from functools import lru_cache

from django import template
from django.utils.html import format_html_join
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

    return format_html_join(
        "",
        '<option value="{}"{}>{}</option>',
        (
            (
                voice.voice_id,
                mark_safe(" selected") if voice.voice_id == selected else "",
                voice.label,
            )
            for voice in VOICES
        ),
    )
