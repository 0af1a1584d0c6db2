"""Planning the expiry sweep: a pure function of the records, the directory's sign-ins, the time and the policy."""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from lifecycle.domain.model import (
    DELETED_RETENTION,
    SWEEP_REASONS,
    DisabledReason,
    Guest,
    GuestState,
    InvitationState,
)


class ActionKind(StrEnum):
    NOTIFY = "notify"  # send guest.expiring once, EXPIRY_NOTICE_DAYS before expiry
    DISABLE = "disable"  # expiry reached: block sign-in, revoke sessions
    DELETE = "delete"  # grace period over, or an invitation never redeemed: soft delete
    PURGE = "purge"  # deleted for longer than Entra keeps it: mark the record purged


class Reason(StrEnum):
    EXPIRED = "expired"  # expiresAt reached (a notice: expiresAt is near)
    INACTIVE = "inactive"  # no successful sign-in for INACTIVITY_DAYS
    UNREDEEMED = "unredeemed"  # invitation not redeemed in INVITE_REDEEM_DAYS
    GRACE_ENDED = "grace-ended"  # disabled by the sweep for EXPIRY_GRACE_DAYS
    RETENTION_ENDED = "retention-ended"  # soft-deleted longer than Entra keeps it
    UNATTESTED = "unattested"  # no sponsor's attestation for ATTESTATION_DAYS (a notice: it is due soon)
    UNSPONSORED = "unsponsored"  # fewer than MIN_SPONSORS sponsors (a notice: announced; disabled after the grace)


ENFORCING = (ActionKind.DISABLE, ActionKind.DELETE)
CAPPED = (ActionKind.DISABLE, ActionKind.DELETE, ActionKind.PURGE)
DISABLED_FOR = {Reason.EXPIRED: DisabledReason.EXPIRY, Reason.INACTIVE: DisabledReason.INACTIVITY,
                Reason.UNATTESTED: DisabledReason.UNATTESTED, Reason.UNSPONSORED: DisabledReason.UNSPONSORED}


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
    inactivity_days: int = 0  # 0 = no inactivity rule
    guard_window: timedelta = timedelta(hours=24)  # what the guard counts besides this run: enforced this recently
    attestation_days: int = 0  # 0 = no attestation rule
    min_sponsors: int = 0  # 0 = no sponsor presence rule


@dataclass(frozen=True)
class SignIn:
    """A user's signInActivity as Graph returns it (any date may be null). `never_signed_in`: a listing that
    selected signInActivity, and succeeded, returned none for the user, which Graph does for a user who never signed
    in (user-list.md / signinactivity.md): positive evidence, unlike a property present with every date null."""

    last_successful: datetime | None = None
    last_interactive: datetime | None = None
    last_non_interactive: datetime | None = None
    never_signed_in: bool = False

    @property
    def last(self) -> datetime | None:
        """The last successful sign-in; when Graph has none recorded, the later of interactive and non-interactive."""
        if self.last_successful is not None:
            return self.last_successful
        dates = [d for d in (self.last_interactive, self.last_non_interactive) if d is not None]
        return max(dates) if dates else None

    @property
    def empty(self) -> bool:
        return self.last is None

    @property
    def basis(self) -> tuple[str, datetime] | None:
        """The signInActivity field `last` comes from, with its value; None when Graph has no date."""
        if self.last_successful is not None:
            return "lastSuccessfulSignInDateTime", self.last_successful
        dates = [(d, name) for name, d in (("lastSignInDateTime", self.last_interactive),
                                           ("lastNonInteractiveSignInDateTime", self.last_non_interactive))
                 if d is not None]
        if not dates:
            return None
        value, name = max(dates)
        return name, value


def sign_ins_known(sign_ins: Mapping[str, SignIn]) -> bool:
    """False when no user has any sign-in date and none was returned without the property (never signed in): a
    tenant that returns every user's activity with empty dates has not told us anything."""
    return any(not s.empty or s.never_signed_in for s in sign_ins.values())


