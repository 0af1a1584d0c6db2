"""The expiry sweep: one directory pass against every record, plan, guard, act, repair, report."""
from __future__ import annotations

import asyncio
import json
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timedelta, timezone
from typing import Any

from lifecycle.config import Settings, Tuning
from lifecycle.domain.drift import Drift, drift
from lifecycle.domain.planning import (
    ENFORCING, Action, ActionKind, ExpiryPolicy, Plan, SignIn, due_actions, unsponsored, plan_expiry, sign_ins_known,
)
from lifecycle.domain.model import Guest, GuestState, IndexKind
from lifecycle.errors import ConcurrencyConflict, Conflict, LifecycleError
from lifecycle.logs import get_logger
from lifecycle.domain.runs import new_id
from lifecycle.ports import (
    AuditEntry, Directory, DirectoryUser, Event, GuestListing, GuestQuery, IdempotencyStore, RunRecord,
)
from lifecycle.request_log import unit_of_work
from lifecycle.services import evidence
from lifecycle.services.acting import operation_for, send_notice
from lifecycle.services.audit import Audit
from lifecycle.services.dispatch import EventDispatcher
from lifecycle.services.directory_view import directory_view
from lifecycle.services.invitations import InvitationService
from lifecycle.services.operations import GuestOperations, Operation
from lifecycle.services.provisioning import Provisioner
from lifecycle.services.records import GuestRecords
from lifecycle.services.run_record import (
    RunJournal, RunRecorder, lines_of, log_report, run_outcome, stored_report,
)

ACTOR = "expiry-sweep"
_NOT_READ = DirectoryUser("", "")  # a guest the re-check before acting did not read (nothing enforcing due)
GUESTS_PER_GRAPH_SLOT = 2  # guests under way per Graph call in flight
RECORD_PAGE = 1000
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)  # records per Table query page (the service's maximum)
log = get_logger("lifecycle.expiry")
EvidenceOf = Callable[[Action], dict[str, Any]]


@dataclass
class SweepReport:
    started_at: str
    dry_run: bool
    run_id: str = ""
    trigger: str = ""
    tracked: int | None = None
    planned: dict[str, int] = field(default_factory=dict)
    done: dict[str, int] = field(default_factory=dict)
    deferred: int = 0
    held: int = 0  # actions the mass-deletion guard held back (listed by GET /api/expiry/plan, for approval)
    guard_tripped: bool = False
    guard_message: str = ""
    refreshed: dict[str, int] = field(default_factory=dict)
    directory: dict[str, float] = field(default_factory=dict)
    inactivity: str = ""
    excluded: list[dict[str, str]] = field(default_factory=list)
    repaired: dict[str, int] = field(default_factory=dict)
    plan: dict[str, Any] = field(default_factory=dict)  # in a dry run: what GET /api/expiry/plan answers
    skipped: list[dict[str, str]] = field(default_factory=list)
    failures: list[dict[str, str]] = field(default_factory=list)
    finished_at: str = ""

    @property
    def failed(self) -> bool:
        return bool(self.failures) or self.guard_tripped

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)

    def to_text(self) -> str:
        lines = [f"expiry sweep {'(dry run) ' if self.dry_run else ''}at {self.started_at} (run {self.run_id})"]
        if self.guard_tripped:
            lines.append(f"GUARD: {self.guard_message}")
            lines.append(f"held by the guard: {self.held}")
        lines.append("planned: " + _counts(self.planned))
        lines.append("done:    " + _counts(self.done))
        lines.append(f"deferred to the next run (cap): {self.deferred}")
        lines.append("refreshed from Graph: " + _counts(self.refreshed))
        if self.directory:
            lines.append(f"directory pass: {self.directory['guests']:g} guests in {self.directory['requests']:g} "
                         f"requests ({self.directory['requestsPerThousandGuests']:g} per thousand guests)")
        lines.append(f"inactivity: {self.inactivity}")
        lines += [f"skipped {e['guestId']}: {e['action']} ({e['reason']}) excluded by group {e['group']}"
                  for e in self.excluded]
        lines.append("repaired: " + _counts(self.repaired))
        lines += [f"skipped {s['guestId']}: {s['reason']}" for s in self.skipped]
        lines += [f"FAILED {f['action']} {f['guestId']}: {f['reason']}" for f in self.failures]
        lines += [f"would {a['action']} {a['guestId']} <{a['email']}>: {a['reason']} since {a['since']}"
                  for a in self.plan.get("actions", [])]
        return "\n".join(lines)


