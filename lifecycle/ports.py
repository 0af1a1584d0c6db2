"""Ports: what the services need from the outside world. Adapters implement them; fakes obey the same contracts."""
from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol

from lifecycle.domain.events import Event  # the domain's type, re-exported for the ports that carry events
from lifecycle.domain.model import EmailClaim, Guest, GuestState, IndexKind
from lifecycle.domain.planning import SignIn
from lifecycle.domain.policy import lookup_rank, own_addresses, owns_address
from lifecycle.errors import GraphError


# --- Graph -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class DirectoryUser:
    """What the app reads of an Entra user. Always fetched with an explicit `$select`."""

    id: str
    user_type: str
    display_name: str = ""
    mail: str = ""
    other_mails: tuple[str, ...] = ()
    user_principal_name: str = ""
    external_user_state: str | None = None
    account_enabled: bool | None = None
    created_at: datetime | None = None
    sign_in: SignIn | None = None  # only when signInActivity was selected
    sponsors: tuple[str, ...] | None = None  # only when sponsors were expanded (at most 20)
    proxy_addresses: tuple[str, ...] = ()  # its SMTP proxyAddresses without the `SMTP:` prefix (when selected)

    @property
    def is_guest(self) -> bool:
        return self.user_type.lower() == "guest"

    @property
    def email(self) -> str:
        """mail, else the first of otherMails."""
        return self.mail or (self.other_mails[0] if self.other_mails else "")

    @property
    def own_addresses(self) -> tuple[str, ...]:
        """What the domain lists judge: mail, otherMails and the address its userPrincipalName encodes."""
        return own_addresses(self.mail, self.other_mails, self.user_principal_name)

    def owns(self, email: str) -> bool:
        """`email` is its mail, its userPrincipalName or one of its SMTP proxy addresses (not only in otherMails)."""
        return owns_address(email, mail=self.mail, user_principal_name=self.user_principal_name,
                            proxy_addresses=self.proxy_addresses)

    def lookup_rank(self, email: str) -> int:
        """Its place among the users an email lookup finds (`policy.lookup_rank`: a member owning it first)."""
        return lookup_rank(is_guest=self.is_guest, owns=self.owns(email))


@dataclass(frozen=True)
class GuestListing:
    """One paged pass over the directory's guests.

    `sign_ins_read` is False when signInActivity was asked for and the tenant could not return it (no Entra ID P1,
    or the permission missing): `sign_in_note` says why, and no user carries sign-in data."""

    users: list[DirectoryUser]
    requests: int
    sign_ins_read: bool = False
    sign_in_note: str = ""


@dataclass(frozen=True)
class GuestScan:
    """What one directory pass handed on page by page (`Directory.scan_guests`): how many requests it took, over
    how many ranges read at the same time, and whether sign-in activity was read (`sign_in_note` says why not)."""

    guests: int
    requests: int
    ranges: int = 1
    sign_ins_read: bool = False
    sign_in_note: str = ""


OnDirectoryPage = Callable[[Sequence[DirectoryUser]], None]


@dataclass(frozen=True)
class InvitationRequest:
    email: str
    redirect_url: str
    display_name: str | None = None
    send_message: bool = False
    message: str | None = None
    message_language: str | None = None
    cc_recipients: tuple[str, ...] = ()
    sponsors: tuple[str, ...] = ()


@dataclass(frozen=True)
class Invitation:
    """Graph's answer to an invitation. `status` is the invitation's own vocabulary (PendingAcceptance, Completed,
    InProgress, Error), never the user's `externalUserState`: Completed means the user had already redeemed."""

    user_id: str
    redeem_url: str
    status: str

    @property
    def completed(self) -> bool:
        return self.status == "Completed"


@dataclass(frozen=True)
class Change:
    """One Graph write for a user: an add to the group `target`, a removal from it, or the user's attributes
    (`target` is then the user's id)."""

    kind: Literal["add", "remove", "attributes"]
    target: str


