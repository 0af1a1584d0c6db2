"""Planning the expiry sweep: a pure function of the due records, the time and the policy."""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from lifecycle.domain.model import DELETED_RETENTION, DisabledReason, Guest, GuestState, InvitationState


class ActionKind(StrEnum):
    NOTIFY = "notify"  # send guest.expiring once, EXPIRY_NOTICE_DAYS before expiry
    DISABLE = "disable"  # expiry reached: block sign-in, revoke sessions
    DELETE = "delete"  # grace period over, or an invitation never redeemed: soft delete
    PURGE = "purge"  # deleted for longer than Entra keeps it: mark the record purged


ENFORCING = (ActionKind.DISABLE, ActionKind.DELETE)
CAPPED = (ActionKind.DISABLE, ActionKind.DELETE, ActionKind.PURGE)


@dataclass(frozen=True)
class ExpiryPolicy:
    grace_days: int = 30
    redeem_days: int = 30
    notice_days: int = 14
    max_actions: int = 500
    guard_percent: float = 20.0
    guard_min: int = 10
    dry_run: bool = False
    override_guard: bool = False


@dataclass(frozen=True)
class Action:
    kind: ActionKind
    guest_id: str
    reason: str
    due_at: datetime


@dataclass(frozen=True)
class Plan:
    actions: list[Action] = field(default_factory=list)
    deferred: list[Action] = field(default_factory=list)  # over the per-run cap: next run
    guard_tripped: bool = False
    guard_message: str = ""

    @property
    def enforcing(self) -> int:
        return sum(1 for a in self.actions + self.deferred if a.kind in ENFORCING)


def due_actions(guest: Guest, now: datetime, policy: ExpiryPolicy) -> list[Action]:
    """What the policy says is due for one guest now, in the order it must happen."""
    if guest.state is GuestState.DELETED:
        due = (guest.deleted_at or now) + DELETED_RETENTION
        return [Action(ActionKind.PURGE, guest.id, "deleted over 30 days ago", due)] if due <= now else []
    if guest.state is GuestState.DISABLED:
        return _after_disable(guest, guest.disabled_at or now, now, policy)
    if not guest.is_live:
        return []
    if guest.invitation_state is InvitationState.PENDING and policy.redeem_days > 0 and guest.invited_at:
        due = guest.invited_at + timedelta(days=policy.redeem_days)
        if due <= now:
            return [Action(ActionKind.DELETE, guest.id, f"invitation not redeemed in {policy.redeem_days} days", due)]
    if guest.expires_at is None:
        return []
    if guest.expires_at <= now:
        disable = Action(ActionKind.DISABLE, guest.id, "expired", guest.expires_at)
        return [disable] + _after_disable(guest, now, now, policy, expired=True)
    notice_at = guest.expires_at - timedelta(days=policy.notice_days)
    if policy.notice_days > 0 and guest.notice_sent_at is None and notice_at <= now:
        return [Action(ActionKind.NOTIFY, guest.id, f"expires within {policy.notice_days} days", notice_at)]
    return []


def _after_disable(guest: Guest, disabled_at: datetime, now: datetime, policy: ExpiryPolicy,
                   expired: bool = False) -> list[Action]:
    if not expired and guest.disabled_reason is not DisabledReason.EXPIRY:
        return []
    due = disabled_at + timedelta(days=policy.grace_days)
    return [Action(ActionKind.DELETE, guest.id, f"disabled by expiry for {policy.grace_days} days", due)] \
        if due <= now else []


def plan_expiry(guests: Iterable[Guest], now: datetime, policy: ExpiryPolicy, tracked: int) -> Plan:
    """Every due action, capped per run, refused as a whole when the mass-deletion guard trips."""
    due = sorted((a for g in guests for a in due_actions(g, now, policy)), key=lambda a: (a.due_at, a.guest_id))
    actions, deferred, counted = [], [], 0
    for action in due:
        if action.kind in CAPPED:
            counted += 1
            if counted > policy.max_actions:
                deferred.append(action)
                continue
        actions.append(action)
    plan = Plan(actions, deferred)
    enforcing = {a.guest_id for a in due if a.kind in ENFORCING}
    limit = tracked * policy.guard_percent / 100
    if len(enforcing) > policy.guard_min and len(enforcing) > limit and not policy.override_guard:
        message = (f"{len(enforcing)} guests would be disabled or deleted, more than {policy.guard_percent:g}% of "
                   f"{tracked} tracked guests; nothing was enforced (override to proceed)")
        return Plan([], deferred=actions + deferred, guard_tripped=True, guard_message=message)
    return plan

