"""Adoption: start tracking the guests that already exist in the directory (all, or the members of a group).

Adoption reads Graph and writes records; it never writes to Graph. Each adopted guest gets a record with the
event `guest.adopted` (not `guest.invited`: nobody was invited) and an audit entry. Running it again adopts
only the guests that are not tracked yet. A guest is skipped (reported, not tracked) when the domain lists refuse
one of its own addresses, or when the address its record would claim comes from its otherMails and a member owns
it. Adopting by group takes only a managed or an excluded group, and the report names guests only: the group's
members who are not guests are neither adopted nor listed.

A run holds the records' ids (16 bytes each) and a few pages of the directory, never the directory or the records:
a first pass counts what would be adopted and made due (`adoption_survey`: the mass-deletion guard's verdict, and
all a dry run does), then, only if the guard allows it, a second pass writes (`adoption_writing`). An interrupted
run leaves whole records (each written in one transaction): run again, it adopts the rest."""
from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from lifecycle.config import Settings
from lifecycle.domain.model import DisabledReason, Guest, GuestState, InvitationState
from lifecycle.domain.planning import ExpiryPolicy
from lifecycle.errors import Conflict, Forbidden, GraphNotFound
from lifecycle.ports import AuditEntry, Directory, DirectoryUser
from lifecycle.services.adoption_survey import Candidates, Survey, SurveyPass, TrackedIds, guard_verdict
from lifecycle.services.adoption_writing import ACTOR_ACTION, Writing, WritingPass, Written
from lifecycle.services.audit import Audit
from lifecycle.services.records import GuestRecords
from lifecycle.services.sweep.directory_index import key_of

__all__ = ["ACTOR_ACTION", "Adoption", "AdoptionService", "Progress", "adopted_record"]
QUEUED_GUESTS = 5000  # guests waiting for a writer at most (the rest of a scan is left for the next one)
WRITERS = 512
"""Guests written at once. Writers wait on storage: the few Graph calls they make (a guest without `mail`, one with
20 sponsors or more) are bounded by the directory adapter's own limit. With many writers a partition, the claims and
records of one partition that wait while its transaction is in flight share the next one (`GroupCommit`), which the
storage SDK serialises at less than half the cost a row: 161–187 guests/s against 122–146 with 128 writers
(`bench.adoption_scale`, 5,000 guests, one session)."""


@dataclass
class Adoption:
    """The outcome of one adoption run (the report of POST /api/adopt)."""

    dry_run: bool
    found: int = 0
    adopted: int = 0
    already_tracked: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (guest id, reason)
    guard_tripped: bool = False
    guard_message: str = ""

    def to_body(self) -> dict[str, object]:
        return {"dryRun": self.dry_run, "found": self.found, "adopted": self.adopted,
                "alreadyTracked": self.already_tracked,
                "skipped": [{"id": guest_id, "reason": reason} for guest_id, reason in self.skipped],
                "guard": {"tripped": self.guard_tripped, "message": self.guard_message}}


@dataclass(frozen=True)
class Progress:
    """Where a run stands, after each page of the directory: `stage` is `counting` (the first pass, which writes
    nothing) or `writing`; `read`: the directory's guests read in that stage (over every scan)."""

    stage: str
    read: int
    found: int
    adopted: int
    already_tracked: int
    skipped: int


OnProgress = Callable[[Progress], None]