@dataclass(frozen=True)
class UserChanges:
    """A user's pending Graph writes: groups to add the user to and to remove it from, and attributes to PATCH
    (Graph property names; empty: none)."""

    user_id: str
    add: tuple[str, ...] = ()
    remove: tuple[str, ...] = ()
    attributes: dict[str, Any] = field(default_factory=dict)

    @property
    def changes(self) -> tuple[Change, ...]:
        """The writes, adds first, then removals, then the attributes."""
        return (*(Change("add", g) for g in self.add), *(Change("remove", g) for g in self.remove),
                *((Change("attributes", self.user_id),) if self.attributes else ()))

    def only(self, changes: Sequence[Change]) -> UserChanges:
        """These writes of the user alone (the others left out)."""
        return UserChanges(self.user_id, tuple(c.target for c in changes if c.kind == "add"),
                           tuple(c.target for c in changes if c.kind == "remove"),
                           self.attributes if any(c.kind == "attributes" for c in changes) else {})


@dataclass(frozen=True)
class ChangeOutcome:
    """How one write ended: done (`error` None), or the error its single call would have raised."""

    change: Change
    error: GraphError | None = None

    @property
    def done(self) -> bool:
        return self.error is None


class Directory(Protocol):
    """Microsoft Graph as the app uses it. Implementations raise only `lifecycle.errors` types:
    GraphNotFound (object missing or not yet replicated), GraphBadRequest, GraphUnavailable (throttled past budget),
    GraphRejectedInput (a referenced sponsor or group that does not exist or refuses the write: final).
    tests/contract/test_directory_contract.py holds InMemoryDirectory and the Graph adapter to its reads and
    membership writes."""

    async def find_user_by_email(self, email: str) -> DirectoryUser | None:
        """The user whose mail, otherMails, userPrincipalName or SMTP proxy address is `email` (any case); None when
        there is none. When several are, the first by `DirectoryUser.lookup_rank`: a member who owns the address
        (its mail, userPrincipalName or an SMTP proxy address) before any guest (a guest that lists a member's address
        in otherMails never wins it), a guest before a member who only lists it in otherMails, then by id. The user
        carries its userPrincipalName and `proxy_addresses`. Quotes in the email are escaped, never a filter
        injection."""
    async def get_user(self, user_id: str) -> DirectoryUser | None:
        """The user (with userType, externalUserState, accountEnabled, mail, otherMails, userPrincipalName), or None
        when the id is unknown."""
    async def get_users(self, user_ids: Sequence[str]) -> dict[str, DirectoryUser | None]:
        """Each user as `get_user` reads it, by id (None: not in the directory), read together in as few requests
        as Graph allows (users lists filtered on `id in (...)`, 15 ids a request). Read-only; a list still
        throttled past the retry budget raises GraphUnavailable for the whole call."""
    async def last_sign_ins(self, user_ids: Sequence[str]) -> dict[str, datetime | None] | None:
        """Each user's last sign-in (`SignIn.last`; None: never signed in, or not in the directory), read in bulk
        (`id in` lists of 15 selecting signInActivity); None for all when the tenant cannot say (no Entra ID P1, or
        no AuditLog.Read.All). Read-only; raises GraphUnavailable when Graph stays unavailable."""
    async def absent_sponsors(self, sponsor_ids: Sequence[str]) -> set[str]:
        """Of `sponsor_ids`, those that no longer stand as a sponsor: a user whose account is disabled, or an id
        that is neither a user nor a group in the directory (deleted). Read in bulk: users by `id in` lists (15 ids
        a request), the ids no user answered for as independent group reads of a $batch (20 a request); never one
        request per sponsor. Read-only; raises GraphUnavailable when Graph stays unavailable."""
    async def invite(self, request: InvitationRequest) -> Invitation: ...
    async def reset_redemption(self, user_id: str, email: str, redirect_url: str) -> Invitation: ...
    async def add_sponsor(self, user_id: str, sponsor_id: str) -> None:
        """Idempotent: an existing sponsor is success; an unknown sponsor raises GraphRejectedInput."""
    async def update_user(self, user_id: str, fields: dict[str, Any]) -> None:
        """PATCH the user; `fields` uses Graph property names (accountEnabled, companyName, ...)."""
    async def revoke_sessions(self, user_id: str) -> None: ...
    async def block_sign_in(self, user_id: str) -> None:
        """Disable the account (accountEnabled false), then revoke its sign-in sessions, in one Graph round trip
        (a $batch, the revoke depending on the disable). Idempotent: yes (a repeat, or a retry after either step,
        leaves the same state). Raises what either step alone would: GraphNotFound for a user Graph does not know
        or does not show yet, GraphUnavailable when throttled past the retry budget, GraphBadRequest, GraphError."""
    async def delete_user(self, user_id: str) -> None: ...
    async def get_deleted_user(self, user_id: str) -> DirectoryUser | None: ...
    async def restore_user(self, user_id: str) -> None: ...
    async def add_member(self, group_id: str, user_id: str) -> None:
        """Idempotent: an existing membership is success. A group that does not exist (or refuses members) raises
        GraphRejectedInput (final); a user or group Graph does not show yet raises GraphNotFound (retry later)."""
    async def remove_member(self, group_id: str, user_id: str) -> None:
        """Idempotent: a missing membership is success; a missing group raises GraphNotFound."""
    async def group_exists(self, group_id: str) -> bool: ...
    async def group_problem(self, group_id: str) -> str:
        """Why the group cannot take member writes from the app, "" when it can: it does not exist, or Graph refuses
        its members whatever you retry (dynamic, synchronised from on-premises, role-assignable, mail-enabled
        security or distribution). Reads only; raises GraphUnavailable when Graph stays unavailable."""
    async def apply_changes(self, changes: UserChanges) -> list[ChangeOutcome]:
        """Make the user's writes (`changes.changes`) in as few Graph requests as it can: independent items of one
        $batch (at most 20 a batch, more in several), a single write as its own call. Returns one outcome per write,
        in that order: each ends as `add_member`, `remove_member` or `update_user` alone would (an existing
        membership added, or a missing one removed, is done; a missing or refusing group is GraphRejectedInput on
        an add; a removal from a missing group and a user Graph does not show yet are GraphNotFound; a refused
        attribute write is GraphBadRequest). Never raises for a write: a write throttled (429/503/504) is retried
        alone, the writes done are never sent again, and one still throttled past the retry budget ends
        GraphUnavailable. Idempotent: every write is."""
    async def list_guests(self, sign_in_activity: bool, sponsors: bool = False) -> GuestListing:
        """Every user with userType Guest, in one paged pass (large pages, only the properties the app needs: with
        mail, otherMails and userPrincipalName, which the domain lists judge).
        Read-only. With `sponsors` each user carries its sponsors' ids ($expand, at most 20 per user). With
        `sign_in_activity` it also reads signInActivity; a 403 for it (no Entra ID P1, or the
        permission missing) is not an error: the pass is made again without it and the listing says why.
        Raises GraphUnavailable (throttled past budget) or GraphError."""
    async def scan_guests(self, on_page: OnDirectoryPage, *, sign_in_activity: bool,
                          sponsors: bool = False) -> GuestScan:
        """Every user with userType Guest handed to `on_page` a page at a time, never holding more than a few pages:
        the directory is read in ranges at the same time (each range paged; pages of different ranges interleave),
        every guest exactly once. `on_page` is called from the event loop, never twice at once. Read-only. Users and
        options as `list_guests`; whether sign-in activity can be read is settled before any page is handed on (a
        403 for it: the pass goes on without it and the result says why). Raises GraphUnavailable (throttled past
        budget) or GraphError; pages handed on before a failure were handed on."""
    async def transitive_member_ids(self, group_id: str) -> set[str]:
        """Ids of the users that are members of the group, directly or through nested groups. Read-only.
        Raises GraphNotFound when the group does not exist."""
    async def sponsor_ids(self, user_id: str) -> tuple[str, ...]:
        """Ids of the user's sponsors. Read-only. Raises GraphNotFound when the user does not exist."""
    async def close(self) -> None: ...


