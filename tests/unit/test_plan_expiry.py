"""plan_expiry: every rule and boundary, as a pure function."""
from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from lifecycle.domain.model import DisabledReason, Guest, GuestState, InvitationState
from lifecycle.domain.planning import ActionKind, ExpiryPolicy, SignIn, plan_expiry, sign_ins_known
from tests.builders import active_guest

NOW = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)
DAY = timedelta(days=1)
POLICY = ExpiryPolicy(grace_days=30, redeem_days=30, notice_days=14, max_actions=500, guard_percent=20, guard_min=10)


def guest(n: int = 1, **changes) -> Guest:
    return active_guest(n, now=NOW, **changes)


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
    assert plan.actions[0].reason == "unredeemed" and plan.actions[0].since == NOW - 30 * DAY


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


def test_guard_trips_above_share_and_minimum_and_holds_every_enforcing_action():
    expired = [guest(n, expires_at=NOW - DAY) for n in range(1, 12)]  # 11 due
    plan = plan_expiry(expired, NOW, POLICY, tracked=50)  # 11 > 10 and 11 > 20% of 50
    assert plan.guard_tripped and plan.actions == [] and plan.deferred == []
    assert sorted(a.guest_id for a in plan.held) == sorted(g.id for g in expired)
    assert "11 guests" in plan.guard_message


def test_the_guard_names_itself_not_the_cap_and_says_how_to_approve():
    expired = [guest(n, expires_at=NOW - DAY) for n in range(1, 12)]
    message = plan_expiry(expired, NOW, POLICY, tracked=50).guard_message
    assert message.startswith("mass-deletion guard:") and "EXPIRY_GUARD_PERCENT" in message
    assert "approve" in message and "EXPIRY_MAX_ACTIONS_PER_RUN" not in message


def test_notices_are_never_held_back_by_the_guard():
    expired = [guest(n, expires_at=NOW - DAY) for n in range(1, 12)]
    soon = guest(30, expires_at=NOW + DAY)  # within EXPIRY_NOTICE_DAYS: a notice is due
    plan = plan_expiry(expired + [soon], NOW, POLICY, tracked=50)
    assert plan.guard_tripped
    assert [(a.kind, a.guest_id) for a in plan.actions] == [(ActionKind.NOTIFY, soon.id)]
    assert all(a.kind is ActionKind.DISABLE for a in plan.held) and len(plan.held) == 11


def test_the_cap_still_splits_what_the_guard_holds():
    expired = [guest(n, expires_at=NOW - n * DAY) for n in range(1, 15)]  # 14 due
    plan = plan_expiry(expired, NOW, replace(POLICY, max_actions=12), tracked=50)
    assert plan.guard_tripped and len(plan.held) == 12 and len(plan.deferred) == 2


def test_guard_does_not_trip_at_the_boundaries():
    eleven = [guest(n, expires_at=NOW - DAY) for n in range(1, 12)]
    assert not plan_expiry(eleven, NOW, POLICY, tracked=55).guard_tripped  # 11 == 20% of 55: not above
    ten = eleven[:10]
    assert not plan_expiry(ten, NOW, POLICY, tracked=10).guard_tripped  # 10 is not above the minimum


def test_guard_can_be_overridden():
    expired = [guest(n, expires_at=NOW - DAY) for n in range(1, 12)]
    plan = plan_expiry(expired, NOW, replace(POLICY, override_guard=True), tracked=11)
    assert not plan.guard_tripped and len(plan.actions) == 11


def disabled_by_the_sweep(n: int, at: datetime) -> Guest:
    return guest(n, state=GuestState.DISABLED, disabled_reason=DisabledReason.EXPIRY, disabled_at=at,
                 expires_at=at)


def test_guard_counts_what_was_enforced_in_the_last_24_hours_beside_the_run():
    # 15 guests; 9 disabled by earlier small runs today, 3 due now: 12 of 15 would be enforced within a day.
    earlier = [disabled_by_the_sweep(n, NOW - 6 * timedelta(hours=n)) for n in range(1, 4)]
    earlier += [disabled_by_the_sweep(n, NOW - timedelta(hours=1)) for n in range(4, 10)]
    due = [guest(n, expires_at=NOW - DAY) for n in range(10, 13)]
    rest = [guest(n) for n in range(13, 16)]
    plan = plan_expiry(earlier + due + rest, NOW, POLICY, tracked=15)
    assert plan.guard_tripped and plan.actions == []
    assert "12 guests" in plan.guard_message and "9 enforced in the last 24 hours" in plan.guard_message


