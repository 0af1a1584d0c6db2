"""The read side of the API: one guest (a poll also finishes its pending Graph work), a page of guests, and whether
a Graph token can be had and storage answers. Every read the HTTP functions make goes through here."""
from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from datetime import datetime

from lifecycle.domain.model import Guest
from lifecycle.errors import LifecycleError, NotFound
from lifecycle.ports import AuditPage, Directory, GuestQuery, Page, RunPage, RunRecord, RunStore, TokenCheck
from lifecycle.services.audit import Audit
from lifecycle.services.provisioning import Provisioner
from lifecycle.services.records import GuestRecords

STORAGE_OK = "ok"


GroupProblem = tuple[int, str, str]  # (position in MANAGED_GROUP_IDS, group id, what is wrong)
GROUPS_CHECKED_FOR = 300.0  # seconds a managed-group check is reused: a probe every minute reads Graph rarely


class GuestView:
    def __init__(self, records: GuestRecords, provisioner: Provisioner, tokens: TokenCheck,
                 check_seconds: float, directory: Directory | None = None,
                 managed_groups: tuple[str, ...] = (), audit: Audit | None = None,
                 runs: RunStore | None = None) -> None:
        self._records = records
        self._provisioner = provisioner
        self._tokens = tokens
        self._check_seconds = check_seconds  # how long each health check may take
        self._directory = directory
        self._managed_groups = managed_groups
        self._groups_checked: tuple[float, tuple[GroupProblem, ...]] | None = None
        self._audit = audit
        self._runs = runs

    async def get(self, guest_id: str) -> Guest:
        """The tracked guest; NotFound (GuestNotFound) when there is none. Only reads."""
        return await self._records.load(guest_id)

    async def poll(self, guest_id: str, actor: str) -> Guest:
        """The guest after retrying the Graph work its record still wants (groups, attributes), in `actor`'s name:
        the record already holds the intent, so each poll of a 202 moves it on."""
        guest = await self.get(guest_id)
        if guest.has_pending_graph_work:
            guest = await self._provisioner.finish(guest, actor=actor)
        return guest

    async def list(self, query: GuestQuery) -> Page:
        """One page of tracked guests matching `query` (GuestStore.query)."""
        return await self._records.store.query(query)

    async def history(self, guest_id: str, page_size: int, continuation_token: str | None = None) -> AuditPage:
        """A page of the guest's audit entries, newest first; NotFound (GuestNotFound) when the guest has neither a
        record nor an entry."""
        assert self._audit is not None
        page = await self._audit.history(guest_id, page_size, continuation_token)
        if not page.entries and continuation_token is None and await self._records.get(guest_id) is None:
            raise NotFound(f"no tracked guest with id '{guest_id}'", code="GuestNotFound")
        return page

    async def runs(self, page_size: int, continuation_token: str | None = None) -> RunPage:
        """A page of the sweep's past runs, newest first, without their lines."""
        assert self._runs is not None
        return await self._runs.runs(page_size, continuation_token)

    async def run(self, run_id: str) -> RunRecord:
        """One run with its per-guest lines; NotFound (RunNotFound) when there is none."""
        assert self._runs is not None
        found = await self._runs.get_run(run_id)
        if found is None:
            raise NotFound(f"no run with id '{run_id}' (runs are kept EXPIRY_RUN_RETENTION_DAYS days)",
                           code="RunNotFound")
        return found

    async def storage_status(self) -> str:
        """"ok" when storage answers within the health check's time, else what went wrong (no secrets)."""
        try:
            async with asyncio.timeout(self._check_seconds):
                await self._records.store.ping()
        except TimeoutError:
            return f"storage did not answer within {self._check_seconds:g} s"
        except LifecycleError as exc:
            return exc.message
        return STORAGE_OK

    async def token_status(self) -> tuple[bool, str]:
        """Whether a Graph token can be had (asked of the credential, whose cache serves it after the first: never a
        Graph call), and the status: "ok", "development-token" or "not used" (none is asked for), else what went
        wrong and what to check (no secrets)."""
        try:
            return True, await self._tokens.graph_token(self._check_seconds)
        except LifecycleError as exc:
            return False, exc.message

    async def managed_group_problems(self) -> tuple[GroupProblem, ...]:
        """(position in MANAGED_GROUP_IDS, group id, problem) for each managed group that does not exist or whose
        members Graph refuses to change (mail-enabled, dynamic, ...), checked at most every few minutes. A check
        Graph could not answer is a problem of its own ("could not be checked: ...")."""
        now = time.monotonic()
        if self._directory is None or not self._managed_groups:
            return ()
        if self._groups_checked is not None and now - self._groups_checked[0] < GROUPS_CHECKED_FOR:
            return self._groups_checked[1]
        directory = self._directory

        async def check(group_id: str) -> str:
            try:
                async with asyncio.timeout(self._check_seconds):
                    return await directory.group_problem(group_id)
            except TimeoutError:
                return f"could not be checked: Graph did not answer within {self._check_seconds:g} s"
            except LifecycleError as exc:
                return f"could not be checked: {exc.message}"

        found = await asyncio.gather(*(check(group_id) for group_id in self._managed_groups))
        problems = tuple((n, group_id, problem) for n, (group_id, problem) in
                         enumerate(zip(self._managed_groups, found, strict=True), start=1) if problem)
        self._groups_checked = (now, problems)
        return problems

    async def last_sign_ins(self, guest_ids: Sequence[str]) -> dict[str, datetime | None] | None:
        """The guests' last sign-ins as Graph has them now (`Directory.last_sign_ins`), for a page of guests; None
        when the tenant cannot say, or Graph did not answer within a health check's time (a page still shows)."""
        if self._directory is None or not guest_ids:
            return None
        try:
            async with asyncio.timeout(self._check_seconds):
                return await self._directory.last_sign_ins(guest_ids)
        except (TimeoutError, LifecycleError):
            return None
