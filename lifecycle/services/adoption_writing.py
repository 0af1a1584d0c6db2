"""Adoption's writing pass: a record for each untracked guest, written by a few writers at once, in bounded memory.

The directory hands its guests on a page at a time to a sync callback, which cannot wait for the writers. So the
callback judges each guest (`Candidates.verdict`) and puts the ones that need a write into a bounded queue; a guest
that finds the queue full is left for the next scan of the directory, which starts once the queue is written and
passes by every guest this run dealt with. Scans follow one another until one leaves nobody for later: memory holds
the queue, never the directory.

Each guest is written as one record + email claim + `guest.adopted` event (`GuestRecords.create`, one transaction),
audited as `guest.adopt` (the guest's history starts there). A guest another writer tracked meanwhile, or whose
email a member owns, is skipped with the reason; storage or Graph unavailable stops the run (rerunning it adopts
the rest). On an interruption the writers finish the guests in hand, and drop the rest of the queue."""
from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from lifecycle.domain import events
from lifecycle.domain.drift import drift
from lifecycle.domain.model import EmailClaim, Guest
from lifecycle.errors import (
    ConcurrencyConflict,
    GraphUnavailable,
    IdentityUnavailable,
    LifecycleError,
    OutcomeUnknown,
    StorageUnavailable,
)
from lifecycle.ports import Directory, DirectoryUser
from lifecycle.services.adoption_survey import Candidates, Verdict, members_address
from lifecycle.services.audit import Audit
from lifecycle.services.directory_view import directory_view
from lifecycle.services.records import GuestRecords

ACTOR_ACTION = "guest.adopt"
RUN_STOPPERS = (StorageUnavailable, GraphUnavailable, IdentityUnavailable, OutcomeUnknown)
"""Errors that stop the run instead of skipping one guest: every guest after would meet them too."""
PROGRESS_EVERY = 500  # adopted guests between progress reports (besides one a page)


@dataclass
class Written:
    """What the writing pass did so far."""

    found: int = 0
    adopted: int = 0
    already_tracked: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)
    read: int = 0  # directory guests read, over every scan
    scans: int = 0
    left_for_later: int = 0  # guests the last scan found the queue full for


@dataclass
class Writing:
    """What the writers need: where to write, how each record is made, who acts."""

    records: GuestRecords
    directory: Directory
    audit: Audit
    clock: Callable[[], datetime]
    make_record: Callable[[DirectoryUser], Guest]
    actor: str


