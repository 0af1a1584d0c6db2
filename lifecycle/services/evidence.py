"""The evidence of a sweep's decision, written into each audit entry the sweep (or an approved plan) makes: the rule
that applied, the dates it rested on, the policy numbers in force and the run. Pure: built from the record the plan
was made from, its sign-in activity and the policy."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from lifecycle.domain.model import Guest
from lifecycle.domain.planning import (
    Action,
    ActionKind,
    Exclusion,
    ExpiryPolicy,
    Reason,
    SignIn,
    attestation_due,
    inactivity_basis,
)

EXCLUDED = "excluded"
NOTICE = "notice"


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def policy_numbers(policy: ExpiryPolicy) -> dict[str, Any]:
    """The settings a decision rests on, by their names."""
    return {"INACTIVITY_DAYS": policy.inactivity_days, "EXPIRY_GRACE_DAYS": policy.grace_days,
            "INVITE_REDEEM_DAYS": policy.redeem_days, "EXPIRY_NOTICE_DAYS": policy.notice_days,
            "EXPIRY_GUARD_PERCENT": policy.guard_percent, "EXPIRY_GUARD_MIN": policy.guard_min,
            "ATTESTATION_DAYS": policy.attestation_days, "MIN_SPONSORS": policy.min_sponsors}


def dates_of(reason: Reason, kind: ActionKind, guest: Guest | None, sign_in: SignIn | None,
             policy: ExpiryPolicy | None = None) -> dict[str, Any]:
    """The dates the rule `reason` used for this guest."""
    if guest is None:
        return {}
    if reason is Reason.UNATTESTED:
        due = attestation_due(guest, policy) if policy is not None else None
        return {"attestedAt": _iso(guest.attested_at), "periodStart": _iso(guest.attestation_start()),
                "attestationDueAt": _iso(due), "attestationNoticeAt": _iso(guest.attestation_notice_at)}
    if reason is Reason.UNSPONSORED:
        return {"sponsors": len(set(s.lower() for s in guest.sponsors)), "unsponsoredAt": _iso(guest.unsponsored_at)}
    if reason is Reason.EXPIRED:
        return {"expiresAt": _iso(guest.expires_at)}
    if reason is Reason.INACTIVE:
        if sign_in is None:
            return {}
        field, value = inactivity_basis(guest, sign_in)
        found: dict[str, Any] = {"signInField": field, "signInValue": _iso(value)}
        if sign_in.never_signed_in:
            found["neverSignedIn"] = True
        return found
    if reason is Reason.UNREDEEMED:
        return {"invitedAt": _iso(guest.invited_at or guest.created_at),
                "invitationState": guest.invitation_state.value}
    if reason is Reason.GRACE_ENDED:
        return {"disabledAt": _iso(guest.disabled_at),
                "disabledReason": guest.disabled_reason.value if guest.disabled_reason else None}
    if reason is Reason.RETENTION_ENDED:
        return {"deletedAt": _iso(guest.deleted_at)}
    return {}


def rule_of(action: Action) -> str:
    """The rule's name: the action's reason, `notice` for a guest.expiring notice, `<reason>-notice` for the
    guest.attestation-due and guest.unsponsored notices."""
    if action.kind is ActionKind.NOTIFY:
        return NOTICE if action.reason is Reason.EXPIRED else f"{action.reason.value}-{NOTICE}"
    return action.reason.value


def for_action(action: Action, guest: Guest | None, sign_in: SignIn | None, policy: ExpiryPolicy,
               run_id: str) -> dict[str, Any]:
    """What the audit entry of `action` says about why it was taken."""
    return {"rule": rule_of(action), "action": action.kind.value, "since": action.since.isoformat(),
            "dueAt": action.due_at.isoformat(), "dates": dates_of(action.reason, action.kind, guest, sign_in, policy),
            "policy": policy_numbers(policy), "runId": run_id}


def for_exclusion(excluded: Exclusion, guest: Guest | None, sign_in: SignIn | None, policy: ExpiryPolicy,
                  run_id: str) -> dict[str, Any]:
    """Why a due disable or delete was not taken: the guest is in an excluded group."""
    return {"rule": EXCLUDED, "group": excluded.group_id, "wouldHave": excluded.kind.value,
            "wouldHaveRule": excluded.reason.value,
            "dates": dates_of(excluded.reason, excluded.kind, guest, sign_in, policy), "policy": policy_numbers(policy),
            "runId": run_id}