def test_guard_window_boundary_forgets_what_is_older_than_24_hours():
    older = [disabled_by_the_sweep(n, NOW - DAY - timedelta(seconds=1)) for n in range(1, 10)]
    due = [guest(n, expires_at=NOW - DAY) for n in range(10, 13)]
    assert not plan_expiry(older + due, NOW, POLICY, tracked=12).guard_tripped
    at_edge = [disabled_by_the_sweep(n, NOW - DAY) for n in range(1, 10)]
    assert plan_expiry(at_edge + due, NOW, POLICY, tracked=12).guard_tripped


def test_guests_disabled_by_hand_are_not_counted_by_the_guard():
    by_hand = [guest(n, state=GuestState.DISABLED, disabled_reason=DisabledReason.MANUAL, disabled_at=NOW)
               for n in range(1, 10)]
    due = [guest(n, expires_at=NOW - DAY) for n in range(10, 13)]
    assert not plan_expiry(by_hand + due, NOW, POLICY, tracked=12).guard_tripped


def test_nothing_due_now_never_trips_the_guard_whatever_was_enforced_earlier():
    earlier = [disabled_by_the_sweep(n, NOW - timedelta(hours=1)) for n in range(1, 13)]
    assert not plan_expiry(earlier, NOW, POLICY, tracked=12).guard_tripped


@pytest.mark.parametrize("state", [GuestState.PURGED, GuestState.INVITING])
def test_states_the_sweep_never_acts_on(state):
    assert plan_expiry([guest(state=state, expires_at=NOW - DAY)], NOW, POLICY, tracked=1).actions == []


def test_actions_are_ordered_by_due_time():
    plan = plan_expiry([guest(1, expires_at=NOW - DAY), guest(2, expires_at=NOW - 3 * DAY)], NOW, POLICY, 100)
    assert [a.guest_id[-1] for a in plan.actions] == ["2", "1"]


# --- inactivity -----------------------------------------------------------------------------------
INACTIVE = replace(POLICY, inactivity_days=90)


def signed_in(at=None, interactive=None, non_interactive=None) -> SignIn:
    return SignIn(last_successful=at, last_interactive=interactive, last_non_interactive=non_interactive)


def test_inactive_exactly_at_the_threshold_is_disabled_with_its_since():
    plan = plan_expiry([guest()], NOW, INACTIVE, 100, sign_ins={guest().id: signed_in(NOW - 90 * DAY)})
    assert kinds(plan) == [("disable", "1")]
    assert plan.actions[0].reason == "inactive" and plan.actions[0].since == NOW - 90 * DAY
    assert plan.actions[0].disabled_reason is DisabledReason.INACTIVITY


def test_one_second_inside_the_window_is_not_inactive():
    recent = signed_in(NOW - 90 * DAY + timedelta(seconds=1))
    assert plan_expiry([guest()], NOW, INACTIVE, 100, sign_ins={guest().id: recent}).actions == []


def test_inactivity_days_zero_decides_nothing():
    old = {guest().id: signed_in(NOW - 900 * DAY)}
    assert plan_expiry([guest()], NOW, POLICY, 100, sign_ins=old).actions == []


def test_unknown_sign_ins_decide_nothing_on_inactivity():
    ancient = guest(invited_at=NOW - 900 * DAY, created_at=NOW - 900 * DAY)
    assert plan_expiry([ancient], NOW, INACTIVE, 100, sign_ins=None).actions == []
    assert plan_expiry([ancient], NOW, INACTIVE, 100, sign_ins={}).actions == []  # not in the pass: unknown


def test_null_successful_date_falls_back_to_the_later_of_interactive_and_non_interactive():
    only_background = signed_in(None, interactive=NOW - 400 * DAY, non_interactive=NOW - 10 * DAY)
    assert plan_expiry([guest()], NOW, INACTIVE, 100, sign_ins={guest().id: only_background}).actions == []
    both_old = signed_in(None, interactive=NOW - 95 * DAY, non_interactive=NOW - 91 * DAY)
    plan = plan_expiry([guest()], NOW, INACTIVE, 100, sign_ins={guest().id: both_old})
    assert plan.actions[0].since == NOW - 91 * DAY


def test_never_signed_in_counts_from_the_invitation():
    due = guest(1, invited_at=NOW - 90 * DAY)
    fresh = guest(2, invited_at=NOW - 89 * DAY)
    plan = plan_expiry([due, fresh], NOW, INACTIVE, 100, sign_ins={due.id: signed_in(), fresh.id: signed_in()})
    assert kinds(plan) == [("disable", "1")] and plan.actions[0].since == NOW - 90 * DAY


def test_never_signed_in_adopted_guest_counts_from_the_directory_creation():
    adopted = guest(invited_at=NOW - DAY, adopted_at=NOW - DAY, directory_created_at=NOW - 200 * DAY)
    plan = plan_expiry([adopted], NOW, INACTIVE, 100, sign_ins={adopted.id: signed_in()})
    assert kinds(plan) == [("disable", "1")] and plan.actions[0].since == NOW - 200 * DAY


