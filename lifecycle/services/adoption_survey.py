"""Adoption's first pass: which of the directory's guests would be adopted, and whether the mass-deletion guard
lets them be, counted in bounded memory.

The records are held as their ids alone (`TrackedIds`, 16 bytes each with `key_of`); the directory is read a page at
a time (`Directory.scan_guests`) and each guest is judged as it goes by (`Candidates.verdict`), then dropped: the pass
keeps counters, the skipped guests' reasons, and the few guests whose email comes from otherMails (an owner lookup
each, made after the pass)."""
from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import Enum

from lifecycle.domain.model import Guest, GuestState
from lifecycle.domain.planning import ENFORCING, ExpiryPolicy, due_actions
from lifecycle.domain.policy import AccessPolicy
from lifecycle.errors import LimitExceeded
from lifecycle.ports import Directory, DirectoryUser, GuestStore, Page
from lifecycle.services.sweep.directory_index import Key, key_of

TRACKED, REMOVED, HANDLED = 0, 1, 2
"""What `TrackedIds` says of an id: a record tracks it, a record that says deleted tracks it, or this run's writing
pass has dealt with the guest already."""
LOOKUPS_AT_ONCE = 1000  # owner lookups started together after the first pass (each still bounded by the semaphore)


class Verdict(Enum):
    OUTSIDE = "outside"  # not a member of the group adopted, or dealt with by an earlier scan of this run
    TRACKED = "tracked"
    RESTORED = "restored"  # tracked by a record that says deleted while the user is in the directory
    SKIPPED = "skipped"
    BORROWED = "borrowed"  # adoptable unless a member owns its email (taken from otherMails)
    ADOPTABLE = "adoptable"


class TrackedIds:
    """The id of every record but the purged ones, as `TRACKED` or `REMOVED` (a store page at a time)."""

    def __init__(self) -> None:
        self.ids: dict[Key, int] = {}

    async def read(self, store: GuestStore) -> TrackedIds:
        await store.scan(self._add_page)
        return self

    def _add_page(self, page: Page) -> None:
        for guest in page.guests:
            if guest.state is not GuestState.PURGED:
                self.ids[key_of(guest.id)] = REMOVED if guest.is_removed else TRACKED
        for guest_id, _ in page.unreadable:  # a record all the same: adopting its guest would collide with it
            self.ids[key_of(guest_id)] = TRACKED


@dataclass
class Candidates:
    """How adoption judges one directory guest, without reading anything."""

    tracked: TrackedIds
    access: AccessPolicy
    members: frozenset[Key] | None = None  # adopting by group: its members' ids

    def verdict(self, user: DirectoryUser) -> tuple[Verdict, str]:
        """The guest's verdict and, when skipped, why."""
        key = key_of(user.id)
        if self.members is not None and key not in self.members:
            return Verdict.OUTSIDE, ""
        status = self.tracked.ids.get(key)
        if status == HANDLED:
            return Verdict.OUTSIDE, ""
        if status is not None:
            return (Verdict.RESTORED if status == REMOVED else Verdict.TRACKED), ""
        if not user.email:
            return Verdict.SKIPPED, "no email (mail and otherMails are empty)"
        if refusal := self.access.address_refusal(user.own_addresses):
            return Verdict.SKIPPED, f"{refusal} (ALLOWED_EMAIL_DOMAINS / BLOCKED_EMAIL_DOMAINS)"
        return (Verdict.ADOPTABLE if user.mail else Verdict.BORROWED), ""

    def handled(self, user: DirectoryUser) -> None:
        """This run has dealt with the guest: later scans of the run pass it by."""
        self.tracked.ids[key_of(user.id)] = HANDLED


def members_address(email: str) -> str:
    """Why a guest whose email (from otherMails) a member owns is skipped."""
    return f"its address '{email}' (from otherMails) belongs to a member of the directory"


@dataclass
class Survey:
    """What the first pass counted: `adoptable` guests, of which `due` would be disabled or deleted at once."""

    read: int = 0  # directory guests read
    found: int = 0
    already_tracked: int = 0
    restored: int = 0  # tracked, yet restored outside the app: the writing pass brings their records back
    adoptable: int = 0
    due: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)
    borrowed: list[tuple[str, str, bool]] = field(default_factory=list)  # (id, email, due) awaiting an owner lookup

    @property
    def writes(self) -> bool:
        return bool(self.adoptable or self.restored)


