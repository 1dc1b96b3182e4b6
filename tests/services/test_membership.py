"""Invitations and members: nobody joins without accepting, names are never confirmed, and every
step is in the audit trail."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from projects.access import visible_projects
from projects.models import (
    AuditEvent,
    AuditVerb,
    Invitation,
    InvitationState,
    Membership,
    Role,
)
from projects.services import membership
from projects.services.errors import ServiceError
from tests.support.personas import make_user

pytestmark = [pytest.mark.django_db, pytest.mark.portable]


def trail(project) -> list[tuple[str, str, str]]:
    events = AuditEvent.objects.filter(project=project).order_by("created_at", "pk")
    return [(e.verb, e.actor.username if e.actor else "", e.note) for e in events]


def test_an_invitation_adds_nobody_until_it_is_accepted(project, users):
    alice = make_user("alice")
    invitation = membership.invite(project, username="ALICE", role=Role.OWNER, by=users["owner"])
    assert not Membership.objects.filter(project=project, user=alice).exists()
    assert project not in visible_projects(alice)

    joined = membership.accept(invitation, user=alice)
    assert joined.role == Role.OWNER
    assert project in visible_projects(alice)
    invitation.refresh_from_db()
    assert invitation.state == InvitationState.ACCEPTED and invitation.answered_at is not None


def test_declined_withdrawn_and_lapsed_invitations_cannot_be_accepted(project, users):
    alice = make_user("alice")
    owner = users["owner"]
    declined = membership.invite(project, username="alice", role=Role.EDITOR, by=owner)
    membership.decline(declined, user=alice)
    withdrawn = membership.invite(project, username="alice", role=Role.EDITOR, by=owner)
    membership.withdraw(withdrawn, by=owner)
    lapsed = membership.invite(project, username="alice", role=Role.EDITOR, by=owner)
    Invitation.objects.filter(pk=lapsed.pk).update(created_at=timezone.now() - timedelta(days=15))
    for invitation in (declined, withdrawn, lapsed):
        with pytest.raises(ServiceError, match="answered, withdrawn or has lapsed"):
            membership.accept(invitation, user=alice)
    assert not Membership.objects.filter(project=project, user=alice).exists()


def test_only_the_person_named_can_answer(project, users):
    invitation = membership.invite(project, username="alice", role=Role.EDITOR, by=users["owner"])
    for someone in (users["outsider"], make_user("alicia")):
        with pytest.raises(ServiceError):
            membership.accept(invitation, user=someone)
    inactive = make_user("alice", is_active=False)
    with pytest.raises(ServiceError):
        membership.accept(invitation, user=inactive)


def test_unknown_and_known_names_are_invited_alike(project, users):
    make_user("alice")
    known = membership.invite(project, username="alice", role=Role.EDITOR, by=users["owner"])
    unknown = membership.invite(
        project, username="nobody-here", role=Role.EDITOR, by=users["owner"]
    )
    assert {known.state, unknown.state} == {InvitationState.PENDING}
    assert trail(project) == [
        (AuditVerb.INVITED, "owner", "alice (Editor)"),
        (AuditVerb.INVITED, "owner", "nobody-here (Editor)"),
    ]


def test_inviting_a_name_again_renews_the_one_invitation(project, users):
    first = membership.invite(project, username="alice", role=Role.EDITOR, by=users["owner"])
    again = membership.invite(project, username="Alice", role=Role.REVIEWER, by=users["owner"])
    assert again.pk == first.pk
    assert Invitation.objects.get().role == Role.REVIEWER


def test_one_pending_invitation_per_name_in_the_database(project, users):
    membership.invite(project, username="alice", role=Role.EDITOR, by=users["owner"])
    with pytest.raises(IntegrityError), transaction.atomic():
        Invitation.objects.create(
            project=project, username="ALICE", role=Role.OWNER, invited_by=users["owner"]
        )


def test_members_are_not_invited_again(project, users):
    with pytest.raises(ServiceError, match="already a member"):
        membership.invite(project, username="Editor", role=Role.OWNER, by=users["owner"])
    assert not Invitation.objects.exists()


def test_every_step_is_in_the_trail(project, users):
    owner, alice, bob = users["owner"], make_user("alice"), make_user("bob")
    accepted = membership.invite(project, username="alice", role=Role.EDITOR, by=owner)
    membership.accept(accepted, user=alice)
    declined = membership.invite(project, username="bob", role=Role.REVIEWER, by=owner)
    membership.decline(declined, user=bob)
    withdrawn = membership.invite(project, username="carol", role=Role.EDITOR, by=owner)
    membership.withdraw(withdrawn, by=owner)
    membership.remove_member(Membership.objects.get(user=alice), by=owner)
    assert trail(project) == [
        (AuditVerb.INVITED, "owner", "alice (Editor)"),
        (AuditVerb.INVITATION_ACCEPTED, "alice", "alice (Editor)"),
        (AuditVerb.INVITED, "owner", "bob (Reviewer)"),
        (AuditVerb.INVITATION_DECLINED, "bob", "bob (Reviewer)"),
        (AuditVerb.INVITED, "owner", "carol (Editor)"),
        (AuditVerb.INVITATION_WITHDRAWN, "owner", "carol (Editor)"),
        (AuditVerb.MEMBER_REMOVED, "owner", "alice (Editor)"),
    ]


def test_a_refused_removal_leaves_no_trail(project, clients):
    owner_membership = Membership.objects.get(project=project, role=Role.OWNER)
    clients["owner"].post(
        reverse("projects:membership-remove", args=[project.pk, owner_membership.pk])
    )
    assert Membership.objects.filter(pk=owner_membership.pk).exists()
    assert not AuditEvent.objects.exists()


# --- Mail ------------------------------------------------------------------------------------


def test_the_invited_person_is_mailed_when_mail_is_delivered(
    project, users, settings, django_capture_on_commit_callbacks, celery_eager
):
    settings.PUBLIC_BASE_URL = "https://lipsync.example.com"
    make_user("alice", email="alice@example.com")
    with django_capture_on_commit_callbacks(execute=True):
        membership.invite(project, username="alice", role=Role.EDITOR, by=users["owner"])
    (sent,) = mail.outbox
    assert sent.to == ["alice@example.com"]
    assert "owner invited you" in sent.body and "Harbour documentary" in sent.body
    assert "https://lipsync.example.com/projects/" in sent.body


@pytest.mark.parametrize("backend", ["console", "dummy"])
def test_no_mail_through_a_backend_that_does_not_deliver(
    project, users, settings, django_capture_on_commit_callbacks, celery_eager, backend, capsys
):
    settings.EMAIL_BACKEND = f"django.core.mail.backends.{backend}.EmailBackend"
    make_user("alice", email="alice@example.com")
    with django_capture_on_commit_callbacks(execute=True):
        membership.invite(project, username="alice", role=Role.EDITOR, by=users["owner"])
    assert "invited you" not in capsys.readouterr().out


def test_no_mail_for_a_name_without_an_account(
    project, users, django_capture_on_commit_callbacks, celery_eager
):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        membership.invite(project, username="nobody-here", role=Role.EDITOR, by=users["owner"])
    assert len(callbacks) == 1, "the mail task is queued alike for every name"
    assert mail.outbox == []
