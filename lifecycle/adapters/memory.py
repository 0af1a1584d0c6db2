"""In-memory adapters that obey the same ports as the real ones (for fast tests and dry wiring)."""
from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from lifecycle.adapters.graph.ranges import FIRST_CHARACTERS, SINGLE_RANGE_PAGES, range_of
from lifecycle.domain.model import EmailClaim, Guest, IndexKind
from lifecycle.domain.planning import SignIn
from lifecycle.errors import (
    ConcurrencyConflict,
    GraphBadRequest,
    GraphConflict,
    GraphError,
    GraphNotFound,
    GraphPolicyRefusal,
    GraphRejectedInput,
    GraphUnavailable,
    InvalidRequest,
    UnreadableRecord,
)
from lifecycle.ports import (
    TRANSACTION_LIMIT,
    AuditEntry,
    AuditPage,
    Change,
    ChangeOutcome,
    DirectoryUser,
    Event,
    GuestListing,
    GuestQuery,
    GuestScan,
    IdempotencyRecord,
    Invitation,
    InvitationRequest,
    OnDirectoryPage,
    OnRecordPage,
    Page,
    UserChanges,
    storable_details,
)

if TYPE_CHECKING:
    from lifecycle.ports import AuditLog, Directory, EventPublisher, GuestStore, IdempotencyStore

_BATCH_ATTEMPTS = 6  # GraphRetryPolicy.attempts of the Graph adapter
_READ_ONLY_USER_PROPERTIES = frozenset({"id", "createdDateTime", "externalUserState", "signInActivity"})
_CHANGE_KINDS = {"add": "add", "remove": "remove", "attributes": "update"}  # a change's kind in `throttled`


def _etag() -> str:
    return uuid.uuid4().hex


