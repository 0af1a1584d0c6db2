"""The guest record, its states and the transitions between them (pure, no I/O)."""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from lifecycle.errors import Conflict

DELETED_RETENTION = timedelta(days=30)


class GuestState(StrEnum):
    INVITING = "inviting"
    INVITED = "invited"
    ACTIVE = "active"
    DISABLED = "disabled"
    DELETED = "deleted"
    PURGED = "purged"


class InvitationState(StrEnum):
    PENDING = "PendingAcceptance"
    ACCEPTED = "Accepted"


class DisabledReason(StrEnum):
    EXPIRY = "expiry"
    INACTIVITY = "inactivity"
    MANUAL = "manual"
    SPONSOR = "sponsor"  # a sponsor chose remove (POST /api/guests/{id}/attest)
    UNATTESTED = "unattested"  # no sponsor's attestation within ATTESTATION_DAYS
    UNSPONSORED = "unsponsored"  # fewer than MIN_SPONSORS sponsors for EXPIRY_GRACE_DAYS after the announcement


SWEEP_REASONS = (DisabledReason.EXPIRY, DisabledReason.INACTIVITY, DisabledReason.SPONSOR,
                 DisabledReason.UNATTESTED, DisabledReason.UNSPONSORED)
"""Disabled by the sweep, or removed by a sponsor: deleted after the grace period, re-enabled by extend."""


class IndexKind(StrEnum):
    """Time-ordered indexes the expiry sweep range-scans instead of reading every guest."""

    EXPIRES = "exp"  # expiresAt of an invited or active guest
    INVITED = "inv"  # invitedAt of an invitation not yet redeemed
    DISABLED = "dis"  # disabledAt of a guest disabled by expiry or inactivity
    DELETED = "del"  # deletedAt of a soft-deleted guest
    REPAIR = "fix"  # updatedAt of a guest with group changes or attribute writes not yet made in Graph


def utcnow() -> datetime:
    return datetime.now(UTC)


class InvalidTransition(Conflict):
    code = "InvalidStateTransition"


_LIVE = (GuestState.INVITED, GuestState.ACTIVE)
TRACKED_STATES = (GuestState.INVITED, GuestState.ACTIVE, GuestState.DISABLED)
"""A guest in one of these states has a user in the directory the app looks after."""
_REMOVED = (GuestState.DELETED, GuestState.PURGED)


