"""The expiry sweep: survey (the directory pass against every record, read only, in bounded memory), plan (the pure
planner), act (write what Graph shows, then each due action), repair and keep house, report (stored as a run)."""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, replace
from datetime import datetime, timedelta

from lifecycle.config import Settings, Tuning
from lifecycle.domain.planning import ExpiryPolicy, Plan
from lifecycle.domain.runs import new_id
from lifecycle.ports import Directory, Event, IdempotencyStore, RunRecord
from lifecycle.request_log import unit_of_work
from lifecycle.services.audit import Audit
from lifecycle.services.dispatch import EventDispatcher
from lifecycle.services.invitations import InvitationService
from lifecycle.services.operations import GuestOperations
from lifecycle.services.provisioning import Provisioner
from lifecycle.services.records import GuestRecords
from lifecycle.services.run_record import RunJournal, RunRecorder, lines_of, log_report, run_outcome, stored_report
from lifecycle.services.sweep.acting import ACTOR, SweepActor
from lifecycle.services.sweep.housekeeping import Housekeeper
from lifecycle.services.sweep.planned import describe_plan, evidence_for, plan_from, report_plan
from lifecycle.services.sweep.repair import Repairer
from lifecycle.services.sweep.report import SweepReport, log, report_failure
from lifecycle.services.sweep.survey import Survey, SurveyReader

__all__ = ["ExpirySweep", "Survey", "SweepReport", "describe_plan", "evidence_for", "plan_from"]


def _since(started: float) -> float:
    return round(time.perf_counter() - started, 3)


class ExpirySweep:
    def __init__(self, *, records: GuestRecords, directory: Directory, audit: Audit, settings: Settings,
                 tuning: Tuning, clock: Callable[[], datetime], operations: GuestOperations, provisioner: Provisioner,
                 invitations: InvitationService, dispatcher: EventDispatcher,
                 idempotency_store: IdempotencyStore, runs: RunRecorder | None = None) -> None:
        self._settings, self._clock, self._runs = settings, clock, runs
        self._reader = SurveyReader(records=records, directory=directory, settings=settings)
        self._actor = SweepActor(records=records, directory=directory, audit=audit, settings=settings, clock=clock,
                                 operations=operations, dispatcher=dispatcher)
        self._repairer = Repairer(records=records, settings=settings, tuning=tuning, operations=operations,
                                  provisioner=provisioner, invitations=invitations)
        self._housekeeper = Housekeeper(audit=audit, settings=settings, clock=clock, dispatcher=dispatcher,
                                        idempotency_store=idempotency_store, runs=runs)

    def policy(self, dry_run: bool | None, override_guard: bool) -> ExpiryPolicy:
        s = self._settings
        return ExpiryPolicy(grace_days=s.expiry_grace_days, redeem_days=s.invite_redeem_days,
                            notice_days=s.expiry_notice_days, max_actions=s.expiry_max_actions_per_run,
                            guard_percent=s.expiry_guard_percent, guard_min=s.expiry_guard_min,
                            guard_window=timedelta(hours=s.expiry_guard_window_hours),
                            dry_run=s.expiry_dry_run if dry_run is None else dry_run, override_guard=override_guard,
                            inactivity_days=s.inactivity_days, attestation_days=s.attestation_days,
                            min_sponsors=s.min_sponsors)

    async def survey(self, now: datetime, policy: ExpiryPolicy) -> Survey:
        """Read the directory's guests once, the exclusions once, every record (a page at a time); nothing is
        written."""
        return await self._reader.survey(now, policy)

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
                report_failure(report, "-", "directory pass", exc)
                return self._finish(report)
            started = time.perf_counter()
            plan = plan_from(survey, now, policy)
            report_plan(plan, survey, report)
            report.seconds = {**survey.seconds, "plan": _since(started)}
            if policy.dry_run:
                report.plan = describe_plan(plan, survey)
                return self._finish(report)
            started = time.perf_counter()
            await self._enforce(plan, survey, now, policy, report, journal)
            report.seconds["act"] = _since(started)
            return self._finish(report)
        finally:
            await self._record(report, plan, survey, journal)

    async def plan(self, *, override_guard: bool = False) -> tuple[Plan, Survey]:
        """What the next sweep would do, from the same directory pass and planning function; writes nothing."""
        now = self._clock()
        policy = self.policy(True, override_guard)
        survey = await self.survey(now, policy)
        return plan_from(survey, now, policy), survey

    async def _enforce(self, plan: Plan, survey: Survey, now: datetime, policy: ExpiryPolicy, report: SweepReport,
                       journal: RunJournal) -> None:
        """Write what the directory pass found, take the plan's actions (only notices when the guard tripped),
        record the exclusions, repair, keep house."""
        evidence_of = evidence_for(survey, policy, journal.run_id)
        published: list[Event] = []
        with unit_of_work() as written:
            try:
                records = await self._actor.reconcile(survey, report)
                await self._actor.act(plan, records, now, report, published, evidence_of, journal)
                if not plan.guard_tripped:
                    await self._housekeeper.audit_exclusions(plan, survey, policy, journal.run_id, now)
                    await self._repairer.repair(now, survey.pending_operations, report)
            finally:
                await self._housekeeper.keep_house(written, published, now, report)

    def _finish(self, report: SweepReport) -> SweepReport:
        report.finished_at = self._clock().isoformat()
        return report

    async def _record(self, report: SweepReport, plan: Plan | None, survey: Survey | None,
                      journal: RunJournal) -> None:
        """Store the run (its report and lines) and log its report once, under run_record.REPORT_EVENT."""
        finished = datetime.fromisoformat(report.finished_at) if report.finished_at else self._clock()
        body = asdict(report)
        run = RunRecord(run_id=journal.run_id, trigger=journal.trigger, started_at=journal.started_at,
                        finished_at=finished, dry_run=report.dry_run,
                        outcome=run_outcome(report.dry_run, report.guard_tripped, report.failures),
                        actor=journal.actor, report=stored_report(body),
                        lines=tuple(lines_of(plan, survey.emails if survey else {}, journal, body, report.dry_run)))
        problem = await self._runs.record(run) if self._runs is not None else ""
        if problem:
            report.failures.append({"guestId": "-", "action": "record run", "reason": problem[:500]})
        (log.error if report.guard_tripped or report.failures else log.info)("expiry sweep", **asdict(report))
        log_report(run if not problem else replace(run, outcome="failed"))
