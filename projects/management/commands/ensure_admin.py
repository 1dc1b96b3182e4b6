"""Create the first administrator when there is none; print a generated password once."""

from __future__ import annotations

import os
import secrets

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Create the user 'admin' if no superuser exists (password from LIPSYNC_ADMIN_PASSWORD)."

    def handle(self, *args: object, **options: object) -> None:
        users = get_user_model().objects
        if users.filter(is_superuser=True).exists():
            return
        password = os.environ.get("LIPSYNC_ADMIN_PASSWORD") or secrets.token_urlsafe(12)
        users.create_superuser(username="admin", email="", password=password)
        if os.environ.get("LIPSYNC_ADMIN_PASSWORD"):
            self.stdout.write("Created the administrator 'admin' with LIPSYNC_ADMIN_PASSWORD.")
        else:
            self.stdout.write(
                self.style.WARNING(
                    "Created the administrator 'admin' with the password "
                    f"{password}\nIt is shown only this once: note it now."
                )
            )