class InMemoryGuestStore:
    """GuestStore in a dict, with the same ETag and index rules as the Table adapter (one partition: a save_all is
    one transaction, all or none). `damaged` holds the ids of stored rows that cannot be read (id -> why), as a
    hand-edited Table row: `get` raises UnreadableRecord for them, and an unfiltered listing names them in
    `Page.unreadable`."""

    def __init__(self) -> None:
        self.guests: dict[str, Guest] = {}
        self.claims: dict[str, EmailClaim] = {}
        self.index: dict[str, set[tuple[IndexKind, datetime]]] = {}  # guest id -> its index positions
        self.outbox: list[Event] = []
        self.damaged: dict[str, str] = {}

    async def ping(self) -> None:
        return None

    async def get(self, guest_id: str) -> Guest | None:
        if guest_id in self.damaged:
            reason = self.damaged[guest_id]
            raise UnreadableRecord(f"the stored record of guest '{guest_id}' cannot be read ({reason}); an operator "
                                   "must repair or remove its row in the guests table",
                                   details=[{"guestId": guest_id, "reason": reason}])
        return self.guests.get(guest_id)

    async def get_claim(self, email: str) -> EmailClaim | None:
        return self.claims.get(email)

    async def claim_email(self, claim: EmailClaim) -> EmailClaim:
        if claim.email in self.claims:
            raise ConcurrencyConflict("claimed already")
        self.claims[claim.email] = replace(claim, etag=_etag())
        return self.claims[claim.email]

    async def take_over_claim(self, claim: EmailClaim) -> EmailClaim:
        self._check_claim(claim)
        self.claims[claim.email] = replace(claim, etag=_etag())
        return self.claims[claim.email]

    async def release_claim(self, claim: EmailClaim) -> None:
        if claim.email in self.claims:
            self._check_claim(claim)
            del self.claims[claim.email]

    def _check_claim(self, claim: EmailClaim) -> None:
        current = self.claims.get(claim.email)
        if current is None or current.etag != claim.etag:
            raise ConcurrencyConflict("the claim changed")

    async def create(self, guest: Guest, claim: EmailClaim | None, events: Sequence[Event] = ()) -> Guest:
        _own_events(guest, events)
        if claim is not None and claim.etag is None and claim.email in self.claims:
            raise ConcurrencyConflict("another claim holds the email")
        if claim is not None and claim.etag is not None:
            self._check_claim(claim)
        stored = self.guests.get(guest.id)
        if stored is not None:
            recovering = claim is not None and claim.etag is not None and stored.email == claim.email
            if not recovering or claim is None or claim.guest_id not in ("", guest.id):
                raise ConcurrencyConflict("the guest is tracked already")
            self.claims[claim.email] = replace(claim, guest_id=guest.id, etag=_etag())  # an earlier create's link
            return stored
        if claim is not None:
            self.claims[claim.email] = replace(claim, guest_id=guest.id, etag=_etag())
        return self._write(replace(guest, etag=_etag()), events)

    async def save(self, guest: Guest, events: Sequence[Event] = ()) -> Guest:
        _own_events(guest, events)
        current = self.guests.get(guest.id)
        if current is None or current.etag != guest.etag:
            raise ConcurrencyConflict("the guest changed")
        return self._write(replace(guest, etag=_etag()), events)

    async def save_all(self, guests: Sequence[Guest]) -> list[Guest]:
        operations = sum(1 + len(self.index.get(g.id, set()) ^ _positions(g)) for g in guests)
        if operations > TRANSACTION_LIMIT:
            raise ValueError(f"{operations} operations do not fit one transaction")
        if any(self.guests.get(g.id) is None or self.guests[g.id].etag != g.etag for g in guests):
            raise ConcurrencyConflict("a guest changed")
        return [self._write(replace(guest, etag=_etag()), ()) for guest in guests]

    def _write(self, guest: Guest, events: Sequence[Event]) -> Guest:
        self.guests[guest.id] = guest
        self.index[guest.id] = _positions(guest)
        self.outbox.extend(events)
        return guest

    async def query(self, query: GuestQuery) -> Page:
        guests = sorted(self.guests.values(), key=lambda g: g.id)
        if query.email:
            claim = self.claims.get(query.email)
            guests = [self.guests[claim.guest_id]] if claim and claim.guest_id in self.guests else []
        if query.state:
            guests = [g for g in guests if g.state is query.state]
        if query.expiring_before:
            guests = sorted((g for g in guests if g.is_live and g.expires_at and g.expires_at < query.expiring_before),
                            key=lambda g: (g.expires_at, g.id))
        if query.email:
            return Page(guests, None)
        rows = guests if query.state or query.expiring_before else self._rows()  # a damaged row's state: unknown
        start = _offset(query.continuation_token)
        end = start + query.page_size
        page = rows[start:end]
        return Page([g for g in page if isinstance(g, Guest)], f"{_TOKEN_PREFIX}{end}" if end < len(rows) else None,
                    tuple((row, self.damaged[row]) for row in page if isinstance(row, str)))

    def _rows(self) -> list[Guest | str]:
        """Every stored row in id order: a record, or the id of a damaged one."""
        return sorted([*self.guests.values(), *self.damaged], key=lambda row: row if isinstance(row, str) else row.id)

    async def scan(self, on_page: OnRecordPage, *, page_size: int = 1000) -> int:
        rows, handed = self._rows(), 0
        for start in range(0, len(rows), page_size):
            page = rows[start:start + page_size]
            guests = [row for row in page if isinstance(row, Guest)]
            on_page(Page(guests, None, tuple((row, self.damaged[row]) for row in page if isinstance(row, str))))
            handed += len(guests)
        return handed

    async def due(self, kind: IndexKind, until: datetime, limit: int) -> list[str]:
        due = sorted((moment, guest_id) for guest_id, positions in self.index.items()
                     for position_kind, moment in positions if position_kind is kind and moment <= until)
        return [guest_id for _, guest_id in due[:limit]]

    async def stale_claims(self, older_than: datetime, limit: int) -> list[EmailClaim]:
        stale = [c for c in self.claims.values() if not c.is_linked and c.claimed_at < older_than]
        return sorted(stale, key=lambda c: c.email)[:limit]

    async def count_tracked(self) -> int:
        return sum(1 for g in self.guests.values() if g.is_tracked)

    async def pending_events(self, limit: int) -> list[Event]:
        return sorted(self.outbox, key=lambda e: (e.time or datetime.max.replace(tzinfo=UTC), e.id))[:limit]

    async def remove_events(self, events: Sequence[Event]) -> None:
        removed = {event.id for event in events}
        self.outbox = [e for e in self.outbox if e.id not in removed]


def _own_events(guest: Guest, events: Sequence[Event]) -> None:
    if any(event.guest_id != guest.id for event in events):
        raise ValueError("a record is written with its own events only")


def _positions(guest: Guest) -> set[tuple[IndexKind, datetime]]:
    """The index positions the record occupies (each a row of the Table store's index)."""
    return {(kind, moment) for kind, moment in guest.index_entries().items() if moment is not None}