def test_re_baselined_guest_starts_a_new_window():
    old_sign_in = {guest().id: signed_in(NOW - 300 * DAY)}
    baselined = guest(activity_baseline=NOW - 89 * DAY)
    assert plan_expiry([baselined], NOW, INACTIVE, 100, sign_ins=old_sign_in).actions == []
    window_over = guest(activity_baseline=NOW - 90 * DAY)
    plan = plan_expiry([window_over], NOW, INACTIVE, 100, sign_ins=old_sign_in)
    assert plan.actions[0].since == NOW - 90 * DAY


def test_sign_in_after_the_baseline_wins():
    plan = plan_expiry([guest(activity_baseline=NOW - 200 * DAY)], NOW, INACTIVE, 100,
                       sign_ins={guest().id: signed_in(NOW - DAY)})
    assert plan.actions == []


def test_enable_extend_and_restore_store_the_baseline():
    disabled = guest().disable(NOW - DAY, DisabledReason.INACTIVITY)
    assert disabled.enable(NOW).activity_baseline == NOW
    assert guest().extend(NOW, NOW + DAY).activity_baseline == NOW
    assert guest().delete(NOW - DAY).restore(NOW).activity_baseline == NOW


def test_inactivity_disabled_guest_is_deleted_after_the_grace_period():
    disabled = dict(state=GuestState.DISABLED, disabled_reason=DisabledReason.INACTIVITY)
    due = guest(1, disabled_at=NOW - 30 * DAY, **disabled)
    not_yet = guest(2, disabled_at=NOW - 30 * DAY + timedelta(seconds=1), **disabled)
    plan = plan_expiry([due, not_yet], NOW, INACTIVE, 100)
    assert kinds(plan) == [("delete", "1")]
    assert plan.actions[0].reason == "grace-ended" and plan.actions[0].since == NOW - 30 * DAY


def test_expiry_wins_over_inactivity_when_both_are_due():
    both = guest(expires_at=NOW - DAY)
    plan = plan_expiry([both], NOW, INACTIVE, 100, sign_ins={both.id: signed_in(NOW - 400 * DAY)})
    assert [(a.kind.value, a.reason.value) for a in plan.actions] == [("disable", "expired")]


def test_empty_activity_everywhere_is_not_known():
    assert not sign_ins_known({"a": signed_in(), "b": signed_in()})
    assert not sign_ins_known({})
    assert sign_ins_known({"a": signed_in(), "b": signed_in(None, non_interactive=NOW)})


def test_a_guest_graph_returned_without_sign_in_activity_makes_the_sign_ins_known():
    # user-list.md / signinactivity.md: the property is left out for a user who never signed in, so a pass that
    # selected it and succeeded knows that guest never signed in, even when no guest has a date.
    assert sign_ins_known({"a": SignIn(never_signed_in=True), "b": signed_in()})


def test_a_guest_that_never_signed_in_is_disabled_once_the_window_from_its_invitation_ends():
    due = guest(1, invited_at=NOW - 90 * DAY)
    plan = plan_expiry([due], NOW, INACTIVE, 100, sign_ins={due.id: SignIn(never_signed_in=True)})
    assert kinds(plan) == [("disable", "1")] and plan.actions[0].since == NOW - 90 * DAY


# --- exclusions -----------------------------------------------------------------------------------
GROUP = "11111111-1111-1111-1111-111111111111"


def test_excluded_and_due_at_once_is_skipped_with_its_group():
    expired = guest(1, expires_at=NOW - DAY)
    inactive = guest(2)
    plan = plan_expiry([expired, inactive], NOW, INACTIVE, 100, sign_ins={inactive.id: signed_in(NOW - 400 * DAY)},
                       excluded={expired.id: GROUP, inactive.id: GROUP})
    assert plan.actions == [] and plan.deferred == []
    assert [(e.guest_id[-1], e.group_id, e.kind.value, e.reason.value) for e in plan.excluded] == [
        ("1", GROUP, "disable", "expired"), ("2", GROUP, "disable", "inactive")]


def test_excluded_guest_still_gets_its_notice_and_others_are_enforced():
    noticed = guest(1, expires_at=NOW + DAY)
    other = guest(2, expires_at=NOW - DAY)
    plan = plan_expiry([noticed, other], NOW, POLICY, 100, excluded={noticed.id: GROUP})
    assert sorted(kinds(plan)) == [("disable", "2"), ("notify", "1")] and plan.excluded == []


def test_excluded_guests_do_not_count_toward_the_guard():
    expired = [guest(n, expires_at=NOW - DAY) for n in range(1, 13)]
    plan = plan_expiry(expired, NOW, POLICY, 20, excluded={g.id: GROUP for g in expired[:2]})
    assert not plan.guard_tripped and len(plan.actions) == 10 and len(plan.excluded) == 2
