"""The evidence each audit entry of the sweep carries: the rule, the dates it rested on, the policy in force and the
run."""
from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from lifecycle.domain.model import DisabledReason, Guest, GuestState, InvitationState
from lifecycle.domain.planning import ActionKind, Exclusion, ExpiryPolicy, Reason, SignIn, due_actions
from lifecycle.services.evidence import for_action, for_exclusion

NOW = datetime(2026, 6, 1, tzinfo=UTC)
DAY = timedelta(days=1)
POLICY = ExpiryPolicy(grace_days=30, redeem_days=30, notice_days=14, inactivity_days=90)
BASE = Guest(id="g1", email="g1@fabrikam.com", state=GuestState.ACTIVE, invitation_state=InvitationState.ACCEPTED,
             expires_at=NOW + 300 * DAY, invited_at=NOW - 400 * DAY, created_at=NOW - 400 * DAY,
             updated_at=NOW - 400 * DAY)


def only(guest: Guest, sign_in: SignIn | None = None):
    [action] = due_actions(guest, NOW, POLICY, sign_in)
    return action


def test_an_expired_guest_names_expires_at_the_policy_and_the_run():
    guest = replace(BASE, expires_at=NOW - DAY)
    found = for_action(only(guest), guest, None, POLICY, "run-1")
    assert found["rule"] == "expired" and found["action"] == "disable"
    assert found["dates"] == {"expiresAt": (NOW - DAY).isoformat()}
    assert found["policy"]["INACTIVITY_DAYS"] == 90 and found["policy"]["EXPIRY_GRACE_DAYS"] == 30
    assert found["policy"]["INVITE_REDEEM_DAYS"] == 30 and found["runId"] == "run-1"


def test_an_inactive_guest_names_the_sign_in_field_and_its_value():
    last = NOW - 100 * DAY
    sign_in = SignIn(last_successful=None, last_interactive=last - DAY, last_non_interactive=last)
    found = for_action(only(BASE, sign_in), BASE, sign_in, POLICY, "run-2")
    assert found["rule"] == "inactive"
    assert found["dates"] == {"signInField": "lastNonInteractiveSignInDateTime", "signInValue": last.isoformat()}
    successful = SignIn(last_successful=last)
    assert for_action(only(BASE, successful), BASE, successful, POLICY, "r")["dates"]["signInField"] == \
        "lastSuccessfulSignInDateTime"


def test_a_guest_that_never_signed_in_names_the_invitation_or_for_an_adopted_guest_its_creation():
    never = SignIn(never_signed_in=True)
    found = for_action(only(BASE, never), BASE, never, POLICY, "r")["dates"]
    assert found == {"signInField": "invitedAt", "signInValue": BASE.invited_at.isoformat(), "neverSignedIn": True}
    adopted = replace(BASE, adopted_at=NOW - 10 * DAY, directory_created_at=NOW - 500 * DAY)
    assert for_action(only(adopted, never), adopted, never, POLICY, "r")["dates"]["signInField"] == "createdDateTime"


def test_an_unredeemed_invitation_names_invited_at():
    guest = replace(BASE, state=GuestState.INVITED, invitation_state=InvitationState.PENDING,
                    invited_at=NOW - 31 * DAY)
    found = for_action(only(guest), guest, None, POLICY, "r")
    assert found["rule"] == "unredeemed" and found["dates"]["invitedAt"] == (NOW - 31 * DAY).isoformat()


def test_a_delete_after_the_grace_names_disabled_at_and_a_purge_deleted_at():
    disabled = replace(BASE, state=GuestState.DISABLED, disabled_at=NOW - 31 * DAY,
                       disabled_reason=DisabledReason.EXPIRY)
    found = for_action(only(disabled), disabled, None, POLICY, "r")
    assert found["rule"] == "grace-ended" and found["dates"] == {"disabledAt": (NOW - 31 * DAY).isoformat(),
                                                                 "disabledReason": "expiry"}
    deleted = replace(BASE, state=GuestState.DELETED, deleted_at=NOW - 31 * DAY)
    found = for_action(only(deleted), deleted, None, POLICY, "r")
    assert found["rule"] == "retention-ended" and found["dates"] == {"deletedAt": (NOW - 31 * DAY).isoformat()}


def test_an_exclusion_names_the_group_and_what_would_have_been_done():
    guest = replace(BASE, expires_at=NOW - DAY)
    found = for_exclusion(Exclusion("g1", "group-x", ActionKind.DISABLE, Reason.EXPIRED), guest, None, POLICY, "r")
    assert found["rule"] == "excluded" and found["group"] == "group-x" and found["wouldHave"] == "disable"
    assert found["dates"] == {"expiresAt": (NOW - DAY).isoformat()}


def test_a_notice_is_the_notice_rule():
    guest = replace(BASE, expires_at=NOW + 5 * DAY)
    found = for_action(only(guest), guest, None, POLICY, "r")
    assert found["rule"] == "notice" and found["action"] == "notify"