_TOKEN_PREFIX = "offset:"


def _offset(token: str | None) -> int:
    if not token:
        return 0
    number = token.removeprefix(_TOKEN_PREFIX)
    if number == token or not number.isdigit():
        raise InvalidRequest("continuationToken is not valid")
    return int(number)


class InMemoryAuditLog:
    def __init__(self) -> None:
        self.entries: list[AuditEntry] = []

    async def record(self, entry: AuditEntry) -> None:
        self.entries.append(replace(entry, details=storable_details(entry.details)))

    async def entries_for(self, target: str) -> list[AuditEntry]:
        return sorted((e for e in self.entries if e.target == target), key=lambda e: e.at)

    async def history(self, target: str, page_size: int, continuation_token: str | None = None) -> AuditPage:
        newest_first = sorted((e for e in self.entries if e.target == target), key=lambda e: e.at, reverse=True)
        start = _offset(continuation_token)
        end = start + page_size
        return AuditPage(newest_first[start:end], f"{_TOKEN_PREFIX}{end}" if end < len(newest_first) else None)


class InMemoryDirectory:
    """A tiny Directory: users, groups (whose members may be groups) and memberships, with the port's error
    contract. A user's `signInActivity` is a `SignIn`; `premium = False` stands for a tenant without Entra ID P1;
    the ids in `unreplicated` stand for objects Graph does not show yet (replication lag): a member add naming one
    raises GraphNotFound, as Graph's 404 does until the object is visible."""

    def __init__(self) -> None:
        self.users: dict[str, dict[str, Any]] = {}
        self.deleted: dict[str, dict[str, Any]] = {}
        self.groups: dict[str, set[str]] = {}
        self.refused_domains: set[str] = set()  # domains the tenant's external collaboration settings refuse
        self.read_only_groups: dict[str, str] = {}  # group id -> why Graph refuses its members (mail-enabled, ...)
        self.writes: list[tuple[str, str]] = []
        self.premium = True
        self.unreplicated: set[str] = set()
        self.throttled: list[str] = []  # kinds of writes answered 429 once each: "update", "revoke", "add", "remove"
        self.list_requests = 0

    def add_user(self, email: str, user_type: str = "Guest", state: str | None = "PendingAcceptance") -> str:
        user_id = str(uuid.uuid4())
        self.users[user_id] = {"id": user_id, "mail": email.lower(), "userType": user_type,
                               "externalUserState": state, "accountEnabled": True, "displayName": email}
        return user_id

    def add_group(self, group_id: str) -> None:
        self.groups.setdefault(group_id, set())

    def _user(self, user_id: str) -> dict[str, Any]:
        if user_id not in self.users:
            raise GraphNotFound(f"user {user_id} not found")
        return self.users[user_id]

    @staticmethod
    def _view(user: dict[str, Any], with_sign_in: bool = False, sponsors: bool = False) -> DirectoryUser:
        return DirectoryUser(id=user["id"], user_type=user["userType"], display_name=user.get("displayName", ""),
                             mail=user["mail"], other_mails=tuple(user.get("otherMails", ())),
                             user_principal_name=user.get("userPrincipalName") or "",
                             proxy_addresses=tuple(_smtp(user)), external_user_state=user.get("externalUserState"),
                             account_enabled=user.get("accountEnabled"), created_at=user.get("createdDateTime"),
                             sign_in=_sign_in(user) if with_sign_in else None,
                             sponsors=tuple(user.get("sponsors", ()))[:20] if sponsors else None)

    async def list_guests(self, sign_in_activity: bool, sponsors: bool = False) -> GuestListing:
        users: list[DirectoryUser] = []
        scan = await self.scan_guests(users.extend, sign_in_activity=sign_in_activity, sponsors=sponsors)
        return GuestListing(users, scan.requests, sign_ins_read=scan.sign_ins_read, sign_in_note=scan.sign_in_note)

    async def scan_guests(self, on_page: OnDirectoryPage, *, sign_in_activity: bool,
                          sponsors: bool = False) -> GuestScan:
        """As the Graph adapter reads the directory (graph/ranges.py): one chain while it fits in
        SINGLE_RANGE_PAGES pages, else those pages then every range, each paged, the chain's users left out."""
        guests = [u for u in self.users.values() if u["userType"] == "Guest"]
        with_sign_in = sign_in_activity and self.premium
        size = 100 if sponsors else 500 if with_sign_in else 999
        refused = sign_in_activity and not self.premium
        chain = guests[:size * SINGLE_RANGE_PAGES]
        pages = [chain[start:start + size] for start in range(0, len(chain), size)] or [[]]
        ranges = 1
        if len(guests) > len(chain):
            seen = {u["id"] for u in chain}
            by_range: dict[str | None, list[dict[str, Any]]] = {}
            for user in guests:
                by_range.setdefault(range_of(user.get("userPrincipalName") or ""), []).append(user)
            for first in FIRST_CHARACTERS:  # a range Graph answers empty still costs its request
                held = by_range.get(first, [])
                pages += [[u for u in held[start:start + size] if u["id"] not in seen]
                          for start in range(0, max(len(held), 1), size)]
            ranges = len(FIRST_CHARACTERS)
        self.list_requests += len(pages)
        for page in pages:
            if page:
                on_page([self._view(u, with_sign_in, sponsors) for u in page])
        note = ("Graph refused signInActivity (Authentication_RequestFromNonPremiumTenantOrB2CTenant: Entra ID P1 "
                "and AuditLog.Read.All are needed)") if refused else ""
        return GuestScan(sum(len(page) for page in pages), len(pages) + refused, ranges, sign_ins_read=with_sign_in,
                         sign_in_note=note)

    async def transitive_member_ids(self, group_id: str) -> set[str]:
        if group_id not in self.groups:
            raise GraphNotFound(f"group {group_id} not found")
        found: set[str] = set()
        seen, pending = set(), [group_id]
        while pending:
            current = pending.pop()
            seen.add(current)
            for member in self.groups.get(current, set()):
                if member in self.groups and member not in seen:
                    pending.append(member)
                elif member in self.users:
                    found.add(member)
        return found

    async def sponsor_ids(self, user_id: str) -> tuple[str, ...]:
        return tuple(self._user(user_id).get("sponsors", ()))

    async def find_user_by_email(self, email: str) -> DirectoryUser | None:
        """As Graph's lookup: mail, otherMails, userPrincipalName or an SMTP proxy address, whatever the case; the
        first by `DirectoryUser.lookup_rank` (a member owning the address, a guest, a member listing it), then id."""
        wanted = email.lower()
        found = [self._view(u) for u in self.users.values() if wanted in _addresses(u)]
        found.sort(key=lambda user: (user.lookup_rank(email), user.id))
        return found[0] if found else None

    async def get_user(self, user_id: str) -> DirectoryUser | None:
        return self._view(self.users[user_id]) if user_id in self.users else None

    async def get_users(self, user_ids: Sequence[str]) -> dict[str, DirectoryUser | None]:
        return {user_id: await self.get_user(user_id) for user_id in user_ids}

    async def last_sign_ins(self, user_ids: Sequence[str]) -> dict[str, datetime | None] | None:
        if not self.premium:
            return None
        return {user_id: (self.users[user_id].get("signInActivity") or SignIn()).last if user_id in self.users
                else None for user_id in user_ids}

    async def absent_sponsors(self, sponsor_ids: Sequence[str]) -> set[str]:
        return {sponsor for sponsor in sponsor_ids if sponsor not in self.groups
                and (sponsor not in self.users or self.users[sponsor].get("accountEnabled") is False)}

    async def invite(self, request: InvitationRequest) -> Invitation:
        self.writes.append(("invite", request.email))
        if request.email.rpartition("@")[2].lower() in self.refused_domains:
            raise GraphPolicyRefusal(f"invitations to {request.email.rpartition('@')[2]} are not allowed",
                                     graph_status=403, graph_code="Authorization_RequestDenied",
                                     graph_message="The tenant's external collaboration settings block this domain.")
        existing = await self.find_user_by_email(request.email)
        if existing is not None and not existing.is_guest:
            raise GraphBadRequest("The invited user already exists in the directory as object ID: " + existing.id)
        user_id = existing.id if existing else self.add_user(request.email)
        if existing is None and request.sponsors:  # invitedUserSponsors: the new guest's sponsors
            self.users[user_id]["sponsors"] = list(request.sponsors)
        redeemed = self.users[user_id]["externalUserState"] == "Accepted"
        return Invitation(user_id, f"https://login.example/redeem/{user_id}",
                          "Completed" if redeemed else "PendingAcceptance")

    async def reset_redemption(self, user_id: str, email: str, redirect_url: str) -> Invitation:
        self.writes.append(("reset", user_id))
        self._user(user_id)["externalUserState"] = "PendingAcceptance"
        return Invitation(user_id, f"https://login.example/redeem/{user_id}/again", "PendingAcceptance")

    async def add_sponsor(self, user_id: str, sponsor_id: str) -> None:
        self.writes.append(("sponsor", f"{user_id}/{sponsor_id}"))
        user = self._user(user_id)
        if sponsor_id not in self.users:
            raise GraphRejectedInput(f"sponsor {sponsor_id} not found", graph_status=404,
                                     reason=f"the sponsor {sponsor_id} does not exist in the directory")
        if sponsor_id not in user.get("sponsors", ()):
            user["sponsors"] = [*user.get("sponsors", ()), sponsor_id]

    async def update_user(self, user_id: str, fields: dict[str, Any]) -> None:
        self.writes.append(("update", user_id))
        if read_only := sorted(_READ_ONLY_USER_PROPERTIES.intersection(fields)):
            raise GraphBadRequest(f"Property '{read_only[0]}' is read-only and cannot be set.", graph_status=400,
                                  graph_code="Request_BadRequest")
        self._user(user_id).update(fields)

    async def revoke_sessions(self, user_id: str) -> None:
        self.writes.append(("revoke", user_id))
        self._user(user_id)["revokedAt"] = True

    async def block_sign_in(self, user_id: str) -> None:
        """As the Graph adapter's one sequential $batch: disable, then revoke; a throttled step (see `throttled`) is
        sent again from that step (a done disable is not), up to the adapter's attempts; an unknown user raises
        GraphNotFound at the disable, before any change."""
        disabled = False
        for _ in range(_BATCH_ATTEMPTS):
            if not disabled:
                if not self._step("update", user_id):
                    continue
                self._user(user_id)["accountEnabled"] = False
                disabled = True
            if self._step("revoke", user_id):
                self._user(user_id)["revokedAt"] = True
                return
        raise GraphUnavailable(f"block sign-in of {user_id}: throttled past the retry budget", retry_after=1,
                               graph_status=429, graph_code="TooManyRequests")

    def _step(self, kind: str, user_id: str) -> bool:
        """Record a step's write; False (and recorded as throttled) when `throttled` names its kind."""
        if kind in self.throttled:
            self.throttled.remove(kind)
            self.writes.append(("throttled", f"{kind}/{user_id}"))
            return False
        self.writes.append((kind, user_id))
        self._user(user_id)
        return True

    async def delete_user(self, user_id: str) -> None:
        self.writes.append(("delete", user_id))
        self.deleted[user_id] = self.users.pop(self._user(user_id)["id"])

    async def get_deleted_user(self, user_id: str) -> DirectoryUser | None:
        return self._view(self.deleted[user_id]) if user_id in self.deleted else None

    async def restore_user(self, user_id: str) -> None:
        self.writes.append(("restore", user_id))
        if user_id not in self.deleted:
            raise GraphNotFound(f"deleted user {user_id} not found")
        name = (self.deleted[user_id].get("userPrincipalName") or "").lower()
        if name and any((user.get("userPrincipalName") or "").lower() == name for user in self.users.values()):
            raise GraphConflict(f"restore refused: another object now holds {name}", graph_status=400,
                                graph_code="Request_BadRequest", graph_message=(
                                    "Another object with the same value for property userPrincipalName already "
                                    "exists."))
        self.users[user_id] = self.deleted.pop(user_id)

    async def add_member(self, group_id: str, user_id: str) -> None:
        self.writes.append(("add", f"{group_id}/{user_id}"))
        if group_id not in self.groups:
            raise GraphRejectedInput(f"group {group_id} not found", reason="the group no longer exists",
                                     graph_status=404, graph_code="Request_ResourceNotFound")
        self._refuse_read_only(group_id)
        if {group_id, user_id} & self.unreplicated:
            raise GraphNotFound(f"an object of {group_id}/{user_id} is not visible yet", graph_status=404)
        self._user(user_id)
        self.groups[group_id].add(user_id)

    async def remove_member(self, group_id: str, user_id: str) -> None:
        self.writes.append(("remove", f"{group_id}/{user_id}"))
        if group_id not in self.groups:
            raise GraphNotFound(f"group {group_id} not found")
        self._refuse_read_only(group_id)
        self.groups[group_id].discard(user_id)

    async def group_exists(self, group_id: str) -> bool:
        return group_id in self.groups

    async def group_problem(self, group_id: str) -> str:
        if group_id not in self.groups:
            return "the group does not exist"
        return self.read_only_groups.get(group_id, "")

    def _refuse_read_only(self, group_id: str) -> None:
        """As Graph answers a member write on a group it will not change (403), read by the adapter as final."""
        if reason := self.read_only_groups.get(group_id):
            raise GraphRejectedInput(f"group {group_id} refuses member writes ({reason})", reason=reason,
                                     graph_status=403, graph_code="Authorization_RequestDenied")

    async def apply_changes(self, changes: UserChanges) -> list[ChangeOutcome]:
        """As the Graph adapter: each write ends as its single call would; a throttled write (its kind in
        `throttled`: "add", "remove", "update") is tried again alone, up to the adapter's attempts."""
        return [await self._apply(changes, change) for change in changes.changes]

    async def _apply(self, changes: UserChanges, change: Change) -> ChangeOutcome:
        kind = _CHANGE_KINDS[change.kind]
        for _ in range(_BATCH_ATTEMPTS):
            if kind in self.throttled:
                self.throttled.remove(kind)
                self.writes.append(("throttled", f"{kind}/{change.target}"))
                continue
            try:
                await self._write(changes, change)
            except GraphError as exc:
                return ChangeOutcome(change, exc)
            return ChangeOutcome(change)
        return ChangeOutcome(change, GraphUnavailable(f"{kind} of {change.target}: throttled past the retry budget",
                                                      retry_after=1, graph_status=429, graph_code="TooManyRequests"))

    async def _write(self, changes: UserChanges, change: Change) -> None:
        if change.kind == "add":
            await self.add_member(change.target, changes.user_id)
        elif change.kind == "remove":
            await self.remove_member(change.target, changes.user_id)
        else:
            await self.update_user(changes.user_id, changes.attributes)

    async def close(self) -> None:
        return None