class TokenCheck(Protocol):
    """Whether the app can have the Graph token it needs: asks its credential (whose cache serves the token after the
    first), never Graph itself."""

    async def graph_token(self, within: float) -> str:
        """"ok", or a status saying no token is asked for ("development-token", "not used"). Raises
        IdentityUnavailable when none can be had within `within` seconds."""


# --- Table Storage ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Page:
    guests: list[Guest]
    continuation_token: str | None
    unreadable: tuple[tuple[str, str], ...] = ()  # (guest id, error) of stored records that could not be read


@dataclass(frozen=True)
class GuestQuery:
    state: GuestState | None = None
    email: str | None = None
    expiring_before: datetime | None = None
    page_size: int = 100
    continuation_token: str | None = None


OnRecordPage = Callable[[Page], None]

TRANSACTION_LIMIT = 100
"""Operations one transaction of a GuestStore holds at most (Table Storage's entity-group maximum); the fake obeys it
too."""


class GuestStore(Protocol):
    """Durable guest records. Writes of a record are ETag-guarded (ConcurrencyConflict on a lost race) and keep the
    record's index rows and outbox events in the same transaction: a write that raises wrote none of them.
    A guarded write whose row has vanished lost a race too: ConcurrencyConflict, never an outage or a 404.
    tests/contract/test_guest_store_contract.py holds every adapter to this."""

    async def get(self, guest_id: str) -> Guest | None:
        """The record with its ETag, or None. UnreadableRecord (naming the id) when its stored row cannot be read."""
    async def get_claim(self, email: str) -> EmailClaim | None:
        """The email's claim with its ETag, or None (any characters, those Table keys forbid included)."""
    async def claim_email(self, claim: EmailClaim) -> EmailClaim:
        """Insert the claim; raises ConcurrencyConflict when another writer holds the email."""
    async def take_over_claim(self, claim: EmailClaim) -> EmailClaim:
        """Replace a (stale) claim guarded by its ETag; raises ConcurrencyConflict when it changed or is gone."""
    async def release_claim(self, claim: EmailClaim) -> None:
        """Delete the claim if it is still the version the caller holds (ConcurrencyConflict when another writer
        changed it). A claim already gone is success: releasing is idempotent."""
    async def create(self, guest: Guest, claim: EmailClaim | None, events: Sequence[Event] = ()) -> Guest:
        """Insert a new record with its index rows and events (ConcurrencyConflict if the id is tracked already) and
        link the claim to it: a claim read from storage (with its ETag) is updated, a new one (no ETag) is inserted.
        ConcurrencyConflict when another claim holds the email, or the claim read changed or vanished since (released
        by the sweep, or taken over): the caller no longer holds the email, and nothing is written. The events are
        the record's own (ValueError, nothing written, for an event of another guest).

        A record and its claim may live apart (the Table store keeps them in different partitions): the claim is
        held first, the record is written, then the claim is linked under its ETag. A crash in between leaves the
        record written and the claim unlinked; the claim turns stale, and a later `create` of the same id with that
        claim read from storage (what `InvitationService.resolve_stale_claim` does after taking it over) links it
        and returns the stored record (its events are not written again) instead of ConcurrencyConflict. Should
        the claim change in the instant between its check and its link, the record stays written (the durable
        record of what the caller did in Graph) and ConcurrencyConflict is raised: the claim's holder links it so."""
    async def save(self, guest: Guest, events: Sequence[Event] = ()) -> Guest:
        """Replace the record if its ETag still matches, moving its index rows and writing the events (its own:
        ValueError for an event of another guest). ConcurrencyConflict when the ETag is stale or None (a record never
        read from storage)."""
    async def save_all(self, guests: Sequence[Guest]) -> list[Guest]:
        """Replace several records (no events), each guarded by its ETag, in as few transactions as the store can:
        the Table store writes the records of each partition in one transaction (the partitions at the same time),
        the in-memory store all in one. Returns them saved, in the order given, when every transaction landed.
        ConcurrencyConflict when any ETag is stale or None: nothing of that record's transaction is saved (records of
        other partitions may be: re-read them, as after any conflict). ValueError, before anything is written, when
        the records of one transaction need more than it holds (TRANSACTION_LIMIT operations, index rows
        included)."""
    async def query(self, query: GuestQuery) -> Page:
        """A page of records in the store's order, stable from page to page and from one listing to the next (the
        Table store: partition after partition, each in id order; the in-memory store: id order); every record on
        exactly one page of a listing. With `state`, only that state. With `expiring_before`, live guests
        (invited, active) whose expiry is strictly before it, in expiry order. With `email`, the one record the
        email's claim is linked to (if it passes the other filters), on one page. `continuation_token` is opaque:
        one the store did not issue raises InvalidRequest. `unreadable` names (id, why) the stored rows in the page's
        range that could not be read, left out of `guests`; a damaged row never fails the page."""
    async def scan(self, on_page: OnRecordPage, *, page_size: int = 1000) -> int:
        """Every record (all states), handed to `on_page` a page at a time, never holding more than a few pages: the
        store reads its partitions at the same time, each paged; pages interleave, each record exactly once. A page's
        `unreadable` names the rows it could not read; its `continuation_token` is None. Returns the records handed
        on. `on_page` is called from the event loop, never twice at once. Read-only. Raises StorageUnavailable."""
    async def due(self, kind: IndexKind, until: datetime, limit: int) -> list[str]:
        """Guest ids whose index position of `kind` is at or before `until`, oldest first (then by id) across all
        partitions (read at the same time), at most `limit`."""
    async def stale_claims(self, older_than: datetime, limit: int) -> list[EmailClaim]:
        """Claims not linked to a record, claimed strictly before `older_than`, in email order, at most `limit` (the
        Table store reads every partition at the same time and merges them by key: an email with a character Table
        keys forbid sorts by its escape)."""
    async def count_tracked(self) -> int:
        """Guests that are invited, active or disabled (the base of the mass-deletion guard)."""
    async def ping(self) -> None:
        """Returns when storage answers; raises StorageUnavailable when it does not."""
    async def pending_events(self, limit: int) -> list[Event]:
        """Outbox events not yet dispatched, oldest first (by time, then id) across all partitions, at most
        `limit`."""
    async def remove_events(self, events: Sequence[Event]) -> None:
        """Delete dispatched events from the outbox (in as few storage calls as it can); one already removed is
        success. Raises StorageUnavailable; what it could not remove stays in the outbox (sent again later)."""