@dataclass(frozen=True)
class Guest:
    """One tracked guest. `etag` is the Table ETag of the stored version (None before the first write)."""

    id: str
    email: str
    display_name: str = ""
    state: GuestState = GuestState.INVITED
    invitation_state: InvitationState = InvitationState.PENDING
    groups: tuple[str, ...] = ()
    pending_groups: tuple[str, ...] = ()
    removing_groups: tuple[str, ...] = ()
    pending_attributes: dict[str, str] = field(default_factory=dict)
    attributes: dict[str, str] = field(default_factory=dict)
    sponsors: tuple[str, ...] = ()
    expires_at: datetime | None = None
    invited_at: datetime | None = None
    disabled_at: datetime | None = None
    disabled_reason: DisabledReason | None = None
    deleted_at: datetime | None = None
    purged_at: datetime | None = None
    notice_sent_at: datetime | None = None
    attested_at: datetime | None = None  # a sponsor's last keep: the attestation period runs from here
    attestation_notice_at: datetime | None = None  # guest.attestation-due sent (once per period)
    unsponsored_at: datetime | None = None  # guest.unsponsored sent: fewer sponsors than MIN_SPONSORS since
    activity_baseline: datetime | None = None  # re-enabled, extended or restored: the inactivity window starts here
    adopted_at: datetime | None = None  # tracked by adoption of an existing guest, not invited by the app
    directory_created_at: datetime | None = None  # the user's createdDateTime (an adopted guest's inactivity start)
    pending_action: str = ""
    pending_since: datetime | None = None
    last_error: str = ""
    created_at: datetime = field(default_factory=utcnow)
    updated_at: datetime = field(default_factory=utcnow)
    etag: str | None = None

    # --- queries ---------------------------------------------------------------------------------
    @property
    def is_live(self) -> bool:
        """Invited or active: the guest may sign in, and its expiry runs."""
        return self.state in _LIVE

    @property
    def is_tracked(self) -> bool:
        """Invited, active or disabled: its user should be in the directory, and its groups may change."""
        return self.state in TRACKED_STATES

    @property
    def is_removed(self) -> bool:
        """Deleted (the user is in deleted items) or purged (gone for good)."""
        return self.state in _REMOVED

    @property
    def has_pending_group_changes(self) -> bool:
        """Group adds or removals recorded and not yet made in Graph."""
        return bool(self.pending_groups or self.removing_groups)

    @property
    def has_pending_graph_work(self) -> bool:
        """Group changes or attribute writes recorded and not yet made in Graph."""
        return self.has_pending_group_changes or bool(self.pending_attributes)

    @property
    def has_unfinished_work(self) -> bool:
        """Pending Graph work, or an operation recorded as under way."""
        return self.has_pending_graph_work or bool(self.pending_action)

    def is_busy_with_other_than(self, action: str) -> bool:
        """Another operation than `action` is recorded as under way."""
        return bool(self.pending_action) and self.pending_action != action

    def index_entries(self) -> dict[IndexKind, datetime]:
        """The index positions this version of the record must occupy."""
        entries: dict[IndexKind, datetime] = {}
        if self.is_live and self.expires_at:
            entries[IndexKind.EXPIRES] = self.expires_at
        if self.state is GuestState.INVITED and self.invitation_state is InvitationState.PENDING:
            entries[IndexKind.INVITED] = self.invited_at or self.created_at
        if self.state is GuestState.DISABLED and self.disabled_reason in SWEEP_REASONS and self.disabled_at:
            entries[IndexKind.DISABLED] = self.disabled_at
        if self.state is GuestState.DELETED and self.deleted_at:
            entries[IndexKind.DELETED] = self.deleted_at
        if self.has_pending_graph_work and not self.is_removed:
            entries[IndexKind.REPAIR] = self.updated_at
        return entries

    # --- transitions -----------------------------------------------------------------------------
    def _touch(self, now: datetime, **changes: Any) -> Guest:
        return replace(self, updated_at=now, **changes)

    def _require(self, *states: GuestState, action: str) -> None:
        if self.state not in states:
            raise InvalidTransition(f"cannot {action} a guest in state '{self.state.value}'")

    def redeemed(self, now: datetime) -> Guest:
        state = GuestState.ACTIVE if self.state is GuestState.INVITED else self.state
        return self._touch(now, invitation_state=InvitationState.ACCEPTED, state=state)

    def disable(self, now: datetime, reason: DisabledReason) -> Guest:
        self._require(GuestState.INVITED, GuestState.ACTIVE, action="disable")
        return self._touch(now, state=GuestState.DISABLED, disabled_at=now, disabled_reason=reason)

    def enable(self, now: datetime) -> Guest:
        self._require(GuestState.DISABLED, action="enable")
        state = GuestState.ACTIVE if self.invitation_state is InvitationState.ACCEPTED else GuestState.INVITED
        return self._touch(now, state=state, disabled_at=None, disabled_reason=None, activity_baseline=now)

    def extend(self, now: datetime, expires_at: datetime) -> Guest:
        self._require(GuestState.INVITED, GuestState.ACTIVE, GuestState.DISABLED, action="extend")
        if expires_at <= now:
            raise InvalidTransition("the new expiry must be in the future")
        return self._touch(now, expires_at=expires_at, notice_sent_at=None, activity_baseline=now)

    def attested(self, now: datetime) -> Guest:
        """A sponsor kept the guest: a new attestation period starts now."""
        return self._touch(now, attested_at=now)

    def attestation_start(self) -> datetime:
        """Where the current attestation period starts: the last attestation, else the adoption or invitation."""
        return self.attested_at or self.adopted_at or self.invited_at or self.created_at

    def reinvited(self, now: datetime) -> Guest:
        self._require(GuestState.INVITED, GuestState.ACTIVE, action="re-invite")
        return self._touch(now, state=GuestState.INVITED, invitation_state=InvitationState.PENDING, invited_at=now)

    def delete(self, now: datetime) -> Guest:
        self._require(GuestState.INVITED, GuestState.ACTIVE, GuestState.DISABLED, action="delete")
        return self._touch(now, state=GuestState.DELETED, deleted_at=now)

    def restore(self, now: datetime) -> Guest:
        self._require(GuestState.DELETED, action="restore")
        if now - (self.deleted_at or now) > DELETED_RETENTION:
            raise InvalidTransition("the guest was deleted more than 30 days ago and cannot be restored")
        state = GuestState.DISABLED if self.disabled_at else (
            GuestState.ACTIVE if self.invitation_state is InvitationState.ACCEPTED else GuestState.INVITED)
        return self._touch(now, state=state, deleted_at=None, activity_baseline=now)

    def purge(self, now: datetime) -> Guest:
        self._require(GuestState.DELETED, action="purge")
        return self._touch(now, state=GuestState.PURGED, purged_at=now, pending_groups=(), removing_groups=(),
                           pending_attributes={})

    def gone_from_directory(self, now: datetime) -> Guest:
        """The user no longer exists in Graph (deleted elsewhere): record it as deleted."""
        if self.is_removed:
            return self
        return self._touch(now, state=GuestState.DELETED, deleted_at=now)

    def disabled_outside(self, now: datetime) -> Guest:
        """The account was blocked outside the app: recorded as disabled by hand (never deleted by the sweep)."""
        return self.disable(now, DisabledReason.MANUAL) if self.is_live else self

    def enabled_outside(self, now: datetime) -> Guest:
        """The account was unblocked outside the app (an admin in the Entra portal): recorded as enabled."""
        return self.enable(now) if self.state is GuestState.DISABLED else self

    def restored_outside(self, now: datetime, enabled: bool, redeemed: bool) -> Guest:
        """The user is back in the directory although the record says deleted (restored in the portal, or a restore
        whose answer was lost): the record takes the state Graph shows, its inactivity window starts again."""
        if not self.is_removed:
            return self
        invitation = InvitationState.ACCEPTED if redeemed else self.invitation_state
        live = GuestState.ACTIVE if invitation is InvitationState.ACCEPTED else GuestState.INVITED
        if enabled:
            return self._touch(now, state=live, invitation_state=invitation, deleted_at=None, purged_at=None,
                               disabled_at=None, disabled_reason=None, activity_baseline=now)
        return self._touch(now, state=GuestState.DISABLED, invitation_state=invitation, deleted_at=None,
                           purged_at=None, disabled_at=self.disabled_at or now,
                           disabled_reason=self.disabled_reason or DisabledReason.MANUAL, activity_baseline=now)

    def begin(self, action: str, now: datetime) -> Guest:
        """Record the intent of a Graph write before making it (write-ahead)."""
        if self.is_busy_with_other_than(action):
            raise InvalidTransition(f"another operation ({self.pending_action}) is in progress on this guest",
                                    code="OperationInProgress")
        return self._touch(now, pending_action=action, pending_since=now)

    def end(self, action: str) -> Guest:
        if self.pending_action != action:
            return self
        return replace(self, pending_action="", pending_since=None)

    # --- group bookkeeping -----------------------------------------------------------------------
    def want_groups(self, now: datetime, group_ids: tuple[str, ...]) -> Guest:
        wanted = tuple(g for g in group_ids if g not in self.groups and g not in self.pending_groups)
        removing = tuple(g for g in self.removing_groups if g not in group_ids)
        if not wanted and removing == self.removing_groups:
            return self
        return self._touch(now, pending_groups=self.pending_groups + wanted, removing_groups=removing)

    def groups_added(self, now: datetime, group_ids: tuple[str, ...]) -> Guest:
        if not group_ids:
            return self
        groups = self.groups + tuple(g for g in group_ids if g not in self.groups)
        pending = tuple(g for g in self.pending_groups if g not in group_ids)
        return self._touch(now, groups=groups, pending_groups=pending)

    def unwant_group(self, now: datetime, group_id: str) -> Guest:
        if group_id in self.removing_groups:
            return self
        pending = tuple(g for g in self.pending_groups if g != group_id)
        return self._touch(now, pending_groups=pending, removing_groups=self.removing_groups + (group_id,))

    def group_removed(self, now: datetime, group_id: str) -> Guest:
        return self._touch(now, groups=tuple(g for g in self.groups if g != group_id),
                           removing_groups=tuple(g for g in self.removing_groups if g != group_id))

    def attributes_written(self, now: datetime) -> Guest:
        if not self.pending_attributes:
            return self
        return self._touch(now, attributes={**self.attributes, **self.pending_attributes}, pending_attributes={})


@dataclass(frozen=True)
class EmailClaim:
    """The email index row: claimed (write-ahead, state `inviting`) before Graph is called, then linked to a guest."""

    email: str
    guest_id: str = ""
    claimed_at: datetime = field(default_factory=utcnow)
    owner: str = ""
    request: dict[str, Any] = field(default_factory=dict)
    etag: str | None = None

    @property
    def is_linked(self) -> bool:
        return bool(self.guest_id)

    def is_stale(self, now: datetime, after: timedelta) -> bool:
        return not self.is_linked and now - self.claimed_at > after
