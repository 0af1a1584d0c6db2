"""The Directory port on msgraph-sdk. Every Graph call the app makes is here; SDK errors never leave the adapter
(`errors.translate`), and Graph's JSON is read by `wire`."""
from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any, TypeVar

import httpx
from azure.core.credentials_async import AsyncTokenCredential
from azure.core.exceptions import AzureError
from kiota_abstractions.api_error import APIError
from kiota_abstractions.base_request_configuration import RequestConfiguration
from kiota_abstractions.method import Method
from kiota_abstractions.request_information import RequestInformation
from kiota_http.middleware.options import RetryHandlerOption
from msgraph import GraphRequestAdapter, GraphServiceClient
from msgraph.generated.directory.deleted_items.item.directory_object_item_request_builder import (
    DirectoryObjectItemRequestBuilder,
)
from msgraph.generated.groups.item.group_item_request_builder import GroupItemRequestBuilder
from msgraph.generated.models.o_data_errors.o_data_error import ODataError
from msgraph.generated.users.item.user_item_request_builder import UserItemRequestBuilder
from msgraph.generated.users.users_request_builder import UsersRequestBuilder
from msgraph_core import GraphClientFactory
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt, stop_after_delay

from lifecycle.adapters.credentials import graph_auth_provider
from lifecycle.adapters.graph.batching import MAX_ITEMS, Answer, Item, answers_by_id, batch_shape, header_name
from lifecycle.adapters.graph.errors import (
    invitation_refusal,
    item_headers,
    rejected,
    sign_in_unavailable,
    sponsor_refusal,
    step_failure,
    throttle_weight,
    translate,
)
from lifecycle.adapters.graph.guest_pass import GuestPass
from lifecycle.adapters.graph.retry import GraphRetryPolicy, give_up_if_too_long, wait_for
from lifecycle.adapters.graph.throttle import AdaptiveLimiter, SendPacer, ThrottleGate
from lifecycle.adapters.graph.wire import (
    GUEST_PAGE,
    group_refusal,
    invitation_body,
    json_group,
    json_invitation,
    json_page,
    json_request,
    json_user,
)
from lifecycle.config import Settings
from lifecycle.domain.odata import odata_string
from lifecycle.errors import (
    GraphBadRequest,
    GraphConflict,
    GraphError,
    GraphNotFound,
    GraphUnavailable,
    outcome_unknown,
)
from lifecycle.ports import (
    Change,
    ChangeOutcome,
    DirectoryUser,
    GuestListing,
    GuestScan,
    Invitation,
    InvitationRequest,
    OnDirectoryPage,
    UserChanges,
)
from lifecycle.request_log import note_request_id

T = TypeVar("T")
USER_FIELDS = ["id", "userType", "displayName", "mail", "otherMails", "userPrincipalName", "externalUserState",
               "accountEnabled"]
IN_VALUES = 15  # values one `in` filter takes without advanced query parameters (filter-query-parameter.md)
LOOKUP_PAGE = 50  # the users an email lookup reads: every user holding the address in one page, members included
_ODATA_ERRORS: dict[str, Any] = {"XXX": ODataError}
_ALREADY_MEMBER = "already exist"
# A restore over a userPrincipalName another object now holds (directory-deleteditems-restore.md is silent; Graph's
# duplicate-property message: microsoftgraph/microsoft-graph-docs#1508; on a restore:
# microsoftgraph/entra-powershell#1484).
_UPN_TAKEN = "another object with the same value for property userprincipalname already exists"
ADVANCED_QUERY = {"ConsistencyLevel": "eventual"}  # with $count=true: what an OData cast on a member list needs
GROUP_REFUSAL_FIELDS = ["id", "groupTypes", "mailEnabled", "onPremisesSyncEnabled", "isAssignableToRole"]
_TRANSIENT = frozenset({429, 503, 504})
_CHANGE_ACTIONS = {"add": "add member", "remove": "remove member", "attributes": "update user"}