class WritingPass:
    def __init__(self, writing: Writing, candidates: Candidates, *, writers: int, queued: int,
                 on_progress: Callable[[Written], None] = lambda _: None) -> None:
        self._writing = writing
        self._candidates = candidates
        self._writers = writers
        self._queue: asyncio.Queue[tuple[Verdict, DirectoryUser] | None] = asyncio.Queue(max(queued, writers))
        self._progress = on_progress
        self._failure: Exception | None = None
        self._scan: asyncio.Task[Any] | None = None
        self.written = Written()

    async def run(self) -> Written:
        """Scan and write until every guest is dealt with; raises what stopped the run (RUN_STOPPERS)."""
        writers = [asyncio.create_task(self._write_queued()) for _ in range(self._writers)]
        try:
            while await self._scan_once():
                await self._queue.join()  # the next scan starts with the queue empty: it takes a queue's worth
        except BaseException:
            self._drop_queued()
            raise
        finally:
            await self._close(writers)
        if self._failure is not None:
            raise self._failure
        self._progress(self.written)
        return self.written

    async def _scan_once(self) -> int:
        """One directory scan; returns how many guests it left for the next."""
        self.written.scans += 1
        self.written.left_for_later = 0
        self._scan = asyncio.create_task(self._writing.directory.scan_guests(
            self._page, sign_in_activity=False, sponsors=True))
        try:
            await self._scan
        except asyncio.CancelledError:
            if self._failure is None:
                raise
        if self._failure is not None:
            raise self._failure
        return self.written.left_for_later

    def _page(self, users: Sequence[DirectoryUser]) -> None:
        if self._failure is not None:
            return
        written = self.written
        written.read += len(users)
        for user in users:
            verdict, reason = self._candidates.verdict(user)
            if verdict is Verdict.OUTSIDE:
                continue
            if verdict in (Verdict.RESTORED, Verdict.BORROWED, Verdict.ADOPTABLE):
                if self._queue.full():
                    written.left_for_later += 1
                    continue
                self._queue.put_nowait((verdict, user))
            written.found += 1
            self._candidates.handled(user)
            if verdict in (Verdict.TRACKED, Verdict.RESTORED):
                written.already_tracked += 1
            elif verdict is Verdict.SKIPPED:
                written.skipped.append((user.id, reason))
        self._progress(written)

    async def _write_queued(self) -> None:
        """A writer: takes guests off the queue until it is told to end (None); after a failure it only drains."""
        while (item := await self._queue.get()) is not None:
            verdict, user = item
            try:
                if self._failure is not None:
                    continue
                if verdict is Verdict.RESTORED:
                    await self._bring_back(user)
                elif refusal := await self._adopt(user):
                    self.written.skipped.append((user.id, refusal))
                else:
                    self.written.adopted += 1
                    if self.written.adopted % PROGRESS_EVERY == 0:
                        self._progress(self.written)
            except Exception as exc:  # RUN_STOPPERS, or a fault of the app's own: the run stops, never hangs
                self._failure = exc
                if self._scan is not None:
                    self._scan.cancel()
            finally:
                self._queue.task_done()

    def _drop_queued(self) -> None:
        while not self._queue.empty():
            self._queue.get_nowait()
            self._queue.task_done()

    async def _close(self, writers: list[asyncio.Task[None]]) -> None:
        """Tell each writer to end once the queue is written, and wait for them (interrupted: the guests in hand).
        Another interruption meanwhile does not cut the writers off: the guests in hand are finished and counted,
        and the first interruption is what the run ends with."""
        for _ in writers:
            await self._queue.put(None)
        drained = asyncio.gather(*writers)
        while not drained.done():
            try:
                await asyncio.shield(drained)
            except asyncio.CancelledError:
                if drained.cancelled():
                    raise
        drained.result()

    async def _adopt(self, user: DirectoryUser) -> str | None:
        """None when this run adopted the guest, else why it did not."""
        writing = self._writing
        if not user.mail:
            owner = await writing.directory.find_user_by_email(user.email)
            if owner is not None and not owner.is_guest:
                return members_address(user.email)
        guest = writing.make_record(user)
        try:
            async with writing.audit.audited(writing.actor, ACTOR_ACTION, guest.id, email=guest.email) as notes:
                if user.sponsors is None or len(user.sponsors) >= 20:  # Graph expands at most 20: list them all
                    guest = replace(guest, sponsors=await writing.directory.sponsor_ids(guest.id))
                notes["sponsors"] = list(guest.sponsors)
                await self._create(guest)
        except ConcurrencyConflict:
            return "the guest or its email is tracked already"
        except RUN_STOPPERS:
            raise
        except LifecycleError as exc:
            return exc.message
        return None

    async def _create(self, guest: Guest) -> None:
        """The record, its email claim, its index rows and its event in one transaction (nothing is written to
        Graph, so there is no write-ahead step)."""
        now = self._writing.clock()
        claim = EmailClaim(email=guest.email, guest_id=guest.id, claimed_at=now, request={"email": guest.email})
        await self._writing.records.create(guest, claim, [events.guest_event(events.ADOPTED, guest, now)])

    async def _bring_back(self, user: DirectoryUser) -> None:
        """A record that says deleted while its user is in the directory (restored outside the app) is brought back
        to what Graph shows (`domain.drift`), audited as found."""
        writing = self._writing
        guest = await writing.records.store.get(user.id)
        found = None if guest is None else drift(guest, directory_view(user), writing.clock())
        if guest is None or found is None:
            return
        try:
            async with writing.audit.audited(writing.actor, "guest.refresh", guest.id, found=found.kind):
                await writing.records.update(guest, found.transition, found.event)
        except ConcurrencyConflict:
            return  # changed meanwhile: the sweep brings it up to date
