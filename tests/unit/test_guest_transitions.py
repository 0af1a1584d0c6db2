from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from lifecycle.domain.model import DisabledReason, Guest, GuestState, InvalidTransition, InvitationState

NOW = datetime(2026, 11, 23, tzinfo=UTC)


def invited() -> Guest:
    return Guest(id="x", email="a@x.com", invited_at=NOW, created_at=NOW, updated_at=NOW)


def test_full_lifecycle():
    guest = invited().redeemed(NOW)
    assert (guest.state, guest.invitation_state) == (GuestState.ACTIVE, InvitationState.ACCEPTED)
    guest = guest.disable(NOW, DisabledReason.EXPIRY)
    assert guest.state is GuestState.DISABLED and guest.disabled_at == NOW
    guest = guest.delete(NOW)
    assert guest.state is GuestState.DELETED
    restored = guest.restore(NOW + timedelta(days=29))
    assert restored.state is GuestState.DISABLED  # it was disabled before deletion
    purged = guest.purge(NOW + timedelta(days=31))
    assert purged.state is GuestState.PURGED


def test_enable_returns_to_invited_when_never_redeemed():
    assert invited().disable(NOW, DisabledReason.MANUAL).enable(NOW).state is GuestState.INVITED


@pytest.mark.parametrize("step", [
    lambda g: g.enable(NOW), lambda g: g.restore(NOW), lambda g: g.purge(NOW),
    lambda g: g.extend(NOW, NOW - timedelta(seconds=1)),
])
def test_impossible_transitions_are_refused(step):
    with pytest.raises(InvalidTransition):
        step(invited())


def test_restore_after_thirty_days_is_refused():
    deleted = invited().delete(NOW)
    with pytest.raises(InvalidTransition):
        deleted.restore(NOW + timedelta(days=30, seconds=1))


def test_extend_clears_the_notice():
    guest = Guest(id="x", email="a@x.com", notice_sent_at=NOW, expires_at=NOW + timedelta(days=1))
    assert guest.extend(NOW, NOW + timedelta(days=90)).notice_sent_at is None


def test_group_bookkeeping_is_idempotent():
    guest = invited().want_groups(NOW, ("g1", "g2")).want_groups(NOW, ("g1",))
    assert guest.pending_groups == ("g1", "g2")
    guest = guest.groups_added(NOW, ("g1",)).groups_added(NOW, ("g1",))
    assert (guest.groups, guest.pending_groups) == (("g1",), ("g2",))
    guest = guest.unwant_group(NOW, "g1").unwant_group(NOW, "g1")
    assert guest.removing_groups == ("g1",)
    guest = guest.group_removed(NOW, "g1")
    assert (guest.groups, guest.removing_groups) == ((), ())


def test_only_one_operation_in_flight():
    guest = invited().begin("disable:manual", NOW)
    assert guest.has_unfinished_work
    with pytest.raises(InvalidTransition):
        guest.begin("delete", NOW)
    assert guest.end("disable:manual").pending_action == ""
