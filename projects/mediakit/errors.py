"""The one error media handling raises, worded for the person who uploaded the file."""

from __future__ import annotations


class MediaError(Exception):
    """A file we cannot accept or process; `message` says what the person can do about it."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