class EventPublisher(Protocol):
    """Delivers a lifecycle event to its consumers (a Storage Queue). At-least-once: consumers dedupe by id.
    Held to this by tests/contract/test_event_publisher_contract.py."""

    async def publish(self, event: Event) -> None:
        """Deliver the event whole (type, guest id, data, id, time), after those published before it; an event
        published twice is delivered twice. Raises StorageUnavailable when the queue cannot be reached."""
    async def close(self) -> None: ...


class IdempotencyStore(Protocol):
    """Records of requests made with an Idempotency-Key (any characters). Held to this by
    tests/contract/test_idempotency_store_contract.py."""

    async def claim(self, record: IdempotencyRecord) -> tuple[IdempotencyRecord, bool]:
        """Insert the record and return it with True; when the key is taken, return the stored one with False
        (its own fingerprint, whatever the new record's: the caller tells a reused key from a replay)."""
    async def replace(self, record: IdempotencyRecord) -> IdempotencyRecord:
        """Overwrite a record guarded by its ETag (ConcurrencyConflict when it changed or was released)."""
    async def release(self, record: IdempotencyRecord) -> None:
        """Delete the key's record if it is still the version the caller holds (its ETag; a record without one is
        deleted whatever its version): ConcurrencyConflict when another request took the key over since, whose
        record stays. A key already released is success."""
    async def purge_expired(self, now: datetime, limit: int) -> int:
        """Delete up to `limit` records that expired strictly before `now`; return how many."""


