"""The survey: one directory pass set against every record, read only, in bounded memory.

The directory's guests are read first, range by range, into a compact index (`DirectoryIndex`); then the records are
read partition by partition, a page at a time, and each is set against its entry as it arrives. What a record needs
(a write to say what Graph shows, an action the policy makes due, a repair) is kept; every other record is counted
and let go. So memory holds the index, a few pages and what the sweep will act on, never every record."""
from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from lifecycle.config import Settings
from lifecycle.domain.model import Guest, GuestState
from lifecycle.domain.planning import ExpiryPolicy, SignIn, due_actions, recently_enforced
from lifecycle.ports import Directory, DirectoryUser, GuestScan, Page
from lifecycle.services.records import GuestRecords
from lifecycle.services.sweep.changes import Reconciliation, change_of
from lifecycle.services.sweep.directory_index import DirectoryIndex

LOOKUP_CHUNK = 1500  # missing guests read back per Directory.get_users call (15 ids a request inside)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass
class Survey:
    """What the sweep acts on: `guests` are the records (as the directory says they are now: changes applied in
    memory only) with something due or enforced recently, `changes` the writes that make the store say what Graph
    shows, `sign_ins` those guests' sign-in activity (None: unknown, nothing decided on inactivity)."""

    scan: GuestScan
    excluded: dict[str, str] = field(default_factory=dict)
    guests: list[Guest] = field(default_factory=list)
    changes: list[Reconciliation] = field(default_factory=list)
    not_guests: list[str] = field(default_factory=list)
    unreadable: list[tuple[str, str]] = field(default_factory=list)  # (guest id, error): reported, not planned
    sign_ins: dict[str, SignIn] | None = None
    absent_sponsors: frozenset[str] = frozenset()  # lower case: disabled or deleted sponsors (MIN_SPONSORS > 0)
    pending: list[tuple[datetime, str]] = field(default_factory=list)  # (since, id) of operations under way
    emails: dict[str, str] = field(default_factory=dict)  # of the guests named in the plan or the report
    inactivity: str = ""
    tracked: int = 0
    checked: int = 0
    records_read: int = 0
    index_entries: int = 0  # the directory index's size at its largest
    seconds: dict[str, float] = field(default_factory=dict)  # directory, records

    @property
    def pending_operations(self) -> list[str]:
        """Ids of the records with an operation recorded as under way, longest under way first."""
        return [guest_id for _, guest_id in sorted(self.pending)]

    def refresh_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for change in self.changes:
            counts[change.kind] = counts.get(change.kind, 0) + 1
        return {"checked": self.checked, **counts}

    def directory_figures(self) -> dict[str, float]:
        guests, requests = self.scan.guests, self.scan.requests
        per_thousand = round(requests * 1000 / guests, 2) if guests else float(requests)
        return {"guests": guests, "requests": requests, "requestsPerThousandGuests": per_thousand,
                "ranges": self.scan.ranges}


class SurveyReader:
    """Reads the directory and the records for one sweep; writes nothing."""

    def __init__(self, *, records: GuestRecords, directory: Directory, settings: Settings) -> None:
        self._records = records
        self._directory = directory
        self._settings = settings

    async def survey(self, now: datetime, policy: ExpiryPolicy) -> Survey:
        inactivity, started = policy.inactivity_days > 0, time.perf_counter()
        index = DirectoryIndex(recent_after=now - timedelta(days=policy.inactivity_days) if inactivity else None,
                               read_at=now)
        scan, excluded = await asyncio.gather(
            self._directory.scan_guests(index.add_page, sign_in_activity=inactivity,
                                        sponsors=policy.min_sponsors > 0),
            self._excluded())
        survey = Survey(scan=scan, excluded=excluded, index_entries=len(index))
        survey.seconds["directory"] = round(time.perf_counter() - started, 3)
        use_sign_ins, survey.inactivity = _inactivity_line(scan, index, policy)
        survey.sign_ins = {} if use_sign_ins else None
        if policy.min_sponsors > 0:
            sponsors = sorted(index.sponsor_ids())
            absent = await self._directory.absent_sponsors(sponsors) if sponsors else set()
            survey.absent_sponsors = frozenset(s.lower() for s in absent)
        sorter, started = _Sorter(survey, index, now, policy, self._settings.min_sponsors), time.perf_counter()
        await self._records.store.scan(sorter.page)
        for start in range(0, len(sorter.missing), LOOKUP_CHUNK):
            chunk = sorter.missing[start:start + LOOKUP_CHUNK]
            found = await self._directory.get_users([g.id for g in chunk])
            for guest in chunk:
                sorter.place(guest, found.get(guest.id))
        if sorter.unchecked_sponsors:  # sponsors the pass did not list (a guest with 20 or more): read them too
            absent = await self._directory.absent_sponsors(sorted(sorter.unchecked_sponsors))
            survey.absent_sponsors |= frozenset(s.lower() for s in absent)
            for guest, sign_in in sorter.held_for_sponsors:
                sorter.keep_if_due(guest, sign_in)
        survey.seconds["records"] = round(time.perf_counter() - started, 3)
        return survey

    async def _excluded(self) -> dict[str, str]:
        excluded: dict[str, str] = {}
        for group_id in self._settings.expiry_excluded_group_ids:
            for member in await self._directory.transitive_member_ids(group_id):
                excluded.setdefault(member, group_id)
        return excluded


