"""Sponsors and their guests: the guests a sponsor may see (those whose record lists them among its sponsors, as
invitations and the directory pass record them), and a sponsor's decision on one of them (attestation): keep it, or
remove it now.

A sponsor is identified by its object id. Reading trusts the record; a decision is a write, so Graph is asked first
(`Directory.sponsor_ids`): a sponsor the record lists but Graph no longer does is refused. Only users named as
sponsors count (a member of a group named as sponsor does not)."""
from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from lifecycle.config import Settings
from lifecycle.domain.model import DisabledReason, Guest, GuestState, InvalidTransition
from lifecycle.errors import Forbidden, GraphNotFound, InvalidRequest
from lifecycle.ports import Directory, GuestQuery, Page
from lifecycle.services.audit import Audit
from lifecycle.services.granting import GrantingOperations
from lifecycle.services.operations import GuestOperations
from lifecycle.services.records import GuestRecords

Decision = Literal["keep", "remove"]
SCAN_PAGE = 1000  # records read per storage page while looking for a sponsor's guests (Table Storage's maximum)
SCAN_PAGES_PER_CALL = 10  # storage pages one call reads at most before it answers with a continuation token


def _sponsors(guest: Guest) -> set[str]:
    return {sponsor.lower() for sponsor in guest.sponsors}


def not_your_guest() -> Forbidden:
    """The same answer for a guest the sponsor does not sponsor and for one that is not tracked: a sponsor learns
    nothing about the guests of others."""
    return Forbidden("you are not a sponsor of this guest (or it is not tracked); only its sponsors and callers "
                     "holding the app role may see or decide for it", code="NotGuestSponsor")


@dataclass(frozen=True)
class Attestation:
    guest: Guest
    decision: Decision
    changed: bool


class Sponsorship:
    def __init__(self, *, records: GuestRecords, directory: Directory, audit: Audit, settings: Settings,
                 clock: Callable[[], datetime], operations: GuestOperations, granting: GrantingOperations) -> None:
        self._records = records
        self._directory = directory
        self._audit = audit
        self._settings = settings
        self._clock = clock
        self._operations = operations
        self._granting = granting

    # --- reading -------------------------------------------------------------------------------
    async def require_sponsor(self, guest_id: str, sponsor_id: str) -> Guest:
        """The guest, when its record lists `sponsor_id` among its sponsors; else 403 NotGuestSponsor (also when
        no guest with that id is tracked)."""
        guest = await self._records.get(guest_id)
        if guest is None or not sponsor_id or sponsor_id.lower() not in _sponsors(guest):
            raise not_your_guest()
        return guest

    async def guests_of(self, sponsor_id: str, page_size: int, continuation_token: str | None) -> Page:
        """One page (at most `page_size`) of the guests whose record lists `sponsor_id` among its sponsors, in id
        order. The records are read in storage pages (no index lists guests by sponsor): one call reads at most
        SCAN_PAGES_PER_CALL of them, so a page may hold fewer guests than asked, even none, while its
        continuation token is set. Records that cannot be read are left out and not named (they are not known to be
        the sponsor's)."""
        sponsor = sponsor_id.lower()
        token, after = _decode(continuation_token)
        found: list[Guest] = []
        for _ in range(SCAN_PAGES_PER_CALL):
            page = await self._records.store.query(GuestQuery(page_size=SCAN_PAGE, continuation_token=token))
            for guest in page.guests:
                if after is not None and guest.id <= after:
                    continue
                if sponsor and sponsor in _sponsors(guest):
                    found.append(guest)
                    if len(found) == page_size:  # resume within this storage page, after this guest
                        return Page(found, _encode(token, guest.id))
            if page.continuation_token is None:
                return Page(found, None)
            token, after = page.continuation_token, None
        return Page(found, _encode(token, None))

    # --- deciding ------------------------------------------------------------------------------
    async def attest(self, guest_id: str, decision: Decision, actor: str, sponsor_id: str | None) -> Attestation:
        """A decision on the guest, audited (`guest.attest`, with the decision and the sponsor). `sponsor_id` None:
        the caller holds the role and may decide for any guest; else it must be a sponsor of the guest, in the
        record and in Graph (403 NotGuestSponsor).

        keep: an invited or active guest keeps its access; with ATTESTATION_DAYS > 0 its expiry moves to at least that
        many days from now (never earlier: a later expiry stays), through `extend` (the domain lists judge the guest's
        addresses first); `attestedAt` is set: the sweep's attestation period starts again. A disabled or removed guest
        cannot be kept (409): an administrator extends or restores it.
        remove: the guest is disabled now (reason `sponsor`; the sweep deletes it after the grace period, and an
        administrator's extend re-enables it)."""
        async with self._audit.audited(actor, "guest.attest", guest_id, decision=decision,
                                       sponsor=sponsor_id) as notes:
            guest = await self._records.load(guest_id) if sponsor_id is None else await self._confirmed(
                guest_id, sponsor_id)
            if decision == "remove":
                result = await self._operations.run(self._operations.disabling(DisabledReason.SPONSOR), guest_id,
                                                    actor)
                notes["state"] = result.guest.state.value
                if not result.changed:
                    notes["outcome"] = "unchanged"
                return Attestation(result.guest, decision, result.changed)
            if not guest.is_live:
                raise InvalidTransition(
                    f"a guest in state '{guest.state.value}' cannot be kept: ask an administrator to extend "
                    f"({GuestState.DISABLED.value}) or restore ({GuestState.DELETED.value}) it",
                    code="NotKeepable")
            days = self._settings.attestation_days
            now = self._clock()
            until = now + timedelta(days=days)
            if not days or (guest.expires_at is not None and guest.expires_at >= until):
                notes["outcome"] = "unchanged"
                notes["expiresAt"] = guest.expires_at.isoformat() if guest.expires_at else None
                kept = await self._records.update(guest, lambda g: g.attested(now))
                notes["attestedAt"] = now.isoformat()
                return Attestation(kept, decision, False)
            result = await self._granting.run(self._operations.extending(until), guest_id, actor)
            notes["expiresAt"] = until.isoformat()
            kept = await self._records.update(result.guest, lambda g: g.attested(now))
            notes["attestedAt"] = now.isoformat()
            return Attestation(kept, decision, result.changed)

    async def _confirmed(self, guest_id: str, sponsor_id: str) -> Guest:
        """The guest, when both its record and Graph list `sponsor_id` among its sponsors."""
        guest = await self.require_sponsor(guest_id, sponsor_id)
        try:
            in_graph = {sponsor.lower() for sponsor in await self._directory.sponsor_ids(guest_id)}
        except GraphNotFound:
            in_graph = set()
        if sponsor_id.lower() not in in_graph:
            raise Forbidden("Microsoft Entra no longer lists you as a sponsor of this guest; only its sponsors and "
                            "callers holding the app role may decide for it", code="NotGuestSponsor")
        return guest


def _encode(token: str | None, after: str | None) -> str:
    return base64.urlsafe_b64encode(json.dumps({"t": token, "a": after}).encode()).decode()


def _decode(token: str | None) -> tuple[str | None, str | None]:
    """(the storage page's token, the id of the last guest returned from it) of a token `guests_of` issued."""
    if not token:
        return None, None
    try:
        value = json.loads(base64.urlsafe_b64decode(token.encode()))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise InvalidRequest("continuationToken is not valid") from None
    if (not isinstance(value, dict) or set(value) != {"t", "a"}
            or not all(item is None or isinstance(item, str) for item in value.values())):
        raise InvalidRequest("continuationToken is not valid")
    return value["t"], value["a"]
