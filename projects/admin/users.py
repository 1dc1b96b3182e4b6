"""People, for administrators: Django's user pages (where a password is set) and one action
that mails a password-reset link (projects/services/accounts.py)."""

from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.db.models import QuerySet
from django.http import HttpRequest

from projects.services import accounts
from projects.services.errors import ServiceError

User = get_user_model()


class PeopleAdmin(UserAdmin):
    actions = ["send_password_reset_link"]

    @admin.action(description="Mail a link to choose a new password", permissions=["change"])
    def send_password_reset_link(self, request: HttpRequest, users: QuerySet) -> None:
        for user in users:
            try:
                accounts.send_password_reset_link(user)
            except ServiceError as error:
                self.message_user(request, f"{user.get_username()}: {error}", messages.ERROR)
            else:
                self.message_user(
                    request, f"A link was mailed to {user.get_username()}.", messages.SUCCESS
                )


admin.site.unregister(User)
admin.site.register(User, PeopleAdmin)
