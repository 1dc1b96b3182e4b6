"""Secrets in addresses never reach a log: callback tokens and signed media-link tokens.

An engine calls us back at /hooks/engine/<task id>/<token>/ and fetches our files at
/hooks/media/<token>/; whoever reads a log line with a live token could do the same. Both the
web server's access log (gunicorn, through `MaskingGunicornLogger`) and the app's own log
lines (Django's "Bad Request: /hooks/…", through `MaskSecretsFilter`) show them as ***.
"""

from __future__ import annotations

import logging
import re

from gunicorn.glogging import Logger as GunicornLogger

MASK = "***"
# The token is the path segment after the task id, or after /hooks/media/; it may be
# percent-encoded in a raw request line, so anything up to the next / ? # or space goes.
_SECRET_SEGMENT = re.compile(r"(/hooks/engine/[^/?#\s]+/|/hooks/media/)[^/?#\s\"]+")


def mask_secrets(text: str) -> str:
    return _SECRET_SEGMENT.sub(rf"\g<1>{MASK}", text)


class MaskingGunicornLogger(GunicornLogger):
    """gunicorn's logger with every access-log field masked: request line, path, referrer."""

    def atoms(self, resp, req, environ, request_time) -> dict:
        atoms = super().atoms(resp, req, environ, request_time)
        return {
            key: mask_secrets(value) if isinstance(value, str) else value
            for key, value in atoms.items()
        }


class MaskSecretsFilter(logging.Filter):
    """Masks the app's own log records (Django logs the path of every 4xx and 5xx answer)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = mask_secrets(message)
        if masked != message:
            record.msg, record.args = masked, ()
        return True