class AdoptionService:
    def __init__(self, *, records: GuestRecords, directory: Directory, audit: Audit, settings: Settings,
                 clock: Callable[[], datetime], policy: ExpiryPolicy, queued_guests: int = QUEUED_GUESTS,
                 writers: int = WRITERS) -> None:
        self._records = records
        self._directory = directory
        self._audit = audit
        self._settings = settings
        self._clock = clock
        self._policy = policy
        self._queued = queued_guests
        self._writers = writers

    async def adopt(self, *, actor: str, dry_run: bool = False, expires_in_days: int | None = None,
                    group_id: str | None = None, max_guests: int | None = None,
                    on_progress: OnProgress = lambda _: None) -> Adoption:
        """Adopt every untracked guest (or those in `group_id`), in two passes over the directory: the first counts
        what would be adopted and made due (all a dry run does), the second writes. Refused as a whole (Conflict,
        nothing written) when the adopted records would make more guests due at once than the mass-deletion guard
        allows; LimitExceeded (nothing written) when the directory holds more than `max_guests` guests."""
        self._check_group(group_id)
        now = self._clock()
        days = expires_in_days or self._settings.guest_default_ttl_days
        result = Adoption(dry_run=dry_run)
        async with self._audit.audited(actor, "guests.adopt", group_id or "directory", dryRun=dry_run,
                                       expiresInDays=days) as notes:
            candidates = Candidates(await TrackedIds().read(self._records.store), self._settings.access_policy,
                                    await self._members(group_id))

            def made(user: DirectoryUser) -> Guest:
                return adopted_record(user, now, days)

            survey = await SurveyPass(
                directory=self._directory, candidates=candidates, policy=self._policy, make_record=made, now=now,
                lookups=self._settings.graph_max_concurrency,
                on_page=lambda s: on_progress(Progress("counting", s.read, s.found, 0, s.already_tracked,
                                                       len(s.skipped)))).run(max_guests)
            self._report_survey(survey, result)
            if not dry_run and not result.guard_tripped and survey.writes:
                writing = WritingPass(Writing(self._records, self._directory, self._audit, self._clock, made, actor),
                                      candidates, writers=self._writers,
                                      queued=self._queued, on_progress=lambda w: self._written(w, notes, on_progress))
                try:
                    self._report_written(await writing.run(), result)
                except asyncio.CancelledError:
                    await self._interrupted(actor, group_id, notes, writing.written)
                    raise
            notes.update(found=result.found, adopted=result.adopted, alreadyTracked=result.already_tracked,
                         skipped=len(result.skipped), guardTripped=result.guard_tripped)
        if result.guard_tripped and not dry_run:
            raise Conflict(result.guard_message, code="AdoptionGuardTripped", details=[result.to_body()])
        return result

    def _check_group(self, group_id: str | None) -> None:
        """Adoption by group reads a group the app is configured for: a managed or an excluded one (403 else)."""
        settings = self._settings
        if group_id is None or settings.access_policy.is_managed(group_id) \
                or group_id.lower() in settings.expiry_excluded_group_ids:
            return
        raise Forbidden(f"the group '{group_id}' is neither managed (MANAGED_GROUP_IDS) nor excluded "
                        "(EXPIRY_EXCLUDED_GROUP_IDS): adopt by one of those groups, or adopt without groupId",
                        code="GroupNotManaged", details=[{"groupId": group_id}])

    async def _members(self, group_id: str | None) -> frozenset[Any] | None:
        """The ids of the group's members (direct or nested), None when adopting the whole directory."""
        if group_id is None:
            return None
        try:
            members = await self._directory.transitive_member_ids(group_id)
        except GraphNotFound:
            raise GraphNotFound(f"there is no group '{group_id}' in the directory", code="GroupNotFound") from None
        return frozenset(key_of(member) for member in members)

    def _report_survey(self, survey: Survey, result: Adoption) -> None:
        """The first pass's counts: the report of a dry run, of a run the guard refuses, or of one with nothing to
        write; the guard's verdict on it."""
        result.found, result.adopted, result.already_tracked = survey.found, survey.adoptable, survey.already_tracked
        result.skipped = survey.skipped
        result.guard_message = guard_verdict(survey, self._policy)
        result.guard_tripped = bool(result.guard_message)
        if result.guard_tripped:
            result.adopted = 0

    @staticmethod
    def _report_written(written: Written, result: Adoption) -> None:
        result.found, result.adopted, result.already_tracked = written.found, written.adopted, written.already_tracked
        result.skipped = written.skipped

    @staticmethod
    def _written(written: Written, notes: dict[str, Any], on_progress: OnProgress) -> None:
        notes.update(found=written.found, adopted=written.adopted, alreadyTracked=written.already_tracked,
                     skipped=len(written.skipped))
        on_progress(Progress("writing", written.read, written.found, written.adopted, written.already_tracked,
                             len(written.skipped)))

    async def _interrupted(self, actor: str, group_id: str | None, notes: dict[str, Any], written: Written) -> None:
        """An interrupted run's own entry, with what it had adopted (the guests it wrote are audited each): a rerun
        adopts the rest."""
        details = {**notes, "found": written.found, "adopted": written.adopted,
                   "alreadyTracked": written.already_tracked, "skipped": len(written.skipped)}
        await self._audit.record(AuditEntry(actor=actor, action="guests.adopt", target=group_id or "directory",
                                            outcome="interrupted", at=self._clock(), details=details))


def adopted_record(user: DirectoryUser, now: datetime, expires_in_days: int) -> Guest:
    """The record of an existing guest: its directory facts, an expiry `expires_in_days` from now (never
    immediate), and the directory's createdDateTime as the start of its inactivity window."""
    accepted = user.external_user_state == InvitationState.ACCEPTED.value
    guest = Guest(
        id=user.id, email=user.email, display_name=user.display_name, sponsors=user.sponsors or (),
        state=GuestState.ACTIVE if accepted else GuestState.INVITED,
        invitation_state=InvitationState.ACCEPTED if accepted else InvitationState.PENDING,
        expires_at=now + timedelta(days=expires_in_days), invited_at=now, adopted_at=now,
        directory_created_at=user.created_at, created_at=now, updated_at=now)
    if user.account_enabled is False:  # blocked already: tracked as disabled by hand, never deleted by the sweep
        guest = replace(guest, state=GuestState.DISABLED, disabled_at=now, disabled_reason=DisabledReason.MANUAL)
    return guest