class _Sorter:
    """Sets each record against its directory entry as the record pages arrive (called from the event loop)."""

    def __init__(self, survey: Survey, index: DirectoryIndex, now: datetime, policy: ExpiryPolicy,
                 min_sponsors: int) -> None:
        self.survey, self.index, self.now, self.policy, self.min_sponsors = survey, index, now, policy, min_sponsors
        self.checked_sponsors = {s.lower() for s in index.sponsor_ids()}
        self.missing: list[Guest] = []
        self.unchecked_sponsors: set[str] = set()
        self.held_for_sponsors: list[tuple[Guest, SignIn | None]] = []
        self.recent_since = now - policy.guard_window

    def page(self, page: Page) -> None:
        self.survey.unreadable.extend(page.unreadable)
        for guest in page.guests:
            self.survey.records_read += 1
            if guest.state in (GuestState.PURGED, GuestState.INVITING):
                continue
            if guest.pending_action:
                self.survey.pending.append((guest.pending_since or guest.updated_at or _EPOCH, guest.id))
            user = self.index.take(guest.id)
            if user is None and guest.is_tracked:
                self.missing.append(guest)  # deleted outside the app, or no longer a guest: read it by id
                continue
            self.place(guest, user)

    def place(self, guest: Guest, user: DirectoryUser | None) -> None:
        survey = self.survey
        try:
            due_actions(guest, self.now, self.policy)
        except (ValueError, OverflowError) as exc:  # dates that break the arithmetic: reported, not planned
            survey.unreadable.append((guest.id, f"{type(exc).__name__}: {exc}"))
            return
        survey.checked += 1
        if user is not None and not user.is_guest:
            survey.not_guests.append(guest.id)
            survey.emails[guest.id] = guest.email
            return
        change = change_of(guest, user, self.now, self.policy, survey.absent_sponsors, self.min_sponsors)
        if change is not None:
            survey.changes.append(change)
            survey.emails[guest.id] = guest.email
            guest = change.transition(guest)
        if guest.is_tracked:
            survey.tracked += 1
        sign_in = user.sign_in if user is not None and survey.sign_ins is not None else None
        if self.policy.min_sponsors > 0 and guest.is_live:
            unchecked = {s.lower() for s in guest.sponsors} - self.checked_sponsors
            if unchecked:
                self.unchecked_sponsors |= unchecked
                self.held_for_sponsors.append((guest, sign_in))
                return
        self.keep_if_due(guest, sign_in)

    def keep_if_due(self, guest: Guest, sign_in: SignIn | None) -> None:
        """Keep the guest when the policy makes something due for it, or the guard must count it."""
        survey = self.survey
        due = due_actions(guest, self.now, self.policy, sign_in, survey.absent_sponsors)
        if not due and not recently_enforced([guest], self.now, self.policy.guard_window):
            return
        survey.guests.append(guest)
        survey.emails[guest.id] = guest.email
        if survey.sign_ins is not None and sign_in is not None:
            survey.sign_ins[guest.id] = sign_in


def _inactivity_line(scan: GuestScan, index: DirectoryIndex, policy: ExpiryPolicy) -> tuple[bool, str]:
    """Whether the plan may decide on inactivity, and the report's inactivity line."""
    if policy.inactivity_days <= 0:
        return False, "off (INACTIVITY_DAYS=0)"
    if not scan.sign_ins_read:
        return False, f"unknown, nothing decided on inactivity: {scan.sign_in_note}"
    if not index.sign_in_found:
        return False, ("unknown, nothing decided on inactivity: Graph returned no sign-in date for any guest "
                       "(no Entra ID P1, or the data is not collected)")
    return True, f"{policy.inactivity_days} days, from the sign-in activity of {index.guests} guests"


