"""People's accounts: an administrator sends a password-reset link (there is no self-service
reset; the login page tells people to ask an administrator)."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.contrib.auth.tokens import default_token_generator
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from projects.services import mail
from projects.services.errors import ServiceError


def send_password_reset_link(user: AbstractBaseUser) -> None:
    """Mail `user` a one-time link to choose a new password.

    The link is built from PUBLIC_BASE_URL and only sent through a backend that delivers mail,
    so it never lands in a server log nor points at a host a request named.
    """
    if not mail.is_delivered():
        raise ServiceError(
            "No mail server is configured (EMAIL_BACKEND), so a link would only reach the "
            "server's log. Set a password for this person instead."
        )
    if not user.email:
        raise ServiceError(f"{user.get_username()} has no email address. Set a password instead.")
    path = reverse(
        "password_reset_confirm",
        kwargs={
            "uidb64": urlsafe_base64_encode(force_bytes(user.pk)),
            "token": default_token_generator.make_token(user),
        },
    )
    link = mail.absolute_url(path)
    if link is None:
        raise ServiceError(
            "PUBLIC_BASE_URL is not set, so the link would not say where this app is. "
            "Set a password for this person instead."
        )
    body = (
        f"Hello {user.get_username()},\n\n"
        "An administrator of lipsync-web sent you this link to choose a new password:\n\n"
        f"{link}\n\n"
        "It works once, and stops working when you log in or change your password.\n"
    )
    if not mail.send_quietly("Choose a new lipsync-web password", body, user.email):
        raise ServiceError("The mail server refused the message; try again later.")