@dataclass(frozen=True)
class IdempotencyRecord:
    key: str
    fingerprint: str
    status: str  # "in_progress" | "completed"
    expires_at: datetime
    started_at: datetime
    response_status: int = 0
    response_headers: dict[str, str] = field(default_factory=dict)
    response_body: str = ""
    etag: str | None = None


@dataclass(frozen=True)
class AuditEntry:
    actor: str
    action: str
    target: str
    outcome: str
    at: datetime
    graph_request_ids: tuple[str, ...] = ()
    details: dict[str, Any] = field(default_factory=dict)


AUDIT_DETAILS_MAX_CHARS = 30_000


def storable_details(details: dict[str, Any]) -> dict[str, Any]:
    """An entry's details as an audit log keeps them: JSON, a value that is not JSON as its text, and details whose
    JSON is longer than AUDIT_DETAILS_MAX_CHARS as `{"truncated": <its first AUDIT_DETAILS_MAX_CHARS characters>}`."""
    text = json.dumps(details, default=str)
    if len(text) > AUDIT_DETAILS_MAX_CHARS:
        return {"truncated": text[:AUDIT_DETAILS_MAX_CHARS]}
    return dict(json.loads(text))


class AuditLog(Protocol):
    """Append-only history of every mutation."""

    async def record(self, entry: AuditEntry) -> None:
        """Append the entry, its details kept as `storable_details` says."""
    async def entries_for(self, target: str) -> list[AuditEntry]:
        """The target's entries, oldest first (by `at`)."""
    async def history(self, target: str, page_size: int, continuation_token: str | None = None) -> AuditPage:
        """A page of the target's entries, newest first (by `at`; entries of the same instant in any order), at
        most `page_size`; `continuation_token` of the previous page for the next (None: the first). A token the log
        did not issue raises InvalidRequest. tests/contract/test_audit_log_contract.py holds both adapters to it."""


