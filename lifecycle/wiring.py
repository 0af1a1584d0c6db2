"""Composition root: builds the services once per worker (per event loop) on first use, never at import time."""
from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, TypedDict

from lifecycle.config import Settings, Tuning
from lifecycle.domain.model import utcnow
from lifecycle.http.idempotency import Idempotency
from lifecycle.logs import quiet_dependency_loggers
from lifecycle.ports import AuditLog, Directory, EventPublisher, GuestStore, IdempotencyStore, RunStore, TokenCheck
from lifecycle.services.adoption import AdoptionService
from lifecycle.services.approval import PlanApprovals
from lifecycle.services.audit import Audit
from lifecycle.services.dispatch import EventDispatcher
from lifecycle.services.granting import GrantingOperations
from lifecycle.services.groups import GroupService
from lifecycle.services.invitations import InvitationService
from lifecycle.services.operations import GuestOperations
from lifecycle.services.provisioning import Provisioner
from lifecycle.services.records import GuestRecords
from lifecycle.services.run_record import RunRecorder
from lifecycle.services.sponsorship import Sponsorship
from lifecycle.services.sweep import ExpirySweep
from lifecycle.services.views import GuestView

if TYPE_CHECKING:
    from lifecycle.adapters.identity import BoundedCredential


@dataclass
class Services:
    settings: Settings
    clock: Callable[[], datetime]
    records: GuestRecords
    directory: Directory
    audit: Audit
    invitations: InvitationService
    groups: GroupService
    provisioner: Provisioner
    operations: GuestOperations
    granting: GrantingOperations
    expiry: ExpirySweep
    dispatcher: EventDispatcher
    idempotency: Idempotency
    adoption: AdoptionService
    views: GuestView
    sponsorship: Sponsorship
    approvals: PlanApprovals
    closers: list[Callable[[], Any]] = field(default_factory=list)

    async def close(self) -> None:
        for close in self.closers:
            await close()


@dataclass
class Adapters:
    """The ports the services run on; a port left None is built on its real adapter."""

    store: GuestStore | None = None
    directory: Directory | None = None
    audit: AuditLog | None = None
    publisher: EventPublisher | None = None
    idempotency_store: IdempotencyStore | None = None
    token_check: TokenCheck | None = None
    runs: RunStore | None = None
    closers: list[Callable[[], Any]] = field(default_factory=list)

    def complete(self, settings: Settings, tuning: Tuning) -> Adapters:
        credential = self._credential(settings, tuning)
        if self.token_check is None:
            from lifecycle.adapters.identity import GraphTokenCheck

            self.token_check = GraphTokenCheck(settings, credential if self.directory is None else None)
        if self.store is None or self.audit is None or self.idempotency_store is None or self.runs is None:
            from lifecycle.adapters.tables.audit import TableAuditLog
            from lifecycle.adapters.tables.client import LifecycleTables, build_service_client
            from lifecycle.adapters.tables.idempotency import TableIdempotencyStore
            from lifecycle.adapters.tables.runs import TableRunStore
            from lifecycle.adapters.tables.store import TableGuestStore

            tables = LifecycleTables(build_service_client(settings, credential), settings)
            self.closers.append(tables.close)
            self.store = self.store or TableGuestStore(tables)
            self.audit = self.audit or TableAuditLog(tables)
            self.idempotency_store = self.idempotency_store or TableIdempotencyStore(tables)
            self.runs = self.runs or TableRunStore(tables)
        if self.publisher is None:
            from lifecycle.adapters.queue import QueueEventPublisher

            self.publisher = QueueEventPublisher(settings, credential)
            self.closers.append(self.publisher.close)
        if self.directory is None:
            from lifecycle.adapters.graph.directory import GraphDirectory
            from lifecycle.adapters.graph.retry import GraphRetryPolicy

            self.directory = GraphDirectory(settings, GraphRetryPolicy(
                attempts=tuning.graph_retry_attempts, budget_seconds=tuning.graph_retry_budget_seconds), credential)
            self.closers.append(self.directory.close)
        if credential is not None:
            self.closers.append(credential.close)
        return self

    def _credential(self, settings: Settings, tuning: Tuning) -> BoundedCredential | None:
        """The one credential the real adapters share (None when none of them needs Azure), its token requests
        bounded by `tuning`."""
        from lifecycle.adapters.credentials import azure_credential

        real_storage = None in (self.store, self.audit, self.idempotency_store, self.publisher, self.runs)
        wanted = (real_storage and settings.storage_uses_identity) or (
            self.directory is None and not settings.graph_uses_development_token)
        return azure_credential(settings, tuning) if wanted else None


