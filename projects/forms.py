"""Django forms. The timeline's rules are validated here too, not only in the browser."""

from __future__ import annotations

from django import forms
from django.contrib.auth import get_user_model

from projects.models import Membership, Project, Role


class ProjectForm(forms.ModelForm):
    class Meta:
        model = Project
        fields = ["name"]
        labels = {"name": "Project name"}
        widgets = {"name": forms.TextInput(attrs={"placeholder": "e.g. Spring campaign"})}

    def clean_name(self) -> str:
        name = " ".join(self.cleaned_data["name"].split())
        if not name:
            raise forms.ValidationError("Give the project a name.")
        return name


class AddMemberForm(forms.Form):
    username = forms.CharField(max_length=150, label="Username")
    role = forms.ChoiceField(choices=Role.choices, initial=Role.EDITOR, label="Role")

    def __init__(self, *args, project: Project, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.project = project

    def clean_username(self) -> object:
        username = self.cleaned_data["username"].strip()
        user = get_user_model().objects.filter(username__iexact=username, is_active=True).first()
        if user is None:
            raise forms.ValidationError(
                f"There is no active user called “{username}”. Check the spelling, or ask an "
                "administrator to create the account first."
            )
        if Membership.objects.filter(project=self.project, user=user).exists():
            raise forms.ValidationError(
                f"{user.username} is already a member. Change their role in the list below."
            )
        return user


class UrlImportForm(forms.Form):
    url = forms.URLField(
        label="Address of the file",
        max_length=2000,
        assume_scheme="https",
        error_messages={"invalid": "Enter a full web address starting with https:// or http://."},
    )
    kind = forms.ChoiceField(choices=[("video", "Video"), ("audio", "Audio clip")], label="It is a")

    def clean_url(self) -> str:
        url = self.cleaned_data["url"]
        if not url.lower().startswith(("http://", "https://")):
            raise forms.ValidationError("Only web addresses (http:// or https://) can be imported.")
        return url