@dataclass(frozen=True)
class AuditPage:
    entries: list[AuditEntry]
    continuation_token: str | None = None


# --- runs of the sweep and plans waiting for approval ----------------------------------------------
@dataclass(frozen=True)
class RunRecord:
    """One sweep (timer, command line, dry run, approved plan): its report and, per guest, what was planned and what
    happened (`lines`, JSON objects)."""

    run_id: str
    trigger: str  # timer | cli | approved-plan
    started_at: datetime
    finished_at: datetime
    dry_run: bool
    outcome: str  # succeeded | failed | guard-tripped | dry-run
    actor: str
    report: dict[str, Any]
    lines: tuple[dict[str, Any], ...] = ()


@dataclass(frozen=True)
class RunPage:
    runs: list[RunRecord]  # without their lines
    continuation_token: str | None = None


@dataclass(frozen=True)
class StoredPlan:
    """A plan as GET /api/expiry/plan made it: its actions (JSON objects, each with the ETag of the record it was
    made from) and whether, when and by whom it was approved."""

    plan_id: str
    created_at: datetime
    created_by: str
    summary: dict[str, Any]
    actions: tuple[dict[str, Any], ...] = ()
    approved_by: str = ""
    approved_at: datetime | None = None
    reason: str = ""
    run_id: str = ""
    etag: str | None = None

    @property
    def approved(self) -> bool:
        return self.approved_at is not None


class RunStore(Protocol):
    """Past sweeps and stored plans. Held to this by tests/contract/test_run_store_contract.py. Every method may
    raise StorageUnavailable."""

    async def save_run(self, run: RunRecord) -> None:
        """Store the run with all its lines, however many (in as many rows as Table Storage's limits need); saving
        the same run id again replaces it."""
    async def runs(self, page_size: int, continuation_token: str | None = None) -> RunPage:
        """A page of runs, newest first (by `started_at`), without their lines. InvalidRequest for a token the store
        did not issue."""
    async def get_run(self, run_id: str) -> RunRecord | None:
        """The run with its lines in the order saved, or None."""
    async def save_plan(self, plan: StoredPlan) -> StoredPlan:
        """Insert the plan with all its actions; returned with its ETag (ConcurrencyConflict if the id exists)."""
    async def get_plan(self, plan_id: str) -> StoredPlan | None:
        """The plan with its actions and ETag, or None."""
    async def mark_approved(self, plan: StoredPlan) -> StoredPlan:
        """Write the plan's approval (approved_by, approved_at, reason, run_id) guarded by its ETag: exactly one of
        two approvals succeeds, the other raises ConcurrencyConflict."""
    async def purge(self, runs_before: datetime, plans_before: datetime, limit: int) -> int:
        """Delete up to `limit` runs started strictly before `runs_before` and plans made strictly before
        `plans_before`, each with its lines; return how many runs and plans were deleted."""