class GraphDirectory:
    """The Directory port on msgraph-sdk, with bounded concurrency and a retry budget."""

    def __init__(self, settings: Settings, retry: GraphRetryPolicy | None = None,
                 credential: AsyncTokenCredential | None = None) -> None:
        auth = graph_auth_provider(settings, credential)
        self._pacer = SendPacer()
        self._http = GraphClientFactory.create_with_default_middleware(
            client=httpx.AsyncClient(timeout=httpx.Timeout(30.0), event_hooks={"response": [self._note_response]}),
            options={RetryHandlerOption.get_key(): RetryHandlerOption(max_retries=0)})
        adapter = GraphRequestAdapter(auth, client=self._http)
        adapter.base_url = settings.graph_base_url
        self._adapter = adapter
        self._client = GraphServiceClient(request_adapter=adapter)
        self._base_url = settings.graph_base_url
        self._slots = AdaptiveLimiter(settings.graph_max_concurrency)
        self._max_concurrency = settings.graph_max_concurrency
        self._retry = retry or GraphRetryPolicy()
        self._gate = ThrottleGate()

    async def close(self) -> None:
        await self._http.aclose()

    async def _note_response(self, response: httpx.Response) -> None:
        note_request_id(response.headers.get("request-id"))
        if not response.request.url.path.endswith("/$batch"):  # a batch's items are observed one by one
            self._pacer.observe(response.status_code, response.headers)

    async def _call(self, action: str, operation: Callable[[], Awaitable[T]],
                    requests: int | Callable[[], int] = 1) -> T:
        """Run `operation` (one Graph request, carrying `requests` requests: a number, or a function giving it at each
        attempt) under the throttle pause, the adaptive limiter, the send pacer and the retry policy. The error it
        ends with carries `maybe_applied` when any attempt's answer left its outcome unknown (a 503 retried into a
        429, say: the write may have been made by the first)."""
        policy = self._retry
        uncertain = False
        deadline = time.monotonic() + policy.budget_seconds
        retrying = AsyncRetrying(
            retry=retry_if_exception_type(GraphUnavailable), reraise=True,
            stop=stop_after_attempt(policy.attempts) | stop_after_delay(policy.budget_seconds),
            wait=lambda state: wait_for(state, policy), before_sleep=give_up_if_too_long(policy))
        async for attempt in retrying:
            with attempt:
                async with self._slots.slot():
                    await self._gate.wait(longest=policy.max_wait)
                    await self._pacer.wait(min(policy.max_wait, deadline - time.monotonic()),
                                           requests() if callable(requests) else requests)
                    await self._gate.wait(longest=policy.max_wait)
                    try:
                        result = await operation()
                        self._slots.succeeded()
                        return result
                    except (APIError, httpx.TransportError) as exc:
                        error = self._throttled(translate(exc, action))
                        uncertain = uncertain or outcome_unknown(error)
                        error.maybe_applied = uncertain
                        raise error from None
                    except AzureError as exc:  # the credential's: no Graph token, Graph never asked (not retried)
                        raise translate(exc, action) from exc
        raise AssertionError("unreachable")

    def _throttled(self, error: GraphError) -> GraphError:
        """On a 429, hold every call of the worker back for its Retry-After and halve the calls in flight; a
        Retry-After longer than a call may wait makes every caller answer 503 at once until it has passed."""
        if error.graph_status == 429:
            self._gate.pause(error.retry_after or 1)
            self._slots.throttled()
        return error

    async def _send(self, action: str, info: RequestInformation) -> dict[str, Any]:
        """Send a request built by the SDK's request builders through its adapter (auth, middleware and ODataError
        mapping kept) and return the JSON body ({} when there is none); no SDK model is built."""
        raw = await self._call(action, lambda: self._adapter.send_primitive_async(info, "bytes", _ODATA_ERRORS))
        return json.loads(raw) if raw else {}

    # --- users -----------------------------------------------------------------------------------
    async def find_user_by_email(self, email: str) -> DirectoryUser | None:
        literal = odata_string(email)
        query = UsersRequestBuilder.UsersRequestBuilderGetQueryParameters(
            filter=(f"mail eq {literal} or otherMails/any(m:m eq {literal}) or userPrincipalName eq {literal} "
                    f"or proxyAddresses/any(p:p eq {odata_string('SMTP:' + email)})"),
            select=[*USER_FIELDS, "proxyAddresses"], top=LOOKUP_PAGE)
        body = await self._send("find user", self._client.users.to_get_request_information(
            RequestConfiguration(query_parameters=query)))
        users = [json_user(item) for item in json_page(body)[0]]
        users.sort(key=lambda user: (user.lookup_rank(email), user.id))  # a member who owns it wins
        return users[0] if users else None

    async def get_user(self, user_id: str) -> DirectoryUser | None:
        query = UserItemRequestBuilder.UserItemRequestBuilderGetQueryParameters(select=USER_FIELDS)
        info = self._client.users.by_user_id(user_id).to_get_request_information(
            RequestConfiguration(query_parameters=query))
        try:
            body = await self._send("get user", info)
        except GraphNotFound:
            return None
        return json_user(body) if body else None

    async def get_users(self, user_ids: Sequence[str]) -> dict[str, DirectoryUser | None]:
        # One list request per 15 ids (`id in (...)`: filter-query-parameter.md limits `in` to 15 expressions by
        # default), 1 resource unit each (a users list with $select and a $top under 20), where a GET per user
        # would cost one unit a user; the lists go out together.
        chunks = [list(user_ids[start:start + IN_VALUES]) for start in range(0, len(user_ids), IN_VALUES)]
        found = await asyncio.gather(*(self._users_by_id(chunk) for chunk in chunks))
        users: dict[str, DirectoryUser | None] = dict.fromkeys(user_ids)
        users.update((user.id, user) for part in found for user in part if user.id in users)
        return users

    async def _users_by_id(self, user_ids: list[str], fields: list[str] | None = None) -> list[DirectoryUser]:
        fields = fields or USER_FIELDS
        query = UsersRequestBuilder.UsersRequestBuilderGetQueryParameters(
            filter=f"id in ({', '.join(odata_string(user_id) for user_id in user_ids)})", select=fields,
            top=IN_VALUES)
        first = self._client.users.to_get_request_information(RequestConfiguration(query_parameters=query))
        items, _ = await self._pages("get users", first, self._client.users.with_url)
        return [json_user(item, sign_in_selected="signInActivity" in fields) for item in items]

    async def last_sign_ins(self, user_ids: Sequence[str]) -> dict[str, datetime | None] | None:
        chunks = [list(user_ids[start:start + IN_VALUES]) for start in range(0, len(user_ids), IN_VALUES)]
        try:
            found = await asyncio.gather(*(self._users_by_id(chunk, ["id", "signInActivity"]) for chunk in chunks))
        except GraphError as exc:
            if sign_in_unavailable(exc):
                return None
            raise
        last: dict[str, datetime | None] = dict.fromkeys(user_ids)
        last.update((user.id, user.sign_in.last if user.sign_in else None) for part in found for user in part)
        return last

    async def absent_sponsors(self, sponsor_ids: Sequence[str]) -> set[str]:
        users = await self.get_users(list(dict.fromkeys(sponsor_ids)))
        absent = {sponsor for sponsor, user in users.items() if user is not None and user.account_enabled is False}
        missing = [sponsor for sponsor, user in users.items() if user is None]
        query = GroupItemRequestBuilder.GroupItemRequestBuilderGetQueryParameters(select=["id"])
        steps = {str(n): ("get group", self._client.groups.by_group_id(group_id).to_get_request_information(
            RequestConfiguration(query_parameters=query))) for n, group_id in enumerate(missing)}
        ids = list(steps)
        parts = await asyncio.gather(*(self._send_independent({i: steps[i] for i in ids[start:start + MAX_ITEMS]},
                                                               action="get groups")
                                       for start in range(0, len(ids), MAX_ITEMS)))
        for step_id, error in (pair for part in parts for pair in part.items()):
            if isinstance(error, GraphNotFound):
                absent.add(missing[int(step_id)])  # neither a user nor a group: deleted
            elif error is not None:
                raise error
        return absent

    async def invite(self, request: InvitationRequest) -> Invitation:
        info = json_request(Method.POST, self._client.invitations, invitation_body(request))
        try:
            body = await self._send("invite", info)
        except (GraphNotFound, GraphBadRequest) as exc:
            raise sponsor_refusal(exc, request.sponsors) from None
        except GraphError as exc:
            if exc.graph_status == 403:
                raise invitation_refusal(exc, request.email) from None
            raise
        return json_invitation(body)

    async def add_sponsor(self, user_id: str, sponsor_id: str) -> None:
        info = json_request(Method.POST, self._client.users.by_user_id(user_id).sponsors.ref,
                             {"@odata.id": f"{self._base_url}/users/{sponsor_id}"})
        try:
            await self._send("add sponsor", info)
        except GraphBadRequest as exc:
            if _ALREADY_MEMBER not in exc.message.lower():
                raise sponsor_refusal(exc, (sponsor_id,)) from None
        except GraphNotFound as exc:
            raise sponsor_refusal(exc, (sponsor_id,)) from None

    async def reset_redemption(self, user_id: str, email: str, redirect_url: str) -> Invitation:
        info = json_request(Method.POST, self._client.invitations, {
            "invitedUserEmailAddress": email, "inviteRedirectUrl": redirect_url, "sendInvitationMessage": False,
            "resetRedemption": True, "invitedUser": {"id": user_id}})
        return json_invitation(await self._send("reset redemption", info))

    async def update_user(self, user_id: str, fields: dict[str, Any]) -> None:
        await self._send("update user", self._update_user_request(user_id, fields))

    def _update_user_request(self, user_id: str, fields: dict[str, Any]) -> RequestInformation:
        return json_request(Method.PATCH, self._client.users.by_user_id(user_id), fields)

    async def revoke_sessions(self, user_id: str) -> None:
        info = self._client.users.by_user_id(user_id).revoke_sign_in_sessions.to_post_request_information()
        await self._send("revoke sessions", info)

    async def block_sign_in(self, user_id: str) -> None:
        # The disable is built as update_user builds it (the builder's URL, the app's JSON body): the SDK's
        # to_patch_request_information needs a generated User model, which the adapter never imports.
        user = self._client.users.by_user_id(user_id)
        await self._send_batch("block sign-in", {
            "disable": json_request(Method.PATCH, user, {"accountEnabled": False}),
            "revoke": user.revoke_sign_in_sessions.to_post_request_information()})

    async def _send_batch(self, action: str, steps: dict[str, RequestInformation]) -> dict[str, dict[str, Any]]:
        """Send `steps` as one fully sequential $batch (each step depending on the one before it) in an envelope of
        its own, never shared (a chain beside other requests is a shape Graph refuses: `batch_shape`), through
        `_call` (throttle pause, adaptive limiter, send pacer, retry policy: as many requests as steps still to do);
        return every step's answer by id. The first step that failed raises what its single call would
        (`translate()`; a 424 is never the cause, the step before it is). A 429/503/504 retries the chain from that
        step: the steps Graph answered 2xx are not sent again (a step whose outcome is unknown is, so each step must
        be idempotent)."""
        done: dict[str, dict[str, Any]] = {}

        async def send() -> dict[str, dict[str, Any]]:
            waiting = [step_id for step_id in steps if step_id not in done]
            answers = await self._send_envelope([self._batch_item(step_id, steps[step_id], previous)
                                                 for step_id, previous in zip(waiting, [None, *waiting], strict=False)])
            for step_id in waiting:
                answer = answers.get(step_id)
                if answer is None:
                    raise GraphError(f"{action}: Graph's batch answer has no response for {step_id!r}")
                note_request_id(item_headers(answer).get("request-id"))
                if not 200 <= int(answer.get("status") or 0) < 300:
                    raise step_failure(answer)
                done[step_id] = answer
            return done
        return await self._call(action, send, requests=lambda: len(steps) - len(done))

    async def _send_independent(self, steps: dict[str, tuple[str, RequestInformation]],
                                bodies: dict[str, Any] | None = None,
                                action: str = "batch of writes") -> dict[str, GraphError | None]:
        """Send `steps` (id → the action it is, its request; at most 20) as independent $batch items (a fully
        parallel batch) through `_call` (as many requests as steps), in an envelope of their own sent at once (one
        guest's writes, which its caller waits for: sharing would hold them back a turn while the caller's other
        work runs), and return each step's error as `translate()` makes it of its answer (None: done; its body, if
        any, into `bodies`). The steps answered 429/503/504 are sent again (after the pause `_call` keeps), never
        the steps that ended; those still throttled past the retry budget end with the GraphUnavailable `_call`
        gives up with."""
        items = {step_id: self._batch_item(step_id, info, None) for step_id, (_, info) in steps.items()}
        ended: dict[str, GraphError | None] = {}

        async def send() -> None:
            waiting = [step_id for step_id in items if step_id not in ended]
            answers = await self._send_envelope([items[step_id] for step_id in waiting])
            throttled = []
            for step_id in waiting:
                answer, step_action = answers.get(step_id), steps[step_id][0]
                note_request_id(item_headers(answer or {}).get("request-id"))
                status = int((answer or {}).get("status") or 0)
                if answer is None:
                    ended[step_id] = GraphError(f"{step_action}: Graph's batch answer has no response for {step_id!r}")
                elif status in _TRANSIENT:
                    throttled.append(answer)
                else:
                    ended[step_id] = None if 200 <= status < 300 else translate(step_failure(answer), step_action)
                    if bodies is not None and ended[step_id] is None:
                        bodies[step_id] = answer.get("body")
            if throttled:
                raise step_failure(max(throttled, key=throttle_weight))
        try:
            await self._call(action, send, requests=lambda: len(items) - len(ended))
        except GraphError as exc:
            ended.update({step_id: exc for step_id in items if step_id not in ended})
        return ended

    async def _send_envelope(self, items: list[Item]) -> dict[str, Answer]:
        """One POST /$batch of the items (of one call, or of the calls in flight: each holds its own limiter slot and
        went through the pacer for its items); every item's answer is shown to the pacer. Raises RefusedBatchShape,
        sending nothing, for a shape Graph refuses whole (`batch_shape`); else what the SDK raises."""
        batch_shape(items)
        batch = RequestInformation(Method.POST, "{+baseurl}/$batch", {})
        batch.headers.try_add("Accept", "application/json")
        batch.set_stream_content(json.dumps({"requests": items}).encode(), "application/json")
        raw = await self._adapter.send_primitive_async(batch, "bytes", _ODATA_ERRORS)
        answers = answers_by_id(json.loads(raw) if raw else {})
        for answer in answers.values():
            self._observe_item(answer)
        return answers

    def _observe_item(self, answer: dict[str, Any]) -> None:
        """Show the pacer a $batch item's answer as it would a single call's (a 424 never ran: nothing to learn)."""
        status = int(answer.get("status") or 0)
        if status != 424:
            self._pacer.observe(status, item_headers(answer))

    def _batch_item(self, step_id: str, info: RequestInformation, depends_on: str | None) -> dict[str, Any]:
        """A request built by the SDK's request builders as a $batch item: url relative to the Graph base URL,
        headers, JSON body (Graph refuses a write item without body and Content-Type, so a body-less one sends {})."""
        info.path_parameters["baseurl"] = self._base_url
        url, method = info.url, info.http_method
        if method is None or not url.startswith(self._base_url + "/"):
            raise GraphError(f"a batch step needs a method and a url under {self._base_url}: {method} {url}")
        headers = {header_name(name): ", ".join(sorted(values)) for name, values in info.headers.get_all().items()}
        item: dict[str, Any] = {"id": step_id, "method": method.value, "url": url[len(self._base_url):]}
        if info.content or method in (Method.POST, Method.PATCH, Method.PUT):
            headers.setdefault("Content-Type", "application/json")
            item["body"] = json.loads(info.content) if info.content else {}
        if depends_on is not None:
            item["dependsOn"] = [depends_on]
        item["headers"] = headers
        return item

    async def delete_user(self, user_id: str) -> None:
        await self._send("delete user", self._client.users.by_user_id(user_id).to_delete_request_information())

    async def get_deleted_user(self, user_id: str) -> DirectoryUser | None:
        query = DirectoryObjectItemRequestBuilder.DirectoryObjectItemRequestBuilderGetQueryParameters(
            select=USER_FIELDS)
        item = self._client.directory.deleted_items.by_directory_object_id(user_id)
        try:
            body = await self._send("get deleted user", item.to_get_request_information(
                RequestConfiguration(query_parameters=query)))
        except GraphNotFound:
            return None
        return json_user(body) if body else None

    async def restore_user(self, user_id: str) -> None:
        item = self._client.directory.deleted_items.by_directory_object_id(user_id)
        try:
            await self._send("restore user", item.restore.to_post_request_information())
        except GraphBadRequest as exc:
            if _UPN_TAKEN in (exc.graph_message or "").lower():
                raise GraphConflict(
                    f"restore refused: another object in the directory now holds this guest's userPrincipalName "
                    f"({exc.graph_message}). Rename or delete that object in Entra ID, then restore again",
                    graph_status=exc.graph_status, graph_code=exc.graph_code, graph_message=exc.graph_message,
                    request_id=exc.request_id) from None
            raise

    # --- groups ----------------------------------------------------------------------------------
    async def add_member(self, group_id: str, user_id: str) -> None:
        try:
            await self._send("add member", self._add_member_request(group_id, user_id))
        except GraphError as exc:
            if (failure := await self._add_failure(group_id, user_id, exc)) is not None:
                raise failure from None

    def _add_member_request(self, group_id: str, user_id: str) -> RequestInformation:
        return json_request(Method.POST, self._client.groups.by_group_id(group_id).members.ref,
                             {"@odata.id": f"{self._base_url}/directoryObjects/{user_id}"})

    async def _add_failure(self, group_id: str, user_id: str, error: GraphError) -> GraphError | None:
        """What Graph's error for a member add means: None when the membership exists already, else the error to
        raise (final when the group is gone or refuses members)."""
        if isinstance(error, GraphUnavailable):
            return error
        if isinstance(error, GraphBadRequest):
            if _ALREADY_MEMBER in error.message.lower():
                return None
            return await self._member_refusal(group_id, error)
        if isinstance(error, GraphNotFound):
            names_the_user = user_id.lower() in (error.graph_message or "").lower()
            if error.graph_status == 404 and not names_the_user and not await self.group_exists(group_id):
                return rejected(error, "the group no longer exists")
            return error
        if error.graph_status == 403:
            return await self._member_refusal(group_id, error)
        return error

    async def _member_refusal(self, group_id: str, error: GraphError) -> GraphError:
        """A refused member add is final when the group itself refuses members; else it stays Graph's error."""
        try:
            group = json_group(await self._get_group("get group", group_id, GROUP_REFUSAL_FIELDS))
        except GraphNotFound:
            return rejected(error, "the group no longer exists")
        reason = group_refusal(group)
        return rejected(error, reason) if reason else error

    async def remove_member(self, group_id: str, user_id: str) -> None:
        try:
            await self._send("remove member", self._remove_member_request(group_id, user_id))
        except GraphError as exc:
            if (failure := await self._remove_failure(group_id, exc)) is not None:
                raise failure from None

    def _remove_member_request(self, group_id: str, user_id: str) -> RequestInformation:
        member = self._client.groups.by_group_id(group_id).members.by_directory_object_id(user_id)
        return member.ref.to_delete_request_information()

    async def _remove_failure(self, group_id: str, error: GraphError) -> GraphError | None:
        """What Graph's error for a member removal means: None when the group exists (no such membership is left),
        else the error to raise (GraphNotFound for a missing group, final when the group refuses members)."""
        if isinstance(error, GraphNotFound):
            return None if await self.group_exists(group_id) else error
        if isinstance(error, GraphUnavailable):
            return error
        if error.graph_status in (400, 403):
            return await self._member_refusal(group_id, error)
        return error

    async def group_exists(self, group_id: str) -> bool:
        try:
            await self._get_group("get group", group_id, ["id"])
        except GraphNotFound:
            return False
        return True

    async def group_problem(self, group_id: str) -> str:
        try:
            group = json_group(await self._get_group("get group", group_id, GROUP_REFUSAL_FIELDS))
        except GraphNotFound:
            return "the group does not exist"
        return group_refusal(group)

    async def apply_changes(self, changes: UserChanges) -> list[ChangeOutcome]:
        writes = changes.changes
        steps = {str(n): (_CHANGE_ACTIONS[change.kind], self._change_request(changes, change))
                 for n, change in enumerate(writes)}
        ids = list(steps)
        if len(ids) == 1:  # one write needs no envelope
            errors = {ids[0]: await self._send_alone(*steps[ids[0]])}
        else:
            parts = await asyncio.gather(*(self._send_independent({i: steps[i] for i in ids[start:start + MAX_ITEMS]})
                                           for start in range(0, len(ids), MAX_ITEMS)))
            errors = {step_id: error for part in parts for step_id, error in part.items()}
        return list(await asyncio.gather(*(self._outcome(changes.user_id, change, errors[str(n)])
                                           for n, change in enumerate(writes))))

    def _change_request(self, changes: UserChanges, change: Change) -> RequestInformation:
        if change.kind == "add":
            return self._add_member_request(change.target, changes.user_id)
        if change.kind == "remove":
            return self._remove_member_request(change.target, changes.user_id)
        return self._update_user_request(changes.user_id, changes.attributes)

    async def _send_alone(self, action: str, info: RequestInformation) -> GraphError | None:
        try:
            await self._send(action, info)
        except GraphError as exc:
            return exc
        return None

    async def _outcome(self, user_id: str, change: Change, error: GraphError | None) -> ChangeOutcome:
        """The write's outcome from Graph's answer, as its single call reads it (`add_member`, `remove_member`):
        what the group read that tells a refusal from an error raises (throttled, say) is the outcome too."""
        try:
            if error is not None and change.kind == "add":
                error = await self._add_failure(change.target, user_id, error)
            elif error is not None and change.kind == "remove":
                error = await self._remove_failure(change.target, error)
        except GraphError as exc:
            error = exc
        return ChangeOutcome(change, error)

    async def _get_group(self, action: str, group_id: str, fields: list[str]) -> dict[str, Any]:
        query = GroupItemRequestBuilder.GroupItemRequestBuilderGetQueryParameters(select=fields)
        return await self._send(action, self._client.groups.by_group_id(group_id).to_get_request_information(
            RequestConfiguration(query_parameters=query)))

    # --- the directory pass ----------------------------------------------------------------------
    async def list_guests(self, sign_in_activity: bool, sponsors: bool = False) -> GuestListing:
        users: list[DirectoryUser] = []
        scan = await self.scan_guests(users.extend, sign_in_activity=sign_in_activity, sponsors=sponsors)
        return GuestListing(users, scan.requests, sign_ins_read=scan.sign_ins_read, sign_in_note=scan.sign_in_note)

    async def scan_guests(self, on_page: OnDirectoryPage, *, sign_in_activity: bool,
                          sponsors: bool = False) -> GuestScan:
        """The directory pass (`guest_pass.GuestPass`): one chain, then ranges read at the same time."""
        return await GuestPass(self._send, self._client.users, self._max_concurrency).run(
            on_page, sign_in_activity=sign_in_activity, sponsors=sponsors)

    async def transitive_member_ids(self, group_id: str) -> set[str]:
        # The OData cast (/microsoft.graph.user) is an advanced query: group-list-transitivemembers.md says the
        # ConsistencyLevel: eventual header and $count=true are required with it, on every page.
        members = self._client.groups.by_group_id(group_id).transitive_members.graph_user
        query = members.GraphUserRequestBuilderGetQueryParameters(select=["id"], top=GUEST_PAGE, count=True)
        first = members.to_get_request_information(RequestConfiguration(query_parameters=query))
        items, _ = await self._pages("list transitive members", first, members.with_url, ADVANCED_QUERY)
        return {item["id"] for item in items}

    async def sponsor_ids(self, user_id: str) -> tuple[str, ...]:
        sponsors = self._client.users.by_user_id(user_id).sponsors
        query = sponsors.SponsorsRequestBuilderGetQueryParameters(select=["id"])
        first = sponsors.to_get_request_information(RequestConfiguration(query_parameters=query))
        items, _ = await self._pages("list sponsors", first, sponsors.with_url)
        return tuple(item["id"] for item in items)

    async def _pages(self, action: str, first: Any, with_url: Callable[[str], Any],
                     headers: dict[str, str] | None = None) -> tuple[list[dict[str, Any]], int]:
        """Follow @odata.nextLink from `first`, reading raw JSON pages through the SDK's adapter (auth,
        middleware and error mapping kept; no model parsing); `headers` go with every page."""
        items: list[dict[str, Any]] = []
        info, requests = first, 0
        while info is not None:
            for name, value in (headers or {}).items():
                info.headers.try_add(name, value)
            page, link = json_page(await self._send(action, info))
            requests += 1
            items.extend(page)
            info = with_url(link).to_get_request_information() if link else None
        return items, requests


