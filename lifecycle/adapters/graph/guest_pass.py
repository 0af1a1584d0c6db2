"""The directory pass: every guest of the directory, handed on a page at a time (docs/directory-pass.md).

It starts as one chain over `userType eq 'Guest'`; a directory larger than SINGLE_RANGE_PAGES pages is read on in
ranges by the first character of userPrincipalName (`ranges.py`), several at once. Every request goes through the
adapter's `send` (throttle pause, adaptive limiter, send pacer, retries, errors translated)."""
from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from kiota_abstractions.base_request_configuration import RequestConfiguration
from kiota_abstractions.request_information import RequestInformation
from msgraph.generated.users.users_request_builder import UsersRequestBuilder

from lifecycle.adapters.graph.errors import sign_in_unavailable
from lifecycle.adapters.graph.ranges import FIRST_CHARACTERS, GUEST_FILTER, SINGLE_RANGE_PAGES, range_filter
from lifecycle.adapters.graph.wire import json_page, json_user, page_size
from lifecycle.errors import GraphError
from lifecycle.ports import GuestScan, OnDirectoryPage

Send = Callable[[str, RequestInformation], Awaitable[dict[str, Any]]]
GUEST_PASS_FIELDS = ["id", "userType", "displayName", "mail", "otherMails", "userPrincipalName", "externalUserState",
                     "accountEnabled", "createdDateTime"]


class PassState:
    """One directory pass as it goes: the pages handed on, the requests made, whether sign-ins are read; the ids the
    first chain handed on (at most SINGLE_RANGE_PAGES pages of them), which the ranges leave out."""

    def __init__(self, on_page: OnDirectoryPage, sign_in_activity: bool) -> None:
        self.on_page = on_page
        self.asked = sign_in_activity
        self.with_sign_in = sign_in_activity
        self.note = ""
        self.requests = 0
        self.guests = 0
        self.seen: set[str] = set()

    def refused(self, note: str) -> None:
        self.with_sign_in, self.note = False, note
        self.requests += 1

    def hand(self, items: list[dict[str, Any]], remember: bool = False) -> None:
        users = [json_user(item, sign_in_selected=self.with_sign_in) for item in items
                 if item["id"] not in self.seen]
        if remember:
            self.seen.update(user.id for user in users)
        if users:
            self.guests += len(users)
            self.on_page(users)

    def result(self, ranges: int) -> GuestScan:
        return GuestScan(self.guests, self.requests, ranges, sign_ins_read=self.asked and self.with_sign_in,
                         sign_in_note=self.note)


class GuestPass:
    """One pass over the directory's guests, `max_concurrency` ranges at once."""

    def __init__(self, send: Send, users: UsersRequestBuilder, max_concurrency: int) -> None:
        self._send = send
        self._users = users
        self._max_concurrency = max_concurrency

    async def run(self, on_page: OnDirectoryPage, *, sign_in_activity: bool, sponsors: bool = False) -> GuestScan:
        # The pass starts as one chain over `userType eq 'Guest'`: its first page settles whether signInActivity
        # can be read (a 403 before anything is handed on), and a directory of at most SINGLE_RANGE_PAGES pages
        # ends there. A larger one is read on in ranges by the first character of userPrincipalName
        # (graph/ranges.py), at most GRAPH_MAX_CONCURRENCY at once, each request through `send` (throttle pause,
        # adaptive limiter, send pacer, retries); the users the chain handed on are left out of the ranges.
        scan = PassState(on_page, sign_in_activity)
        try:
            body = await self._send("list guests", self._guest_request(GUEST_FILTER, sign_in_activity, sponsors))
        except GraphError as exc:
            if not (sign_in_activity and sign_in_unavailable(exc)):
                raise
            scan.refused(f"Graph refused signInActivity ({exc.graph_code}: Entra ID P1 and AuditLog.Read.All are "
                         "needed)")
            body = await self._send("list guests", self._guest_request(GUEST_FILTER, False, sponsors))
        scan.requests += 1
        for page in range(1, SINGLE_RANGE_PAGES + 1):
            items, link = json_page(body)
            scan.hand(items, remember=True)
            if link is None:
                return scan.result(ranges=1)
            if page == SINGLE_RANGE_PAGES:
                break
            body = await self._send("list guests", self._users.with_url(link).to_get_request_information())
            scan.requests += 1
        pending = list(FIRST_CHARACTERS)

        async def read_ranges() -> None:
            while pending:
                first = pending.pop(0)
                info: Any = self._guest_request(range_filter(first), scan.with_sign_in, sponsors)
                while info is not None:
                    items, link = json_page(await self._send("list guests", info))
                    scan.requests += 1
                    scan.hand(items)
                    info = self._users.with_url(link).to_get_request_information() if link else None

        try:
            async with asyncio.TaskGroup() as readers:
                for _ in range(min(self._max_concurrency, len(pending))):
                    readers.create_task(read_ranges())
        except ExceptionGroup as failed:
            raise failed.exceptions[0] from None
        return scan.result(ranges=len(FIRST_CHARACTERS))

    def _guest_request(self, guest_filter: str, with_sign_in: bool, sponsors: bool) -> RequestInformation:
        query = UsersRequestBuilder.UsersRequestBuilderGetQueryParameters(
            filter=guest_filter, select=GUEST_PASS_FIELDS + (["signInActivity"] if with_sign_in else []),
            top=page_size(with_sign_in, sponsors), expand=["sponsors($select=id)"] if sponsors else None)
        return self._users.to_get_request_information(RequestConfiguration(query_parameters=query))