class _Needs(TypedDict):
    """What every service is built on."""

    records: GuestRecords
    directory: Directory
    audit: Audit
    settings: Settings
    clock: Callable[[], datetime]


def build_services(settings: Settings, *, store: GuestStore | None = None, directory: Directory | None = None,
                   audit: AuditLog | None = None, publisher: EventPublisher | None = None,
                   idempotency_store: IdempotencyStore | None = None, tuning: Tuning | None = None,
                   clock: Callable[[], datetime] = utcnow, token_check: TokenCheck | None = None,
                   runs: RunStore | None = None) -> Services:
    """Wire the services to real adapters, or to the ports given (fakes in tests)."""
    quiet_dependency_loggers()
    tuning = tuning or Tuning()
    ports = Adapters(store, directory, audit, publisher, idempotency_store, token_check, runs).complete(settings,
                                                                                                         tuning)
    assert ports.store and ports.directory and ports.audit and ports.publisher and ports.idempotency_store
    assert ports.token_check and ports.runs
    records = GuestRecords(ports.store, clock, tuning.save_attempts, fallback_notify=settings.fallback_notify,
                           grace_days=settings.expiry_grace_days)
    audit = Audit(ports.audit, clock)
    needs = _Needs(records=records, directory=ports.directory, audit=audit, settings=settings, clock=clock)
    provisioner = Provisioner(**needs, tuning=tuning)
    invitations = InvitationService(**needs, tuning=tuning, provisioner=provisioner)
    operations = GuestOperations(**needs, tuning=tuning)
    dispatcher = EventDispatcher(ports.store, ports.publisher)
    recorder = RunRecorder(ports.runs, settings, clock)
    expiry = ExpirySweep(**needs, tuning=tuning, operations=operations, provisioner=provisioner,
                         invitations=invitations, dispatcher=dispatcher, idempotency_store=ports.idempotency_store,
                         runs=recorder)
    granting = GrantingOperations(records=records, directory=ports.directory, settings=settings,
                                  operations=operations)
    return Services(**needs, invitations=invitations, groups=GroupService(**needs, provisioner=provisioner),
                    provisioner=provisioner, operations=operations, granting=granting,
                    expiry=expiry, dispatcher=dispatcher, idempotency=Idempotency(
                        ports.idempotency_store, clock, timedelta(seconds=tuning.idempotency_lease_seconds)),
                    adoption=AdoptionService(**needs, policy=expiry.policy(None, False)),
                    views=GuestView(records, provisioner, ports.token_check, tuning.health_check_seconds,
                                    ports.directory, settings.managed_group_ids, audit, ports.runs),
                    sponsorship=Sponsorship(**needs, operations=operations, granting=granting),
                    approvals=PlanApprovals(records=records, audit=audit, operations=operations, expiry=expiry,
                                            store=ports.runs, recorder=recorder, settings=settings, clock=clock),
                    closers=ports.closers)


class Container:
    """Hands out the Services of the running event loop; tests install their own factory."""

    def __init__(self) -> None:
        self._factory: Callable[[], Services] = lambda: build_services(Settings.from_env())
        self._by_loop: dict[asyncio.AbstractEventLoop, Services] = {}

    def get(self) -> Services:
        loop = asyncio.get_running_loop()
        if loop not in self._by_loop:
            for stale in [known for known in self._by_loop if known.is_closed()]:
                del self._by_loop[stale]
            self._by_loop[loop] = self._factory()
        return self._by_loop[loop]

    def use(self, factory: Callable[[], Services]) -> None:
        self._factory = factory
        self._by_loop.clear()

    def reset(self) -> None:
        self.use(lambda: build_services(Settings.from_env()))

    async def close_current(self) -> None:
        services = self._by_loop.pop(asyncio.get_running_loop(), None)
        if services is not None:
            await services.close()


container = Container()
