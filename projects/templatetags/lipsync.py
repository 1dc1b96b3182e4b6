"""Template filters for times and sizes, worded as in the rest of the app (mediakit.wording)."""

from __future__ import annotations

from django import template

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
