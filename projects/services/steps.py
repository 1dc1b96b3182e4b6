"""How long each step of preparing a video took, written to the worker's log.

One line a step (`video 12 step strip started 1764600000.123 ended 1764600000.456`), with wall
clock times so that the waits between steps (a task waiting in the queue) can be read off too.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager

log = logging.getLogger("projects.steps")


@contextmanager
def timed(video_id: int, step: str) -> Iterator[None]:
    """Log the step's start and end (also when it fails: a failed step took time too)."""
    started = time.time()
    try:
        yield
    finally:
        log.info("video %s step %s started %.3f ended %.3f", video_id, step, started, time.time())