@dataclass(frozen=True)
class Reconciliation:
    guest: Guest
    kind: str  # what `domain.drift` found: gone, redeemed, disabled / enabled / restored outside the app
    transition: Callable[[Guest], Guest]
    event: str | None


@dataclass
class Survey:
    """One directory pass set against the records: the records as the directory says they are now (changes
    applied in memory only), the writes that would make the store say so, sign-ins and exclusions."""

    listing: GuestListing
    excluded: dict[str, str] = field(default_factory=dict)
    guests: list[Guest] = field(default_factory=list)
    changes: list[Reconciliation] = field(default_factory=list)
    not_guests: list[str] = field(default_factory=list)
    unreadable: list[tuple[str, str]] = field(default_factory=list)  # (guest id, error): reported, not planned
    sign_ins: dict[str, SignIn] | None = None
    absent_sponsors: frozenset[str] = frozenset()  # lower case: disabled or deleted sponsors (MIN_SPONSORS > 0)
    pending_operations: list[str] = field(default_factory=list)  # ids of records with an operation under way
    inactivity: str = ""

    @property
    def tracked(self) -> int:
        return sum(1 for g in self.guests if g.is_tracked)

    def refresh_counts(self) -> dict[str, int]:
        counts = Counter(c.kind for c in self.changes)
        return {"checked": len(self.guests) + len(self.not_guests), **counts}

    def directory_figures(self) -> dict[str, float]:
        guests, requests = len(self.listing.users), self.listing.requests
        per_thousand = round(requests * 1000 / guests, 2) if guests else float(requests)
        return {"guests": guests, "requests": requests, "requestsPerThousandGuests": per_thousand}