class SurveyPass:
    """The counting pass over the directory: `run` fills a `Survey`, writing nothing."""

    def __init__(self, *, directory: Directory, candidates: Candidates, policy: ExpiryPolicy, lookups: int,
                 make_record: Callable[[DirectoryUser], Guest], now: datetime,
                 on_page: Callable[[Survey], None] = lambda _: None) -> None:
        self._directory = directory
        self._candidates = candidates
        self._policy = replace(policy, override_guard=False, dry_run=True)
        self._lookups = lookups
        self._make_record = make_record
        self._now = now
        self._progress = on_page
        self.survey = Survey()

    async def run(self, max_guests: int | None = None) -> Survey:
        """Count; LimitExceeded (read stops there) when the directory holds more than `max_guests` guests."""
        scan = asyncio.create_task(self._directory.scan_guests(
            lambda users: self._page(users, scan, max_guests), sign_in_activity=self._policy.inactivity_days > 0))
        try:
            await scan
        except asyncio.CancelledError:
            if max_guests is None or self.survey.read <= max_guests:
                raise
            raise too_many_for_http(max_guests) from None
        await self._resolve_borrowed()
        self._progress(self.survey)
        return self.survey

    def _page(self, users: Sequence[DirectoryUser], scan: asyncio.Task[object], max_guests: int | None) -> None:
        survey = self.survey
        if max_guests is not None and survey.read > max_guests:
            return
        survey.read += len(users)
        if max_guests is not None and survey.read > max_guests:
            scan.cancel()
            return
        for user in users:
            verdict, reason = self._candidates.verdict(user)
            if verdict is Verdict.OUTSIDE:
                continue
            survey.found += 1
            if verdict in (Verdict.TRACKED, Verdict.RESTORED):
                survey.already_tracked += 1
                survey.restored += verdict is Verdict.RESTORED
            elif verdict is Verdict.SKIPPED:
                survey.skipped.append((user.id, reason))
            elif verdict is Verdict.BORROWED:
                survey.borrowed.append((user.id, user.email, self._due(user)))
            else:
                survey.adoptable += 1
                survey.due += self._due(user)
        self._progress(survey)

    def _due(self, user: DirectoryUser) -> bool:
        """The guest's record, adopted now, would be disabled or deleted by the next sweep."""
        record = self._make_record(user)
        return any(a.kind in ENFORCING for a in due_actions(record, self._now, self._policy, user.sign_in))

    async def _resolve_borrowed(self) -> None:
        """Skip the guests whose otherMails address a member owns; count the others as adoptable."""
        slots = asyncio.Semaphore(self._lookups)

        async def owner(email: str) -> DirectoryUser | None:
            async with slots:
                return await self._directory.find_user_by_email(email)

        survey, pending = self.survey, self.survey.borrowed
        for start in range(0, len(pending), LOOKUPS_AT_ONCE):
            chunk = pending[start:start + LOOKUPS_AT_ONCE]
            owners = await asyncio.gather(*(owner(email) for _, email, _ in chunk))
            for (user_id, email, due), found in zip(chunk, owners, strict=True):
                if found is not None and not found.is_guest:
                    survey.skipped.append((user_id, members_address(email)))
                else:
                    survey.adoptable += 1
                    survey.due += due
        survey.borrowed = []


def guard_verdict(survey: Survey, policy: ExpiryPolicy) -> str:
    """Why the mass-deletion guard refuses the adoption as a whole ("" when it allows it): the adopted records alone
    would make more guests due to be disabled or deleted at once than EXPIRY_GUARD_PERCENT of everyone tracked
    afterwards, and more than EXPIRY_GUARD_MIN (the rule `plan_expiry` applies to a sweep)."""
    population = survey.already_tracked + survey.adoptable
    limit = population * policy.guard_percent / 100
    if not survey.due or survey.due <= policy.guard_min or survey.due <= limit:
        return ""
    return (f"mass-deletion guard: adopting would make {survey.due} guests due to be disabled or deleted at once, "
            f"more than {policy.guard_percent:g}% of {population} tracked guests (EXPIRY_GUARD_PERCENT) and more "
            f"than {policy.guard_min} (EXPIRY_GUARD_MIN); nothing was adopted. Adopt by group, with INACTIVITY_DAYS "
            "off, or with the guard's settings raised for the adoption")


def too_many_for_http(max_guests: int) -> LimitExceeded:
    return LimitExceeded(
        f"the directory holds more than {max_guests} guests (ADOPT_HTTP_MAX_GUESTS), more than one HTTP request "
        "may adopt: run `python -m lifecycle adopt` (resumable, with progress) where the app's identity runs",
        code="AdoptionTooLarge", details=[{"maxGuests": max_guests}])
