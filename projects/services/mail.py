"""Mail to people, and whether it reaches them.

The console backend (the default) writes mail into the server's log: fine for a review
decision seen on one machine, but never for a secret such as a password-reset link or for
telling someone about an invitation they could not otherwise see. Those are sent only when a
backend that delivers mail is configured (EMAIL_BACKEND).
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.mail import send_mail

logger = logging.getLogger(__name__)

UNDELIVERED_BACKENDS = frozenset(
    {
        "django.core.mail.backends.console.EmailBackend",
        "django.core.mail.backends.dummy.EmailBackend",
    }
)


def is_delivered() -> bool:
    """Whether mail sent now reaches its recipient rather than the log (or nowhere)."""
    return settings.EMAIL_BACKEND not in UNDELIVERED_BACKENDS


def absolute_url(path: str) -> str | None:
    """The address of `path` as mail should give it: from PUBLIC_BASE_URL, never from a
    request's Host header. None without PUBLIC_BASE_URL."""
    base = settings.PUBLIC_BASE_URL
    return f"{base.rstrip('/')}{path}" if base else None


def send_quietly(subject: str, body: str, address: str) -> bool:
    """Send one mail; a failing mail server is logged, not raised (the change it reports has
    already happened). Whether it was handed to the backend."""
    try:
        send_mail(subject, body, None, [address])
    except Exception:  # any backend error: SMTP, DNS, refused address…
        logger.exception("Could not send the mail “%s”", subject)
        return False
    return True