def _smtp(user: dict[str, Any]) -> list[str]:
    """The user's SMTP proxy addresses, without their prefix."""
    return [p.split(":", 1)[1] for p in user.get("proxyAddresses", ()) if p.lower().startswith("smtp:")]


def _addresses(user: dict[str, Any]) -> set[str]:
    found = [user["mail"], *user.get("otherMails", ()), user.get("userPrincipalName", ""), *_smtp(user)]
    return {a.lower() for a in found if a}


class InMemoryEventPublisher:
    def __init__(self) -> None:
        self.published: list[Event] = []

    async def publish(self, event: Event) -> None:
        self.published.append(event)

    async def close(self) -> None:
        return None


class InMemoryIdempotencyStore:
    def __init__(self) -> None:
        self.records: dict[str, IdempotencyRecord] = {}

    async def claim(self, record: IdempotencyRecord) -> tuple[IdempotencyRecord, bool]:
        if record.key in self.records:
            return self.records[record.key], False
        self.records[record.key] = replace(record, etag=_etag())
        return self.records[record.key], True

    async def replace(self, record: IdempotencyRecord) -> IdempotencyRecord:
        current = self.records.get(record.key)
        if current is None or current.etag != record.etag:
            raise ConcurrencyConflict("the idempotency record changed")
        self.records[record.key] = replace(record, etag=_etag())
        return self.records[record.key]

    async def release(self, record: IdempotencyRecord) -> None:
        current = self.records.get(record.key)
        if current is None:
            return
        if record.etag is not None and current.etag != record.etag:
            raise ConcurrencyConflict("the idempotency record changed")
        del self.records[record.key]

    async def purge_expired(self, now: datetime, limit: int) -> int:
        expired = [k for k, r in self.records.items() if r.expires_at < now][:limit]
        for key in expired:
            del self.records[key]
        return len(expired)


if TYPE_CHECKING:  # mypy holds each fake to its port's signatures (the real adapters are held in wiring.py)
    _store: GuestStore = InMemoryGuestStore()
    _audit: AuditLog = InMemoryAuditLog()
    _directory: Directory = InMemoryDirectory()
    _publisher: EventPublisher = InMemoryEventPublisher()
    _keys: IdempotencyStore = InMemoryIdempotencyStore()


def _sign_in(user: dict[str, Any]) -> SignIn:
    """The user's signInActivity as a listing that selected it reads it: none stored means never signed in."""
    activity: SignIn | None = user.get("signInActivity")
    return activity if activity is not None else SignIn(never_signed_in=True)