@dataclass(frozen=True)
class Action:
    kind: ActionKind
    guest_id: str
    reason: Reason
    due_at: datetime  # when the action became due (plans are ordered by it)
    since: datetime  # the date the decision is based on (expiry, last sign-in, invitation, disable, delete)

    @property
    def disabled_reason(self) -> DisabledReason:
        return DISABLED_FOR.get(self.reason, DisabledReason.EXPIRY)


@dataclass(frozen=True)
class Exclusion:
    """An enforcing action the sweep will not take because the guest is in an excluded group."""

    guest_id: str
    group_id: str
    kind: ActionKind
    reason: Reason


@dataclass(frozen=True)
class Plan:
    actions: list[Action] = field(default_factory=list)
    deferred: list[Action] = field(default_factory=list)  # over the per-run cap: next run
    guard_tripped: bool = False
    guard_message: str = ""
    excluded: list[Exclusion] = field(default_factory=list)
    held: list[Action] = field(default_factory=list)  # what the guard holds back: enforced only once approved

    @property
    def enforcing(self) -> int:
        return sum(1 for a in self.actions + self.deferred + self.held if a.kind in ENFORCING)


def due_actions(guest: Guest, now: datetime, policy: ExpiryPolicy, sign_in: SignIn | None = None,
                absent_sponsors: frozenset[str] = frozenset()) -> list[Action]:
    """What the policy says is due for one guest now, in the order it must happen. `sign_in` None: unknown.
    `absent_sponsors`: sponsor ids (lower case) the directory says no longer stand (disabled or deleted)."""
    if guest.state is GuestState.DELETED:
        deleted_at = guest.deleted_at or now
        due = deleted_at + DELETED_RETENTION
        return [Action(ActionKind.PURGE, guest.id, Reason.RETENTION_ENDED, due, deleted_at)] if due <= now else []
    if guest.state is GuestState.DISABLED:
        return _after_disable(guest, guest.disabled_at or now, guest.disabled_reason, now, policy)
    if not guest.is_live:
        return []
    unredeemed = _unredeemed(guest, now, policy)
    if unredeemed:
        return unredeemed
    disable = (_expired(guest, now) or _inactive(guest, now, policy, sign_in) or _unattested(guest, now, policy)
               or _unsponsored(guest, now, policy, absent_sponsors))
    if disable is not None:
        return [disable] + _after_disable(guest, now, disable.disabled_reason, now, policy)
    return (_notice(guest, now, policy) + _attestation_notice(guest, now, policy)
            + _announcement(guest, now, policy, absent_sponsors))


def attestation_due(guest: Guest, policy: ExpiryPolicy) -> datetime | None:
    """When the guest's next attestation is due (ATTESTATION_DAYS after the period's start); None when off."""
    if policy.attestation_days <= 0:
        return None
    return guest.attestation_start() + timedelta(days=policy.attestation_days)


def _unattested(guest: Guest, now: datetime, policy: ExpiryPolicy) -> Action | None:
    due = attestation_due(guest, policy)
    if due is None or due > now:
        return None
    return Action(ActionKind.DISABLE, guest.id, Reason.UNATTESTED, due, guest.attestation_start())


def _attestation_notice(guest: Guest, now: datetime, policy: ExpiryPolicy) -> list[Action]:
    """guest.attestation-due, EXPIRY_NOTICE_DAYS before the attestation is due, once per period (a notice sent
    after the period began; a keep at the very instant of a notice starts a new period)."""
    due = attestation_due(guest, policy)
    if due is None or policy.notice_days <= 0:
        return []
    sent = guest.attestation_notice_at
    if sent is not None and sent > guest.attestation_start():
        return []
    notice_at = due - timedelta(days=policy.notice_days)
    return [Action(ActionKind.NOTIFY, guest.id, Reason.UNATTESTED, notice_at, due)] if notice_at <= now else []


def active_sponsors(guest: Guest, absent: frozenset[str] = frozenset()) -> set[str]:
    """The record's sponsors (lower case) that still stand: not disabled or deleted in the directory."""
    return {s.lower() for s in guest.sponsors} - absent


