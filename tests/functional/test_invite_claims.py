"""What the invite does with the email's claim when Graph refuses, when its answer is lost, and when a stale claim is
finished by two at once (in-memory fakes)."""
from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from lifecycle.domain.commands import InviteGuest
from lifecycle.domain.model import EmailClaim
from lifecycle.errors import ConcurrencyConflict, GraphUnavailable
from lifecycle.ports import DirectoryUser, Invitation, InvitationRequest
from lifecycle.services.invitations import StaleClaim
from tests.api_client import call


async def test_an_invitation_graph_refused_releases_the_claim(fakes):
    fakes.directory.refused_domains.add("fabrikam.com")
    status, body, _ = await call("invite_guest", "POST", "guests", {"email": "no@fabrikam.com"})
    assert status in (403, 422), body
    assert fakes.store.claims == {} and fakes.store.guests == {}


async def test_an_invitation_whose_answer_was_lost_leaves_its_claim_stale_with_its_command(fakes, monkeypatch):
    async def lost(request: InvitationRequest) -> Invitation:
        fakes.directory.writes.append(("invite", request.email))
        raise GraphUnavailable("the connection dropped", graph_status=None)

    monkeypatch.setattr(fakes.directory, "invite", lost)
    status, body, _ = await call("invite_guest", "POST", "guests", {"email": "lost@fabrikam.com", "displayName": "Lo"})
    assert status == 503, body
    claim = fakes.store.claims["lost@fabrikam.com"]
    assert not claim.is_linked and claim.is_stale(fakes.clock(), timedelta(days=365))
    assert claim.request["display_name"] == "Lo" and fakes.store.guests == {}


async def test_a_stale_claim_is_taken_over_before_graph_is_asked_so_only_one_finishes_it(fakes, monkeypatch):
    command = InviteGuest(email="half@fabrikam.com", expires_at=fakes.clock() + timedelta(days=30))
    stale = await fakes.store.claim_email(EmailClaim(email=command.email, owner="dead", request=command.to_stored(),
                                                     claimed_at=fakes.clock() - timedelta(days=1)))
    lookups: list[str] = []
    find = fakes.directory.find_user_by_email

    async def counted(email: str) -> DirectoryUser | None:
        lookups.append(email)
        return await find(email)

    monkeypatch.setattr(fakes.directory, "find_user_by_email", counted)
    resolve = fakes.services.invitations.resolve_stale_claim
    first, second = await asyncio.gather(resolve(stale), resolve(stale), return_exceptions=True)
    assert first == StaleClaim.RELEASED and isinstance(second, ConcurrencyConflict)
    assert lookups == ["half@fabrikam.com"]  # the loser asked Graph nothing
    assert fakes.store.claims == {}


async def test_a_stale_claim_whose_user_graph_has_is_adopted_from_its_command(fakes):
    user_id = fakes.directory.add_user("half@fabrikam.com")
    command = InviteGuest(email="half@fabrikam.com", expires_at=fakes.clock() + timedelta(days=30),
                          display_name="Half")
    stale = await fakes.store.claim_email(EmailClaim(email=command.email, owner="dead", request=command.to_stored(),
                                                     claimed_at=fakes.clock() - timedelta(days=1)))
    assert await fakes.services.invitations.resolve_stale_claim(stale) == StaleClaim.ADOPTED
    guest = fakes.store.guests[user_id]
    assert guest.display_name == "Half" and "reinvite" in guest.last_error  # the lost link is said, not hidden
    assert fakes.store.claims[command.email].guest_id == user_id
    with pytest.raises(ConcurrencyConflict):
        await fakes.services.invitations.resolve_stale_claim(stale)  # the version read is gone: nothing done twice