def _counts(values: dict[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(values.items())) or "none"


class ExpirySweep:
    def __init__(self, *, records: GuestRecords, directory: Directory, audit: Audit, settings: Settings,
                 tuning: Tuning, clock: Callable[[], datetime], operations: GuestOperations, provisioner: Provisioner,
                 invitations: InvitationService, dispatcher: EventDispatcher,
                 idempotency_store: IdempotencyStore, runs: RunRecorder | None = None) -> None:
        self._records = records
        self._directory = directory
        self._audit = audit
        self._settings = settings
        self._tuning = tuning
        self._clock = clock
        self._dispatcher = dispatcher
        self._keys = idempotency_store
        self._operations = operations
        self._provisioner = provisioner
        self._invitations = invitations
        self._runs = runs

    def policy(self, dry_run: bool | None, override_guard: bool) -> ExpiryPolicy:
        s = self._settings
        return ExpiryPolicy(grace_days=s.expiry_grace_days, redeem_days=s.invite_redeem_days,
                            notice_days=s.expiry_notice_days, max_actions=s.expiry_max_actions_per_run,
                            guard_percent=s.expiry_guard_percent, guard_min=s.expiry_guard_min,
                            guard_window=timedelta(hours=s.expiry_guard_window_hours),
                            dry_run=s.expiry_dry_run if dry_run is None else dry_run, override_guard=override_guard,
                            inactivity_days=s.inactivity_days, attestation_days=s.attestation_days,
                            min_sponsors=s.min_sponsors)

    async def run(self, *, dry_run: bool | None = None, override_guard: bool = False,
                  trigger: str = "cli") -> SweepReport:
        """One sweep, stored as a run (`trigger`: timer, cli) with its report and per-guest lines."""
        now = self._clock()
        policy = self.policy(dry_run, override_guard)
        journal = RunJournal(new_id(now), trigger, ACTOR, now)
        report = SweepReport(started_at=now.isoformat(), dry_run=policy.dry_run, run_id=journal.run_id,
                             trigger=trigger)
        plan: Plan | None = None
        survey: Survey | None = None
        try:
            try:
                survey = await self.survey(now, policy)
            except Exception as exc:  # noqa: BLE001 - a failed pass (no token, Graph or storage down) ends in a report
                _report_failure(report, "-", "directory pass", exc)
                return self._finish(report)
            plan = self._plan(survey, now, policy, report)
            if policy.dry_run:
                report.plan = describe_plan(plan, survey)
                return self._finish(report)
            await self._enforce(plan, survey, now, policy, report, journal)
            return self._finish(report)
        finally:
            await self._record(report, plan, survey, journal)

    async def _enforce(self, plan: Plan, survey: Survey, now: datetime, policy: ExpiryPolicy, report: SweepReport,
                       journal: RunJournal) -> None:
        """Write what the directory pass found, take the plan's actions (only notices when the guard tripped),
        record the exclusions, repair, keep house."""
        evidence_of = evidence_for(survey, policy, journal.run_id)
        published: list[Event] = []
        with unit_of_work() as written:
            try:
                records = await self._reconcile(survey, report)
                await self._act(plan, records, now, report, published, evidence_of, journal)
                if not plan.guard_tripped:
                    await self._audit_exclusions(plan, survey, policy, journal.run_id, now)
                    await self._repair(now, survey.pending_operations, report)
            finally:
                await self._housekeeping(written, published, now, report)

    def _finish(self, report: SweepReport) -> SweepReport:
        report.finished_at = self._clock().isoformat()
        return report

    async def _record(self, report: SweepReport, plan: Plan | None, survey: Survey | None,
                      journal: RunJournal) -> None:
        """Store the run (its report and lines) and log its report once, under run_record.REPORT_EVENT."""
        finished = datetime.fromisoformat(report.finished_at) if report.finished_at else self._clock()
        body = asdict(report)
        emails = {g.id: g.email for g in survey.guests} if survey else {}
        run = RunRecord(run_id=journal.run_id, trigger=journal.trigger, started_at=journal.started_at,
                        finished_at=finished, dry_run=report.dry_run,
                        outcome=run_outcome(report.dry_run, report.guard_tripped, report.failures),
                        actor=journal.actor, report=stored_report(body),
                        lines=tuple(lines_of(plan, emails, journal, body, report.dry_run)))
        problem = await self._runs.record(run) if self._runs is not None else ""
        if problem:
            report.failures.append({"guestId": "-", "action": "record run", "reason": problem[:500]})
        (log.error if report.guard_tripped or report.failures else log.info)("expiry sweep", **asdict(report))
        log_report(run if not problem else replace(run, outcome="failed"))

    async def plan(self, *, override_guard: bool = False) -> tuple[Plan, Survey]:
        """What the next sweep would do, from the same directory pass and planning function; writes nothing."""
        now = self._clock()
        policy = self.policy(True, override_guard)
        survey = await self.survey(now, policy)
        return plan_from(survey, now, policy), survey

    # --- survey: the directory pass and the records, read only ------------------------------------
    async def survey(self, now: datetime, policy: ExpiryPolicy) -> Survey:
        """Read the directory's guests once, the exclusions once, every record; work out (in memory) how each
        record differs from the directory. Nothing is written."""
        directory = self._directory
        listing, excluded, (records, unreadable) = await asyncio.gather(
            directory.list_guests(sign_in_activity=policy.inactivity_days > 0, sponsors=policy.min_sponsors > 0),
            self._excluded(), self._read_records())
        by_id = {user.id: user for user in listing.users}
        survey = Survey(listing=listing, excluded=excluded, unreadable=unreadable,
                        pending_operations=_pending_operations(records))
        records = _plannable(records, now, policy, survey.unreadable)
        survey.sign_ins, survey.inactivity = _sign_ins(listing, policy)
        missing = [g for g in records if g.id not in by_id and g.is_tracked]
        found = await self._look_up(missing)
        for guest in records:
            self._survey_one(guest, by_id.get(guest.id) or found.get(guest.id), now, survey)
        if policy.min_sponsors > 0:  # who of the guests' sponsors still stands, read in bulk
            sponsors = {s for guest in survey.guests if guest.is_live for s in guest.sponsors}
            absent = await self._directory.absent_sponsors(sorted(sponsors)) if sponsors else set()
            survey.absent_sponsors = frozenset(s.lower() for s in absent)
            survey.changes += [Reconciliation(guest, "sponsored again", _announcement_ended(now), None)
                               for guest in survey.guests if guest.unsponsored_at is not None
                               and guest.id not in {c.guest.id for c in survey.changes}
                               and not unsponsored(guest, policy, survey.absent_sponsors)]
        return survey

    def _survey_one(self, guest: Guest, user: DirectoryUser | None, now: datetime, survey: Survey) -> None:
        if user is not None and not user.is_guest:
            survey.not_guests.append(guest.id)
            return
        change = _directory_change(guest, user, now)
        if change is None:
            change = _sponsors_change(guest, user, now, self._settings.min_sponsors)
        if change is None:
            survey.guests.append(guest)
            return
        survey.changes.append(Reconciliation(guest, change.kind, change.transition, change.event))
        survey.guests.append(change.transition(guest))

    async def _look_up(self, guests: list[Guest]) -> dict[str, DirectoryUser | None]:
        """Records the guest pass did not return: deleted outside the app, or no longer a guest."""
        slots = asyncio.Semaphore(self._settings.graph_max_concurrency)

        async def look_up(guest: Guest) -> tuple[str, DirectoryUser | None]:
            async with slots:
                return guest.id, await self._directory.get_user(guest.id)

        return dict(await asyncio.gather(*(look_up(g) for g in guests)))

    async def _excluded(self) -> dict[str, str]:
        excluded: dict[str, str] = {}
        for group_id in self._settings.expiry_excluded_group_ids:
            for member in await self._directory.transitive_member_ids(group_id):
                excluded.setdefault(member, group_id)
        return excluded

    async def _read_records(self) -> tuple[list[Guest], list[tuple[str, str]]]:
        """Every record, and (guest id, error) for each one the store could not read."""
        records: list[Guest] = []
        unreadable: list[tuple[str, str]] = []
        token: str | None = None
        while True:
            page = await self._records.store.query(GuestQuery(page_size=RECORD_PAGE, continuation_token=token))
            records.extend(g for g in page.guests if g.state not in (GuestState.PURGED, GuestState.INVITING))
            unreadable.extend(page.unreadable)
            token = page.continuation_token
            if not token:
                return records, unreadable

    async def _load_many(self, ids: list[str], report: SweepReport) -> list[Guest]:
        slots = asyncio.Semaphore(self._settings.graph_max_concurrency * 4)

        async def load(guest_id: str) -> Guest | None:
            async with slots:
                try:
                    return await self._records.get(guest_id)
                except Exception as exc:  # noqa: BLE001 - one bad record never stops the sweep
                    _report_failure(report, guest_id, "read", exc)
                    return None

        return [g for g in await asyncio.gather(*(load(i) for i in ids)) if g is not None]

    # --- plan ------------------------------------------------------------------------------------
    def _plan(self, survey: Survey, now: datetime, policy: ExpiryPolicy, report: SweepReport) -> Plan:
        plan = plan_from(survey, now, policy)
        report.tracked = survey.tracked
        report.directory = survey.directory_figures()
        report.inactivity = survey.inactivity
        report.refreshed = survey.refresh_counts()
        report.skipped += [{"guestId": i, "reason": "not a guest in the directory"} for i in survey.not_guests]
        report.failures += [{"guestId": i, "action": "read", "reason": reason[:500]} for i, reason in survey.unreadable]
        report.excluded = [{"guestId": e.guest_id, "group": e.group_id, "action": e.kind.value,
                            "reason": e.reason.value} for e in plan.excluded]
        report.planned = dict(Counter(a.kind.value for a in plan.actions))
        report.deferred = len(plan.deferred)
        report.held = len(plan.held)
        report.guard_tripped, report.guard_message = plan.guard_tripped, plan.guard_message
        return plan

    # --- reconcile: write what the directory pass found -------------------------------------------
    async def _reconcile(self, survey: Survey, report: SweepReport) -> dict[str, Guest]:
        """Write what the directory pass found; the records as stored now (with their ETags), by id, for acting
        on. A record whose write failed is left out (read again if acted on)."""
        slots = asyncio.Semaphore(self._settings.graph_max_concurrency * 4)
        changed = {change.guest.id for change in survey.changes}
        records = {guest.id: guest for guest in survey.guests if guest.id not in changed}

        async def write(change: Reconciliation) -> None:
            async with slots:
                saved = await self._reconcile_one(change, report)
            if saved is not None:
                records[saved.id] = saved

        await asyncio.gather(*(write(c) for c in survey.changes))
        return records

    async def _reconcile_one(self, change: Reconciliation, report: SweepReport) -> Guest | None:
        """Record what the directory says (audited as `guest.refresh` with what changed)."""
        try:
            async with self._audit.audited(ACTOR, "guest.refresh", change.guest.id, found=change.kind):
                return await self._records.update(change.guest, change.transition, change.event)
        except Exception as exc:  # noqa: BLE001 - one bad record never stops the sweep
            _report_failure(report, change.guest.id, "refresh", exc)
            return None

    # --- act -------------------------------------------------------------------------------------
    async def _act(self, plan: Plan, records: dict[str, Guest], now: datetime, report: SweepReport,
                   published: list[Event], evidence_of: EvidenceOf, journal: RunJournal) -> None:
        """Each guest's actions in order, guests in parallel: more guests under way than Graph calls in flight (the
        Graph adapter bounds those), so one guest's storage work overlaps another's Graph calls. The intents of the
        next guests are written ahead, a batch in one transaction, half a batch before they are reached. A guest's
        events are published as soon as its actions end; their outbox rows are removed together at the end."""
        by_guest: dict[str, list[Action]] = defaultdict(list)
        for action in plan.actions:
            by_guest[action.guest_id].append(action)
        under_way = guests_under_way(self._settings.graph_max_concurrency)
        slots, progress = asyncio.Semaphore(under_way), asyncio.Condition()
        done: Counter[str] = Counter()
        started = launched = 0

        async def act(actions: list[Action]) -> None:
            nonlocal started
            with unit_of_work() as written:
                async with slots:
                    async with progress:
                        started += 1
                        progress.notify_all()
                    await act_in_order(actions)
            published.extend(await self._dispatcher.publish(written))

        async def act_in_order(actions: list[Action]) -> None:
            record = records.get(actions[0].guest_id)
            for action in actions:
                outcome = await self._act_one(action, record, now, report, evidence_of(action))
                if outcome is None:
                    return
                journal.acted(action, bool(outcome))
                done[action.kind.value] += outcome
                record = None  # changed by the action: read again for the next one

        guests = list(by_guest.values())
        async with asyncio.TaskGroup() as group:
            for start in range(0, len(guests), under_way):
                batch = guests[start:start + under_way]
                async with progress:
                    await progress.wait_for(lambda: launched - started <= under_way // 2)
                batch = await self._still_guests(batch, report)
                if under_way > 1:
                    await self._begin_ahead(batch, records)
                for actions in batch:
                    group.create_task(act(actions))
                launched += len(batch)
        report.done = {kind: count for kind, count in done.items() if count}

    async def _still_guests(self, batch: list[list[Action]], report: SweepReport) -> list[list[Action]]:
        """The guests of `batch` that Graph still shows as guests, read again just before acting (the pass that
        planned them may be minutes old: a guest converted to a member since is skipped and reported, never
        disabled or deleted). One read for the batch (`Directory.get_users`: independent items of a $batch). A user
        gone from the directory meanwhile is left to the next pass, unless all that is due is its delete."""
        enforcing = [actions for actions in batch if any(a.kind in ENFORCING for a in actions)]
        if not enforcing:
            return batch
        ids = [actions[0].guest_id for actions in enforcing]
        try:
            users = await self._directory.get_users(ids)
        except LifecycleError as exc:
            for guest_id in ids:
                _report_failure(report, guest_id, "re-check before acting", exc)
            return [actions for actions in batch if actions not in enforcing]
        kept = []
        for actions in batch:
            user = users.get(actions[0].guest_id, _NOT_READ)
            if user is _NOT_READ or (user is not None and user.is_guest):
                kept.append(actions)
            elif user is None and all(a.kind is not ActionKind.DISABLE for a in actions):
                kept.append(actions)
            else:
                reason = "no longer in the directory" if user is None else "no longer a guest in the directory"
                report.skipped.append({"guestId": actions[0].guest_id,
                                       "reason": f"{reason} (checked just before acting); nothing done"})
        return kept

    async def _begin_ahead(self, batch: list[list[Action]], records: dict[str, Guest]) -> None:
        """Write the intents of a batch of guests in one transaction: the write-ahead record each operation would
        otherwise write on its own (it then finds its intent recorded and goes on to Graph). Only where the
        operation would write it itself: a record as planned, nothing under way, not done, a possible transition.
        A batch that cannot be written together (a guest changed since the survey) is left to each operation."""
        now, begun = self._clock(), []
        for actions in batch:
            action, record = actions[0], records.get(actions[0].guest_id)
            if action.kind is ActionKind.NOTIFY or record is None or record.pending_action:
                continue
            operation = self._operation(action)
            try:
                if not operation.done(record):
                    operation.transition(record, now)
                    begun.append(record.begin(operation.intent, now))
            except LifecycleError:
                continue  # the operation refuses it itself, and reports it
        if len(begun) < 2:
            return
        try:
            saved = await self._records.save_all(begun)
        except (LifecycleError, ValueError) as exc:
            log.info("sweep: intents written one by one", reason=str(exc)[:200])
            return
        records.update((guest.id, guest) for guest in saved)

    async def _act_one(self, action: Action, record: Guest | None, now: datetime, report: SweepReport,
                       why: dict[str, Any]) -> int | None:
        """1 when this run made the change, 0 when it was already made, None when it could not be made. `why` (the
        evidence) goes into the action's audit entry."""
        try:
            if action.kind is ActionKind.NOTIFY:
                guest = record or await self._records.load(action.guest_id)
                return await send_notice(self._records, self._audit, ACTOR, guest, now, why, action,
                                         self._settings.expiry_grace_days)
            result = await self._operations.run(self._operation(action), action.guest_id, ACTOR,
                                                known_user=DirectoryUser(action.guest_id, "Guest"), record=record,
                                                evidence=why)
            return int(result.changed)
        except (ConcurrencyConflict, Conflict) as exc:
            report.skipped.append({"guestId": action.guest_id, "reason": f"{action.kind.value}: {exc.message}"})
        except Exception as exc:  # noqa: BLE001 - one bad record never stops the sweep
            _report_failure(report, action.guest_id, action.kind.value, exc)
        return None

    def _operation(self, action: Action) -> Operation:
        return operation_for(self._operations, action)

    async def _audit_exclusions(self, plan: Plan, survey: Survey, policy: ExpiryPolicy, run_id: str,
                                now: datetime) -> None:
        """One entry per guest whose due disable or delete an excluded group held back (rule `excluded`)."""
        guests = {g.id: g for g in survey.guests}
        sign_ins = survey.sign_ins or {}
        entries = [AuditEntry(actor=ACTOR, action="guest.excluded", target=e.guest_id, outcome="skipped", at=now,
                              details={"evidence": evidence.for_exclusion(e, guests.get(e.guest_id),
                                                                          sign_ins.get(e.guest_id), policy, run_id)})
                   for e in plan.excluded]
        for start in range(0, len(entries), 50):
            await asyncio.gather(*(self._audit.record(entry) for entry in entries[start:start + 50]))

    # --- housekeeping ----------------------------------------------------------------------------
    async def _housekeeping(self, written: list[Event], published: list[Event], now: datetime,
                            report: SweepReport) -> None:
        """Remove the sent events from the outbox, send the rest of this run's events and what earlier runs or
        requests left there, drop expired idempotency keys: independent steps, run together."""
        steps = await asyncio.gather(
            self._dispatcher.remove(published), self._dispatcher.send(written), self._dispatcher.drain(self._clock()),
            self._keys.purge_expired(now, self._settings.expiry_max_actions_per_run), self._purge_runs(now),
            return_exceptions=True)
        _, sent_now, drained, expired_keys, old_runs = steps
        errors = [step for step in steps if isinstance(step, BaseException)]
        for error in errors:
            if not isinstance(error, LifecycleError):
                raise error
            report.failures.append({"guestId": "-", "action": "housekeeping", "reason": error.message})
        sent = len(published) + sum(n for n in (sent_now, drained) if isinstance(n, int))
        expired = expired_keys if isinstance(expired_keys, int) else 0
        removed = old_runs if isinstance(old_runs, int) else 0
        report.repaired = {**report.repaired, **({"events sent": sent} if sent else {}),
                           **({"idempotency keys expired": expired} if expired else {}),
                           **({"old runs and plans removed": removed} if removed else {})}

    async def _purge_runs(self, now: datetime) -> int:
        return await self._runs.purge(now) if self._runs is not None else 0

    # --- repair ----------------------------------------------------------------------------------
    async def _repair(self, now: datetime, pending_operations: list[str], report: SweepReport) -> None:
        """Resume operations left under way (found in the records the survey read) and finish group and attribute
        work (found through its index), then resolve invitations whose owner died."""
        counts: Counter[str] = Counter()
        limit = self._settings.expiry_max_actions_per_run
        stale = now - timedelta(seconds=self._tuning.claim_stale_seconds)
        pending_work, stale_claims = await asyncio.gather(self._records.store.due(IndexKind.REPAIR, now, limit),
                                                          self._records.store.stale_claims(stale, limit))
        ids = list(dict.fromkeys([*pending_operations, *pending_work]))[:limit]
        for guest in await self._load_many(ids, report):
            await self._repair_guest(guest, report, counts)
        for claim in stale_claims:
            try:
                counts[f"claim {await self._invitations.resolve_stale_claim(claim)}"] += 1
            except Exception as exc:  # noqa: BLE001 - one bad record never stops the sweep
                _report_failure(report, claim.email, "resolve claim", exc)
        report.repaired = dict(counts)

    async def _repair_guest(self, guest: Guest, report: SweepReport, counts: Counter[str]) -> None:
        try:
            operation = self._operations.resumable(guest)
            if operation is not None:
                await self._operations.run(operation, guest.id, ACTOR)
                counts[f"resumed {operation.name}"] += 1
                guest = await self._records.load(guest.id)
            if guest.has_pending_graph_work:
                finished = await self._provisioner.finish(guest, actor=ACTOR)
                counts["groups finished" if not finished.pending_groups else "groups still pending"] += 1
        except Exception as exc:  # noqa: BLE001 - one bad record never stops the sweep
            _report_failure(report, guest.id, "repair", exc)


def guests_under_way(graph_calls_in_flight: int) -> int:
    """Guests the sweep works on at once: twice the Graph calls in flight, so that storage work overlaps Graph
    calls; one at a time when Graph gets one call at a time."""
    return 1 if graph_calls_in_flight <= 1 else graph_calls_in_flight * GUESTS_PER_GRAPH_SLOT


def _pending_operations(records: list[Guest]) -> list[str]:
    """Ids of the records with an operation recorded as under way, longest under way first."""
    pending = [g for g in records if g.pending_action]
    return [g.id for g in sorted(pending, key=lambda g: (g.pending_since or g.updated_at or _EPOCH, g.id))]


def _plannable(guests: list[Guest], now: datetime, policy: ExpiryPolicy,
               unreadable: list[tuple[str, str]]) -> list[Guest]:
    """The records the plan can reason about; one whose dates break the arithmetic is set aside as unreadable."""
    kept = []
    for guest in guests:
        try:
            due_actions(guest, now, policy)
        except (ValueError, OverflowError) as exc:
            unreadable.append((guest.id, f"{type(exc).__name__}: {exc}"))
            continue
        kept.append(guest)
    return kept


def _report_failure(report: SweepReport, guest_id: str, action: str, exc: Exception) -> None:
    """Record one guest's failure in the report; the sweep goes on with the others."""
    reason = exc.message if isinstance(exc, LifecycleError) else f"{type(exc).__name__}: {exc}"
    if not isinstance(exc, LifecycleError):
        log.error("sweep: unexpected error", guestId=guest_id, action=action, error=reason)
    report.failures.append({"guestId": guest_id, "action": action, "reason": reason[:500]})


def _directory_change(guest: Guest, user: DirectoryUser | None, now: datetime) -> Drift | None:
    """How the directory says the record changed (`domain.drift`), or None. A record changed after the pass began
    (an HTTP operation meanwhile) is newer than the pass: it is left as it is, now and when the write is retried."""
    if guest.updated_at > now:
        return None
    found = drift(guest, directory_view(user), now)
    if found is None:
        return None
    change = found.transition

    def unless_newer(current: Guest) -> Guest:
        return current if current.updated_at > now else change(current)
    return replace(found, transition=unless_newer)


def _announcement_ended(now: datetime) -> Callable[[Guest], Guest]:
    """The guest has enough active sponsors again: its guest.unsponsored announcement ends (a later one starts a
    new grace period)."""
    return lambda g: g if g.unsponsored_at is None else replace(g, unsponsored_at=None, updated_at=now)


def _sponsors_change(guest: Guest, user: DirectoryUser | None, now: datetime, min_sponsors: int) -> Drift | None:
    """MIN_SPONSORS > 0: the record takes the sponsors the directory pass read (complete only below Graph's 20 per
    expansion); a guest that has enough again loses its guest.unsponsored announcement."""
    if min_sponsors <= 0 or user is None or user.sponsors is None or len(user.sponsors) >= 20 or guest.is_removed \
            or guest.updated_at > now:
        return None
    found = tuple(user.sponsors)
    if {s.lower() for s in found} == {s.lower() for s in guest.sponsors}:
        return None

    def transition(current: Guest) -> Guest:
        if current.updated_at > now:
            return current
        announced = current.unsponsored_at if len({s.lower() for s in found}) < min_sponsors else None
        return replace(current, sponsors=found, unsponsored_at=announced, updated_at=now)
    return Drift("sponsors", transition, None)


def _sign_ins(listing: GuestListing, policy: ExpiryPolicy) -> tuple[dict[str, SignIn] | None, str]:
    """The sign-ins the plan may use, and the report's inactivity line."""
    if policy.inactivity_days <= 0:
        return None, "off (INACTIVITY_DAYS=0)"
    if not listing.sign_ins_read:
        return None, f"unknown, nothing decided on inactivity: {listing.sign_in_note}"
    sign_ins = {user.id: user.sign_in for user in listing.users if user.sign_in is not None}
    if not sign_ins_known(sign_ins):
        return None, ("unknown, nothing decided on inactivity: Graph returned no sign-in date for any guest "
                      "(no Entra ID P1, or the data is not collected)")
    return sign_ins, f"{policy.inactivity_days} days, from the sign-in activity of {len(sign_ins)} guests"


def plan_from(survey: Survey, now: datetime, policy: ExpiryPolicy) -> Plan:
    """The plan of a survey: the pure planning function over the records as the directory says they are now."""
    return plan_expiry(survey.guests, now, policy, survey.tracked, sign_ins=survey.sign_ins,
                       excluded=survey.excluded, absent_sponsors=survey.absent_sponsors)


def evidence_for(survey: Survey, policy: ExpiryPolicy, run_id: str) -> EvidenceOf:
    """The evidence of each action of a plan made from `survey`: the record it was made from, its sign-ins."""
    guests = {g.id: g for g in survey.guests}
    sign_ins = survey.sign_ins or {}

    def of(action: Action) -> dict[str, Any]:
        return evidence.for_action(action, guests.get(action.guest_id), sign_ins.get(action.guest_id), policy,
                                   run_id)
    return of


def describe_plan(plan: Plan, survey: Survey, evidence_of: EvidenceOf | None = None) -> dict[str, Any]:
    """The plan as GET /api/expiry/plan and `expire --dry-run --json` give it: every action it would take, those the
    mass-deletion guard holds back marked `heldByGuard` (with `evidence_of`, each with its evidence)."""
    emails = {g.id: g.email for g in survey.guests}

    def described(action: Action, held: bool) -> dict[str, Any]:
        found = {"guestId": action.guest_id, "email": emails.get(action.guest_id, ""), "action": action.kind.value,
                 "reason": action.reason.value, "since": action.since.isoformat(), "heldByGuard": held}
        return {**found, "evidence": evidence_of(action)} if evidence_of else found

    return {
        "actions": [described(a, False) for a in plan.actions] + [described(a, True) for a in plan.held],
        "deferred": len(plan.deferred),
        "guard": {"tripped": plan.guard_tripped, "message": plan.guard_message},
        "excluded": [{"guestId": e.guest_id, "group": e.group_id, "action": e.kind.value, "reason": e.reason.value}
                     for e in plan.excluded],
        "inactivity": survey.inactivity,
    }
