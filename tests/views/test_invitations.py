"""The invited person answers from the notice on the projects page; owners withdraw from the
members page. Nobody else can act on an invitation, nor learn that it exists."""

from __future__ import annotations

import pytest
from django.urls import reverse

from projects.models import Invitation, InvitationState, Membership, Role
from projects.services import membership

pytestmark = [pytest.mark.django_db, pytest.mark.portable]


@pytest.fixture
def invitation(project, users) -> Invitation:
    return membership.invite(project, username="outsider", role=Role.REVIEWER, by=users["owner"])


def test_accepting_from_the_notice_opens_the_project(clients, project, invitation):
    page = clients["outsider"].get(reverse("projects:list")).content.decode()
    assert "owner invited you to <strong>Harbour documentary</strong> as reviewer." in page
    accept = reverse("projects:invitation-accept", args=[invitation.pk])
    assert f'action="{accept}"' in page
    response = clients["outsider"].post(accept)
    assert response.status_code == 302 and response.url == project.get_absolute_url()
    assert Membership.objects.get(project=project, user__username="outsider").role == Role.REVIEWER
    assert clients["outsider"].get(project.get_absolute_url()).status_code == 200
    assert (
        "You are invited" not in clients["outsider"].get(reverse("projects:list")).content.decode()
    )


def test_declining_leaves_the_project_closed(clients, project, invitation):
    response = clients["outsider"].post(
        reverse("projects:invitation-decline", args=[invitation.pk])
    )
    assert response.status_code == 302 and response.url == reverse("projects:list")
    invitation.refresh_from_db()
    assert invitation.state == InvitationState.DECLINED
    assert clients["outsider"].get(project.get_absolute_url()).status_code == 404


@pytest.mark.parametrize("persona", ["owner", "editor", "reviewer"])
def test_nobody_else_can_answer_it(clients, invitation, persona):
    for name in ("projects:invitation-accept", "projects:invitation-decline"):
        response = clients[persona].post(reverse(name, args=[invitation.pk]))
        assert response.status_code == 404
    invitation.refresh_from_db()
    assert invitation.state == InvitationState.PENDING


def test_the_members_page_lists_pending_invitations_and_withdraws_them(
    clients, project, invitation
):
    members_url = reverse("projects:members", args=[project.pk])
    page = clients["owner"].get(members_url).content.decode()
    assert "Invited, waiting for an answer" in page and "<td>outsider</td>" in page
    withdraw = reverse("projects:invitation-withdraw", args=[invitation.pk])
    assert f'action="{withdraw}"' in page
    assert clients["editor"].post(withdraw).status_code == 403
    assert clients["outsider"].post(withdraw).status_code == 404
    response = clients["owner"].post(withdraw, follow=True)
    assert "The invitation to outsider was withdrawn." in response.content.decode()
    assert "<td>outsider</td>" not in clients["owner"].get(members_url).content.decode()
    assert (
        "You are invited" not in clients["outsider"].get(reverse("projects:list")).content.decode()
    )
    assert (
        clients["outsider"]
        .post(reverse("projects:invitation-accept", args=[invitation.pk]))
        .status_code
        == 404
    )


def test_an_invitation_answered_in_another_tab_is_explained(clients, invitation, users):
    membership.decline(invitation, user=users["outsider"])
    response = clients["outsider"].post(reverse("projects:invitation-accept", args=[invitation.pk]))
    assert response.status_code == 404
