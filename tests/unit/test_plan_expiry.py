"""plan_expiry: every rule and boundary, as a pure function."""
from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest

from lifecycle.domain.expiry import ActionKind, ExpiryPolicy, plan_expiry
from lifecycle.domain.model import DisabledReason, Guest, GuestState, InvitationState

NOW = datetime(2026, 11, 23, 3, 0, tzinfo=timezone.utc)
DAY = timedelta(days=1)
POLICY = ExpiryPolicy(grace_days=30, redeem_days=30, notice_days=14, max_actions=500, guard_percent=20, guard_min=10)


def guest(n: int = 1, **changes) -> Guest:
    base = Guest(id=f"00000000-0000-0000-0000-{n:012d}", email=f"g{n}@fabrikam.com", state=GuestState.ACTIVE,
                 invitation_state=InvitationState.ACCEPTED, expires_at=NOW + 100 * DAY, invited_at=NOW - 10 * DAY,
                 created_at=NOW - 10 * DAY, updated_at=NOW - 10 * DAY)
    return replace(base, **changes)


def kinds(plan) -> list[tuple[str, str]]:
    return [(a.kind.value, a.guest_id[-1]) for a in plan.actions]


def test_not_due_guest_gets_nothing():
    assert plan_expiry([guest()], NOW, POLICY, tracked=100).actions == []


def test_exactly_at_expiry_is_disabled():
    plan = plan_expiry([guest(expires_at=NOW)], NOW, POLICY, tracked=100)
    assert kinds(plan) == [("disable", "1")]
    assert plan.actions[0].reason == "expired"


def test_one_second_before_expiry_is_only_noticed():
    plan = plan_expiry([guest(expires_at=NOW + timedelta(seconds=1))], NOW, POLICY, tracked=100)
    assert kinds(plan) == [("notify", "1")]


def test_notice_window_boundary_and_once_only():
    at_window = guest(expires_at=NOW + 14 * DAY)
    before_window = guest(2, expires_at=NOW + 14 * DAY + timedelta(seconds=1))
    already = guest(3, expires_at=NOW + DAY, notice_sent_at=NOW - DAY)
    plan = plan_expiry([at_window, before_window, already], NOW, POLICY, tracked=100)
    assert kinds(plan) == [("notify", "1")]


def test_notice_days_zero_sends_no_notice():
    plan = plan_expiry([guest(expires_at=NOW + DAY)], NOW, replace(POLICY, notice_days=0), tracked=100)
    assert plan.actions == []


def test_grace_period_boundary_for_expiry_disabled_guests():
    disabled = dict(state=GuestState.DISABLED, disabled_reason=DisabledReason.EXPIRY, expires_at=NOW - 40 * DAY)
    due = guest(1, disabled_at=NOW - 30 * DAY, **disabled)
    not_yet = guest(2, disabled_at=NOW - 30 * DAY + timedelta(seconds=1), **disabled)
    plan = plan_expiry([due, not_yet], NOW, POLICY, tracked=100)
    assert kinds(plan) == [("delete", "1")]


def test_manually_disabled_guest_is_never_deleted_by_the_sweep():
    manual = guest(state=GuestState.DISABLED, disabled_reason=DisabledReason.MANUAL, disabled_at=NOW - 400 * DAY,
                   expires_at=NOW - 400 * DAY)
    assert plan_expiry([manual], NOW, POLICY, tracked=100).actions == []


def test_grace_zero_disables_and_deletes_in_one_run():
    plan = plan_expiry([guest(expires_at=NOW - DAY)], NOW, replace(POLICY, grace_days=0), tracked=100)
    assert kinds(plan) == [("disable", "1"), ("delete", "1")]


def test_unredeemed_invitation_is_deleted_after_redeem_days():
    pending = dict(state=GuestState.INVITED, invitation_state=InvitationState.PENDING)
    due = guest(1, invited_at=NOW - 30 * DAY, **pending)
    fresh = guest(2, invited_at=NOW - 29 * DAY, **pending)
    redeemed = guest(3, invited_at=NOW - 90 * DAY)
    plan = plan_expiry([due, fresh, redeemed], NOW, POLICY, tracked=100)
    assert kinds(plan) == [("delete", "1")]
    assert "not redeemed" in plan.actions[0].reason


def test_redeem_days_zero_never_cleans_invitations():
    pending = guest(state=GuestState.INVITED, invitation_state=InvitationState.PENDING, invited_at=NOW - 900 * DAY)
    assert plan_expiry([pending], NOW, replace(POLICY, redeem_days=0), tracked=100).actions == []


def test_deleted_guest_is_purged_after_thirty_days():
    due = guest(1, state=GuestState.DELETED, deleted_at=NOW - 30 * DAY)
    not_yet = guest(2, state=GuestState.DELETED, deleted_at=NOW - 29 * DAY)
    purged = guest(3, state=GuestState.PURGED, deleted_at=NOW - 90 * DAY)
    assert kinds(plan_expiry([due, not_yet, purged], NOW, POLICY, tracked=100)) == [("purge", "1")]


def test_guest_extended_after_disable_is_not_due():
    extended = guest(state=GuestState.ACTIVE, expires_at=NOW + 60 * DAY, disabled_at=None, disabled_reason=None)
    assert plan_expiry([extended], NOW, POLICY, tracked=100).actions == []


def test_cap_defers_the_latest_actions_but_not_notices():
    expired = [guest(n, expires_at=NOW - n * DAY) for n in range(1, 6)]
    notice = guest(9, expires_at=NOW + DAY)
    plan = plan_expiry(expired + [notice], NOW, replace(POLICY, max_actions=3), tracked=1000)
    assert [a.guest_id[-1] for a in plan.actions if a.kind is ActionKind.DISABLE] == ["5", "4", "3"]
    assert [a.guest_id[-1] for a in plan.deferred] == ["2", "1"]
    assert any(a.kind is ActionKind.NOTIFY for a in plan.actions)


def test_guard_trips_above_share_and_minimum():
    expired = [guest(n, expires_at=NOW - DAY) for n in range(1, 12)]  # 11 due
    plan = plan_expiry(expired, NOW, POLICY, tracked=50)  # 11 > 10 and 11 > 20% of 50
    assert plan.guard_tripped and plan.actions == [] and len(plan.deferred) == 11
    assert "11 guests" in plan.guard_message


def test_guard_does_not_trip_at_the_boundaries():
    eleven = [guest(n, expires_at=NOW - DAY) for n in range(1, 12)]
    assert not plan_expiry(eleven, NOW, POLICY, tracked=55).guard_tripped  # 11 == 20% of 55: not above
    ten = eleven[:10]
    assert not plan_expiry(ten, NOW, POLICY, tracked=10).guard_tripped  # 10 is not above the minimum


def test_guard_can_be_overridden():
    expired = [guest(n, expires_at=NOW - DAY) for n in range(1, 12)]
    plan = plan_expiry(expired, NOW, replace(POLICY, override_guard=True), tracked=11)
    assert not plan.guard_tripped and len(plan.actions) == 11


@pytest.mark.parametrize("state", [GuestState.PURGED, GuestState.INVITING])
def test_states_the_sweep_never_acts_on(state):
    assert plan_expiry([guest(state=state, expires_at=NOW - DAY)], NOW, POLICY, tracked=1).actions == []


def test_actions_are_ordered_by_due_time():
    plan = plan_expiry([guest(1, expires_at=NOW - DAY), guest(2, expires_at=NOW - 3 * DAY)], NOW, POLICY, 100)
    assert [a.guest_id[-1] for a in plan.actions] == ["2", "1"]