def unsponsored(guest: Guest, policy: ExpiryPolicy, absent: frozenset[str] = frozenset()) -> bool:
    """The record holds fewer active sponsors than MIN_SPONSORS (0: the rule is off); `absent` (lower case) are the
    sponsors the directory shows disabled or deleted."""
    return policy.min_sponsors > 0 and len(active_sponsors(guest, absent)) < policy.min_sponsors


def _unsponsored(guest: Guest, now: datetime, policy: ExpiryPolicy, absent: frozenset[str]) -> Action | None:
    if not unsponsored(guest, policy, absent) or guest.unsponsored_at is None:
        return None
    due = guest.unsponsored_at + timedelta(days=policy.grace_days)
    return Action(ActionKind.DISABLE, guest.id, Reason.UNSPONSORED, due, guest.unsponsored_at) if due <= now else None


def _announcement(guest: Guest, now: datetime, policy: ExpiryPolicy, absent: frozenset[str]) -> list[Action]:
    """guest.unsponsored, once: the guest has fewer active sponsors than MIN_SPONSORS."""
    if not unsponsored(guest, policy, absent) or guest.unsponsored_at is not None:
        return []
    return [Action(ActionKind.NOTIFY, guest.id, Reason.UNSPONSORED, now, now)]


def _unredeemed(guest: Guest, now: datetime, policy: ExpiryPolicy) -> list[Action]:
    if guest.invitation_state is not InvitationState.PENDING or policy.redeem_days <= 0 or not guest.invited_at:
        return []
    due = guest.invited_at + timedelta(days=policy.redeem_days)
    return [Action(ActionKind.DELETE, guest.id, Reason.UNREDEEMED, due, guest.invited_at)] if due <= now else []


def _expired(guest: Guest, now: datetime) -> Action | None:
    if guest.expires_at is None or guest.expires_at > now:
        return None
    return Action(ActionKind.DISABLE, guest.id, Reason.EXPIRED, guest.expires_at, guest.expires_at)


def inactivity_start(guest: Guest, sign_in: SignIn) -> datetime:
    """Where the guest's inactivity window starts: the last successful sign-in (never signed in: the invitation, or
    for an adopted guest the directory's createdDateTime), moved forward to a stored baseline (re-enabled, extended
    or restored)."""
    return inactivity_basis(guest, sign_in)[1]


def inactivity_basis(guest: Guest, sign_in: SignIn) -> tuple[str, datetime]:
    """`inactivity_start` with the name of the date it rests on: a signInActivity field, `invitedAt`, the
    directory's `createdDateTime` (an adopted guest that never signed in) or `activityBaseline` (re-enabled, extended
    or restored since)."""
    never = ("invitedAt", guest.invited_at or guest.created_at)
    if guest.adopted_at is not None and guest.directory_created_at is not None:
        never = ("createdDateTime", guest.directory_created_at)
    start = sign_in.basis or never
    if guest.activity_baseline and guest.activity_baseline > start[1]:
        return "activityBaseline", guest.activity_baseline
    return start


def _inactive(guest: Guest, now: datetime, policy: ExpiryPolicy, sign_in: SignIn | None) -> Action | None:
    if policy.inactivity_days <= 0 or sign_in is None:
        return None
    since = inactivity_start(guest, sign_in)
    due = since + timedelta(days=policy.inactivity_days)
    return Action(ActionKind.DISABLE, guest.id, Reason.INACTIVE, due, since) if due <= now else None


def _notice(guest: Guest, now: datetime, policy: ExpiryPolicy) -> list[Action]:
    if guest.expires_at is None or policy.notice_days <= 0 or guest.notice_sent_at is not None:
        return []
    notice_at = guest.expires_at - timedelta(days=policy.notice_days)
    return [Action(ActionKind.NOTIFY, guest.id, Reason.EXPIRED, notice_at, guest.expires_at)] \
        if notice_at <= now else []


def _after_disable(guest: Guest, disabled_at: datetime, reason: DisabledReason | None, now: datetime,
                   policy: ExpiryPolicy) -> list[Action]:
    if reason not in SWEEP_REASONS:
        return []
    due = disabled_at + timedelta(days=policy.grace_days)
    return [Action(ActionKind.DELETE, guest.id, Reason.GRACE_ENDED, due, disabled_at)] if due <= now else []


def recently_enforced(guests: Iterable[Guest], now: datetime, window: timedelta) -> list[Guest]:
    """The guests disabled by the sweep's rules, or deleted, within `window` before `now`: what the mass-deletion
    guard counts beside a run's own actions, so that many small runs (alternating with adoptions) cannot do what
    one run may not. A delete is counted whoever made it (the record does not say): the guard errs on the safe side."""
    since = now - window
    return [g for g in guests
            if (g.state is GuestState.DISABLED and g.disabled_reason in SWEEP_REASONS and g.disabled_at is not None
                and g.disabled_at >= since)
            or (g.state is GuestState.DELETED and g.deleted_at is not None and g.deleted_at >= since)]


def _hours(window: timedelta) -> str:
    hours = window.total_seconds() / 3600
    return f"{hours:g} hours"


def plan_expiry(guests: Iterable[Guest], now: datetime, policy: ExpiryPolicy, tracked: int, *,
                sign_ins: Mapping[str, SignIn] | None = None, excluded: Mapping[str, str] | None = None,
                absent_sponsors: frozenset[str] = frozenset()) -> Plan:
    """Every due action, capped per run, refused as a whole when the mass-deletion guard trips.

    `sign_ins` maps guest ids to their sign-in activity; None means the tenant could not say (no inactivity decision
    for anyone), and a guest missing from it gets none either. `excluded` maps guest ids to the excluded group that
    holds them: their disables and deletes are left out of the plan and listed in `Plan.excluded`.
    `absent_sponsors` (lower case): sponsors the directory shows disabled or deleted, who count for no guest."""
    excluded = excluded or {}
    guests = list(guests)
    due, skipped = [], []
    for guest in guests:
        sign_in = None if sign_ins is None else sign_ins.get(guest.id)
        for action in due_actions(guest, now, policy, sign_in, absent_sponsors):
            if action.kind in ENFORCING and guest.id in excluded:
                skipped.append(Exclusion(guest.id, excluded[guest.id], action.kind, action.reason))
            else:
                due.append(action)
    due.sort(key=lambda a: (a.due_at, a.guest_id))
    actions, deferred, counted = [], [], 0
    for action in due:
        if action.kind in CAPPED:
            counted += 1
            if counted > policy.max_actions:
                deferred.append(action)
                continue
        actions.append(action)
    enforcing = {a.guest_id for a in due if a.kind in ENFORCING}
    recent = [g for g in recently_enforced(guests, now, policy.guard_window) if g.id not in enforcing]
    counted, population = len(enforcing) + len(recent), tracked + sum(1 for g in recent if g.is_removed)
    limit = population * policy.guard_percent / 100
    if enforcing and counted > policy.guard_min and counted > limit and not policy.override_guard:
        window = f" (with {len(recent)} enforced in the last {_hours(policy.guard_window)})" if recent else ""
        message = (f"mass-deletion guard: {counted} guests would be disabled or deleted{window}, more than "
                   f"{policy.guard_percent:g}% of {population} tracked guests (EXPIRY_GUARD_PERCENT) and more than "
                   f"{policy.guard_min} (EXPIRY_GUARD_MIN); the guard holds every disable, delete and purge (notices "
                   "still go out): review the plan (GET /api/expiry/plan) and approve it "
                   "(POST /api/expiry/plan/{planId}/approve)")
        notices = [a for a in actions if a.kind is ActionKind.NOTIFY]
        held = [a for a in actions if a.kind is not ActionKind.NOTIFY]
        return Plan(notices, deferred=deferred, guard_tripped=True, guard_message=message, excluded=skipped,
                    held=held)
    return Plan(actions, deferred, excluded=skipped)
