"""OpenAPI 3.0.3 and Swagger 2.0 descriptions of the HTTP API.

Both are built from the app object `function_app` creates (the routes it registers) and from the pydantic models the
functions validate with, so they cannot drift from the code. The auth mode changes only the security scheme they
document: the function key (`x-functions-key`), or with LIFECYCLE_HTTP_AUTH=entra a Microsoft Entra bearer token.
The committed files are the function-key documents whatever the shell's LIFECYCLE_HTTP_AUTH:
`python -m lifecycle.http.openapi --write` writes `openapi/openapi.json`, `openapi/swagger.json` and
`connector/apiDefinition.swagger.json`; `--check` exits 1 when they are stale."""
from __future__ import annotations

import argparse
import functools
import json
import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, get_args

import azure.functions as func
from pydantic import BaseModel

from lifecycle import __version__
from lifecycle.http.idempotency import HEADER as IDEMPOTENCY_HEADER
from lifecycle.http.idempotency import MUTATING, REPLAY_HEADER
from lifecycle.http.pipeline import authenticates
from lifecycle.http.roles import rule_for
from lifecycle.http.schemas import (
    AdoptReport,
    AdoptRequest,
    ApprovalReport,
    ApproveRequest,
    AttestRequest,
    ErrorResponse,
    ExpiryPlan,
    ExtendRequest,
    GuestPage,
    GuestResource,
    HealthReport,
    HistoryPage,
    InviteRequest,
    ListQuery,
    MyGuestsPage,
    MyGuestsQuery,
    PageQuery,
    ReinviteRequest,
    RunDetail,
    RunsPage,
)
from lifecycle.registry import HttpFunction, http_functions

ROOT = Path(__file__).resolve().parents[2]
OPENAPI_FILE = ROOT / "openapi" / "openapi.json"
SWAGGER_FILE = ROOT / "openapi" / "swagger.json"
CONNECTOR_FILE = ROOT / "connector" / "apiDefinition.swagger.json"
CONNECTOR_HOST = "your-function-app.azurewebsites.net"
BASE_PATH = "/api"
JSON = "application/json"
AuthMode = Literal["function", "entra"]
SECURITY_SCHEME = "api_key"
ENTRA_SCHEME = "entra"
KEY_HEADER = "x-functions-key"
COMPONENTS = "#/components/schemas/"
DEFINITIONS = "#/definitions/"
API_VERSION = __version__  # the app's one version (lifecycle/__init__.py)
MODULE = "lifecycle.http.openapi"
RETRY_AFTER_SECONDS = "Seconds to wait before the next call."

ACCEPTED = ("Accepted: Graph work for this guest (group changes) is still pending. The body is the guest as it is "
            "now; poll the `Location` URL (GET /api/guests/{id}) after `Retry-After` seconds until it answers 200. "
            "This is the asynchronous polling pattern of Logic Apps and Power Automate.")
ERRORS = {
    400: "Invalid input: body, query, route id or Idempotency-Key. `error.details` lists the fields.",
    403: ("Refused by a safety rule or policy: not a guest, group not managed, email domain not allowed "
          "(`DomainNotAllowed`: the allow and block lists judge every address of the guest: its mail, its otherMails "
          "and its userPrincipalName). With Microsoft Entra authentication also: the caller lacks the app role the "
          "operation requires (`CallerNotAllowed`, naming it), or a sponsor asked about a guest it does not sponsor "
          "(`NotGuestSponsor`)."),
    404: "No tracked guest with this id, or Graph does not know the object.",
    409: ("A concurrent change, or a request with the same Idempotency-Key still in progress: retry later. Or the "
          "guest's stored record cannot be read (`UnreadableRecord`, naming it): an operator must repair it. "
          "Approving a plan: it was approved already (`PlanAlreadyApproved`: nothing ran again), or EXPIRY_DRY_RUN, "
          "the emergency stop, is on (`EmergencyStop`)."),
    410: ("The plan is older than EXPIRY_PLAN_MAX_AGE_HOURS (`PlanExpired`): make a new plan (GET /api/expiry/plan), "
          "review it and approve that one."),
    422: ("The Idempotency-Key was already used with a different request (`IdempotencyKeyReused`), or Graph refused "
          "what the request references for good (`GraphRejectedInput`: an unknown sponsor, a group that no longer "
          "exists or refuses members: dynamic membership, synchronised from on-premises, role-assignable). "
          "`error.details` carries Graph's own code and message and, when a guest was recorded, its id. Or the "
          "change would make the guest's record hold more than it may (`LimitExceeded`: at most 5 sponsors, "
          "Microsoft Entra's limit, and 500 groups); nothing was written, the message says what to send instead."),
    502: "Microsoft Graph refused the request for a reason that retrying will not fix.",
    503: "Graph throttled past the retry budget, storage unreachable, no access token from the app's identity "
         "(`IdentityUnavailable`: the message says what to check), or the app misconfigured (`ConfigurationError`, "
         "naming the setting). Retry later.",
}


@dataclass(frozen=True)
class AuthScheme:
    """How a caller authenticates in one auth mode: the security scheme and the text that tells it."""

    name: str
    scheme: dict[str, str]
    how: str
    unauthorized: str


AUTH_SCHEMES: dict[str, AuthScheme] = {
    "function": AuthScheme(
        SECURITY_SCHEME, {"type": "apiKey", "in": "header", "name": KEY_HEADER,
                          "description": "A function key of the function app."},
        "Send the function key in the x-functions-key header.",
        "The function key is missing or wrong (send it in the `x-functions-key` header)."),
    "entra": AuthScheme(
        ENTRA_SCHEME, {"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
                       "description": "A Microsoft Entra access token for the API's app registration, checked by "
                                      "App Service authentication."},
        "Send a Microsoft Entra access token for the API's app registration as a bearer token in the "
        "Authorization header.",
        "The request did not come through App Service authentication: the Microsoft Entra token (or the browser's "
        "session) is missing or not valid for this API. A valid caller without the app role the operation "
        "requires is refused with 403 `CallerNotAllowed`, naming the role."),
}
READ_ERRORS = (400, 401, 403, 404, 409, 502, 503)
CHANGE_ERRORS = (400, 401, 403, 404, 409, 422, 502, 503)
PATH_PARAMETERS = {
    "id": ("Guest ID", "Entra object id of the guest (a GUID)."),
    "groupId": ("Group ID", "Object id of a managed group (a GUID)."),
    "runId": ("Run ID", "Id of a sweep run, as GET /api/expiry/runs lists it (e.g. 20261201T030000123456Z-1a2b3c4d)."),
    "planId": ("Plan ID", "The planId GET /api/expiry/plan returned."),
}
RUN_ID_PATTERN = r"^\d{8}T\d{12}Z-[0-9a-f]{8}$"
NOT_GUIDS = {"runId", "planId"}  # path parameters that are run or plan ids, not GUIDs
ACRONYMS = {"id": "ID", "ids": "IDs", "url": "URL", "cc": "CC"}
ROUTE_PARAMETER = re.compile(r"\{(\w+)(?::[^}]*)?\}")


@dataclass(frozen=True)
class ApiOperation:
    """How one registered HTTP function is documented."""

    operation_id: str
    summary: str
    description: str
    tag: str
    success: dict[int, str]
    errors: tuple[int, ...] = CHANGE_ERRORS
    response: type[BaseModel] | None = GuestResource
    body: type[BaseModel] | None = None
    body_required: bool = True
    query: type[BaseModel] | None = None
    error_bodies: dict[int, type[BaseModel]] = field(default_factory=dict)
    visibility: str | None = None


def _guest_ok(text: str) -> dict[int, str]:
    return {200: text, 202: ACCEPTED}


OPERATIONS: dict[str, ApiOperation] = {
    "invite_guest": ApiOperation(
        "InviteGuest", "Invite a guest",
        "Invites a B2B guest, or adopts the guest who already exists with this email, then adds it to the managed "
        "groups given and, for an existing guest, writes the sponsors given to Graph. The record is written before "
        "Graph is called. Answers 202 with Location and Retry-After while group additions are still pending. "
        "With `sendInvitationMessage`, Microsoft sends its invitation mail, but it leaves out the custom "
        "`message` when an app (this function's managed identity) sends the invitation; to send your own text, "
        "leave `sendInvitationMessage` false and mail `inviteRedeemUrl` yourself: it is in the response and in "
        "the data of the `guest.invited` event.",
        "Guests", {201: "Invited: a new guest. The body carries `inviteRedeemUrl`.",
                   200: "The guest already existed with this email and is now tracked.", 202: ACCEPTED},
        errors=(400, 401, 403, 409, 422, 502, 503), body=InviteRequest, visibility="important"),
    "get_guest": ApiOperation(
        "GetGuest", "Get a guest",
        "Returns one guest's record. While Graph work is pending each call also retries it, so this is the URL "
        "that the 202 Location header points to.",
        "Guests", _guest_ok("The guest."), errors=READ_ERRORS, visibility="important"),
    "list_guests": ApiOperation(
        "ListGuests", "List guests",
        "Lists tracked guests, filtered by email, state or expiry, one page at a time. Pass `continuationToken` "
        "from a page to get the next one. A stored record that cannot be read is left out and named in `skipped`.",
        "Guests", {200: "One page of guests."}, errors=(400, 401, 403, 503), response=GuestPage, query=ListQuery),
    "add_guest_to_group": ApiOperation(
        "AddGuestToGroup", "Add a guest to a group",
        "Adds the guest to a managed group. Idempotent: adding a member again succeeds. Answers 202 while Graph "
        "has not confirmed the membership yet. Refused (403 DomainNotAllowed) when the domain lists refuse an "
        "address of the guest.",
        "Groups", _guest_ok("The guest, now a member of the group.")),
    "remove_guest_from_group": ApiOperation(
        "RemoveGuestFromGroup", "Remove a guest from a group",
        "Removes the guest from a managed group. Idempotent: removing a non-member succeeds.",
        "Groups", _guest_ok("The guest, no longer a member of the group.")),
    "disable_guest": ApiOperation(
        "DisableGuest", "Disable a guest",
        "Blocks the guest's sign-in (accountEnabled false): that is what stops a guest. It also revokes the "
        "guest's sessions, but a guest signs in at its home organisation, so the revoke does not reach those "
        "sessions, and access tokens already issued stay valid until they expire (up to an hour). Only users "
        "whose userType is Guest are changed.",
        "Lifecycle", _guest_ok("The disabled guest.")),
    "enable_guest": ApiOperation(
        "EnableGuest", "Enable a guest", "Unblocks the sign-in of a disabled guest.",
        "Lifecycle", _guest_ok("The enabled guest.")),
    "extend_guest": ApiOperation(
        "ExtendGuest", "Extend a guest's access",
        "Moves the guest's expiry to `expiresAt`, or by `days`. `days` never shortens access: it counts from the "
        "later of now and the current expiry (a guest expiring in 10 days extended by 30 keeps 40). `expiresAt` "
        "sets the date given. Extending a guest disabled by expiry re-enables it. Refused (403 DomainNotAllowed) "
        "when the domain lists refuse an address of the guest.",
        "Lifecycle", _guest_ok("The guest with its new expiry."), body=ExtendRequest),
    "reinvite_guest": ApiOperation(
        "ReinviteGuest", "Re-invite a guest",
        "Resets the guest's redemption status and returns a new redemption link in `inviteRedeemUrl`. Refused "
        "(403 DomainNotAllowed) when the domain lists refuse an address of the guest.",
        "Lifecycle", _guest_ok("The guest, with the new `inviteRedeemUrl`."), body=ReinviteRequest,
        body_required=False),
    "delete_guest": ApiOperation(
        "DeleteGuest", "Delete a guest",
        "Soft-deletes the guest in Entra; it can be restored for 30 days. The record is kept.",
        "Lifecycle", _guest_ok("The deleted guest.")),
    "restore_guest": ApiOperation(
        "RestoreGuest", "Restore a deleted guest", "Restores a soft-deleted guest within 30 days of its deletion.",
        "Lifecycle", _guest_ok("The restored guest.")),
    "adopt_guests": ApiOperation(
        "AdoptGuests", "Adopt the directory's existing guests",
        "Starts tracking the guests that already exist in the directory (all, or the members, direct or nested, of "
        "`groupId`), with an expiry `expiresInDays` from now. Reads Graph, never writes to it; idempotent (tracked "
        "guests are counted, not adopted again); members are never adopted, nor listed in the report. `groupId` "
        "must be a managed or an excluded group (403 otherwise). A guest is skipped, with the reason, when the "
        "domain lists refuse one of its addresses, or when its only address is in otherMails and a member owns "
        "it. Each adopted guest gets the event "
        "`guest.adopted`. Refused (409) when the adopted guests would make more guests due at once than the "
        "mass-deletion guard allows; `dryRun` reports without changing anything. Refused (422 `AdoptionTooLarge`, "
        "nothing written) when the directory holds more guests than ADOPT_HTTP_MAX_GUESTS: `python -m lifecycle "
        "adopt` adopts any number.",
        "Directory", {200: "What was adopted (in a dry run: what would be)."},
        errors=(400, 401, 403, 404, 409, 422, 502, 503),
        response=AdoptReport, body=AdoptRequest, body_required=False),
    "expiry_plan": ApiOperation(
        "GetExpiryPlan", "Show the next sweep's plan",
        "Every action the next expiry sweep would take, with its reason, the date it is based on and its evidence, "
        "what the per-run cap defers and whether the mass-deletion guard would trip: when it does, every action it "
        "holds back is still listed, marked `heldByGuard`. Computed from the same directory pass and planning "
        "function as the sweep; changes no guest. The plan is kept under `planId` (each action with the version of "
        "the record it was made from) for POST /api/expiry/plan/{planId}/approve.",
        "Directory", {200: "The plan."}, errors=(400, 401, 403, 502, 503), response=ExpiryPlan),
    "approve_plan": ApiOperation(
        "ApproveExpiryPlan", "Approve a reviewed plan",
        "Runs exactly the actions of the plan, once, the mass-deletion guard's hold lifted (admin only: the app role "
        "Guests.Admin, or any key in key mode; `reason` is required and audited with every action). Each action starts "
        "from the record the plan was made from: a guest whose record changed since is skipped and reported, never "
        "acted on from stale data; a guest Graph no longer shows as a guest is refused. A plan older than "
        "EXPIRY_PLAN_MAX_AGE_HOURS is refused (410), a second approval runs nothing (409), and none runs while "
        "EXPIRY_DRY_RUN, the emergency stop, is on (409). The run is stored (GET /api/expiry/runs/{runId}).",
        "Directory", {200: "What each action of the plan came to."}, errors=(400, 401, 403, 404, 409, 410, 422, 503),
        response=ApprovalReport, body=ApproveRequest),
    "list_runs": ApiOperation(
        "ListExpiryRuns", "List past sweeps",
        "The expiry sweep's runs (timer, command line, dry run, approved plans), newest first, each with its "
        "outcome and report; kept EXPIRY_RUN_RETENTION_DAYS days. Pass `continuationToken` for older ones.",
        "Directory", {200: "A page of runs."}, errors=(400, 401, 403, 503), response=RunsPage, query=PageQuery),
    "get_run": ApiOperation(
        "GetExpiryRun", "Get one sweep",
        "One run with, per guest, what was planned and what happened (done, already done, skipped, failed, held by "
        "the mass-deletion guard, deferred by the per-run cap, excluded).",
        "Directory", {200: "The run."}, errors=(400, 401, 403, 404, 503), response=RunDetail),
    "guest_history": ApiOperation(
        "GetGuestHistory", "Get a guest's history",
        "Every audit entry of the guest, newest first: who (the Entra principal, the key's fingerprint, or the "
        "sweep), what, how it ended, when, Graph's request ids, and the details (for the "
        "sweep's actions the evidence: rule, dates, policy numbers, run id). Pass `continuationToken` for older "
        "ones.",
        "Guests", {200: "A page of the guest's history."}, errors=(400, 401, 403, 404, 503), response=HistoryPage,
        query=PageQuery),
    "my_guests": ApiOperation(
        "ListMyGuests", "List the signed-in caller's guests",
        "The guests whose record names the caller among their sponsors (as invitations and the directory pass "
        "record them), or every tracked guest for a caller holding Guests.Read; `caller` says who the app sees "
        "and which of the two the page holds (without Microsoft Entra authentication: every guest). A sponsor's "
        "pages are read from the records in storage pages: a page may hold fewer guests than `pageSize`, even "
        "none, while `continuationToken` is set; follow it to the end.",
        "Sponsors", {200: "One page of the caller's guests."}, errors=(400, 401, 403, 503), response=MyGuestsPage,
        query=MyGuestsQuery),
    "attest_guest": ApiOperation(
        "AttestGuest", "Decide for a sponsored guest",
        "A sponsor's decision on one of its guests (callers holding Guests.Manage decide for any guest), audited "
        "with the caller. `keep`: the guest keeps its access; with ATTESTATION_DAYS its expiry moves to at least "
        "that many days from now, never earlier (the domain lists judge its addresses first). Only an invited or "
        "active guest can be kept (409 `NotKeepable` otherwise). `remove`: the guest is disabled now (reason "
        "`sponsor`, event `guest.disabled`) and deleted by the sweep after the grace period; an administrator's "
        "extend re-enables it. A sponsor is checked in the record and, before the write, in Microsoft Graph "
        "(403 `NotGuestSponsor`).",
        "Sponsors", {200: "The guest after the decision."}, body=AttestRequest),
    "health": ApiOperation(
        "GetHealth", "Check health",
        "Reports whether the configuration is valid, whether a Microsoft Graph token can be had (asked of the "
        "app's credential, served from its cache after the first; never a Graph call) and whether storage answers. "
        "Shows statuses, never a setting's value or a secret: a setting at fault is named, a failing check says "
        "what to check. Anonymous, for probes.",
        "Service", {200: "Healthy."}, errors=(503,), response=HealthReport, error_bodies={503: HealthReport},
        visibility="advanced"),
    "openapi_document": ApiOperation(
        "GetOpenApiDocument", "Get the OpenAPI document",
        "Returns this OpenAPI 3 description, with `servers` set to the URL it was fetched from when that host is "
        "the app's own host name or loopback (else the relative `/api`). Anonymous.",
        "Service", {200: "The OpenAPI 3.0.3 document."}, errors=(), response=None, visibility="internal"),
}

TITLE = "Guest Lifecycle"
ABOUT = "Lifecycle of Microsoft Entra B2B guests: invite, group access, expiry, disable, delete, every step recorded."
CONVENTIONS = (
    "POST /guests, PUT .../groups/{groupId} and GET /guests/{id} answer 202 with Location and Retry-After while group "
    "changes are pending: poll Location until 200. Send an Idempotency-Key on POST, PUT and DELETE to make retries "
    "safe. Errors are {\"error\": {\"code\", \"message\", \"details\"}}.")
SERVERS = [
    {"url": "https://{functionApp}.azurewebsites.net/api", "description": "The function app in Azure",
     "variables": {"functionApp": {"default": "your-function-app", "description": "Name of the function app"}}},
    {"url": "http://localhost:7071/api", "description": "Local: python -m lifecycle serve, or func start"},
]


# --- pydantic JSON Schema -> OpenAPI 3.0 schema ----------------------------------------------------
def humanize(name: str) -> str:
    """`expiresInDays` -> `Expires in days`, `groupId` -> `Group ID`: the label Power Automate shows."""
    words = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", name).lower().split()
    words = [ACRONYMS.get(word, word) for word in words]
    return " ".join([words[0][:1].upper() + words[0][1:], *words[1:]]) if words else name


def _auto_title(name: str) -> str:
    return name.replace("_", " ").title()


def to_oas3_schema(node: Any) -> Any:
    """One JSON Schema node as OpenAPI 3.0 has it: `anyOf [X, null]` -> X + `nullable`, no null defaults."""
    if isinstance(node, list):
        return [to_oas3_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    result: dict[str, Any] = {}
    for key, value in node.items():
        if key == "properties":
            result[key] = {name: _property(name, prop) for name, prop in value.items()}
        elif key != "$defs" and not (key == "default" and value is None):
            result[key] = to_oas3_schema(value)
    if "anyOf" in result:
        result = _without_null(result)
    for bound in ("exclusiveMinimum", "exclusiveMaximum"):
        if isinstance(result.get(bound), (int, float)) and not isinstance(result[bound], bool):
            result["minimum" if bound == "exclusiveMinimum" else "maximum"] = result[bound]
            result[bound] = True
    if "$ref" in result and len(result) > 1:
        result = {"allOf": [{"$ref": result.pop("$ref")}], **result}
    return result


def _without_null(node: dict[str, Any]) -> dict[str, Any]:
    variants = node["anyOf"]
    rest = [variant for variant in variants if variant != {"type": "null"}]
    if len(rest) == len(variants):
        return node
    others = {key: value for key, value in node.items() if key != "anyOf"}
    if len(rest) > 1:
        return {"anyOf": rest, **others, "nullable": True}
    only = rest[0]
    base = {"allOf": [only]} if "$ref" in only else dict(only)
    return {**base, **others, "nullable": True}


def _property(name: str, prop: dict[str, Any]) -> dict[str, Any]:
    converted = to_oas3_schema(prop)
    title = converted.pop("title", None)
    summary = title if title and title != _auto_title(name) else humanize(name)
    return {**converted, "x-ms-summary": summary}


class Schemas:
    """The component schemas one document refers to, collected from the models it uses."""

    def __init__(self) -> None:
        self.components: dict[str, Any] = {}

    def ref(self, model: type[BaseModel], mode: str = "serialization", *, request: bool = False) -> dict[str, str]:
        """Add `model` (and the models it nests) and return a `$ref` to it. The required fields of a request
        model are marked important, so Power Automate shows them first."""
        schema = model.model_json_schema(ref_template=COMPONENTS + "{model}", mode=mode)  # type: ignore[arg-type]
        for name, nested in schema.pop("$defs", {}).items():
            self._add(name, to_oas3_schema(nested))
        converted = to_oas3_schema(schema)
        if request:
            for name in converted.get("required", []):
                converted["properties"][name]["x-ms-visibility"] = "important"
        self._add(model.__name__, converted)
        return {"$ref": COMPONENTS + model.__name__}

    def _add(self, name: str, schema: dict[str, Any]) -> None:
        if self.components.setdefault(name, schema) != schema:
            raise ValueError(f"two different schemas are named {name}")


# --- the OpenAPI 3 document ------------------------------------------------------------------------
def auth_mode_of(app: func.FunctionApp) -> AuthMode:
    """The mode `function_app` built the app for: its HTTP functions are anonymous by default only when App Service
    authentication guards them (LIFECYCLE_HTTP_AUTH=entra)."""
    return "entra" if app.auth_level == func.AuthLevel.ANONYMOUS else "function"


def build_openapi(app: func.FunctionApp, auth: AuthMode | None = None) -> dict[str, Any]:
    """The OpenAPI 3.0.3 document of the app's HTTP functions, for the auth mode `auth` (default: the app's own).
    Fails on an auth level that does not match what the function's pipeline does."""
    functions = http_functions(app)
    expected = "FUNCTION" if auth_mode_of(app) == "function" else "ANONYMOUS"
    for function in functions:
        level = expected if authenticates(function.handler) else "ANONYMOUS"
        if function.auth_level != level:
            raise ValueError(f"HTTP function {function.name!r} has auth level {function.auth_level}, not {level}")
    return describe(functions, auth or auth_mode_of(app))


NOT_API = frozenset({"portal_page", "portal_script", "portal_style"})
"""HTTP functions that are not API operations (the sponsor page and its files: HTML, script, style sheet): never
described."""


def describe(functions: Iterable[HttpFunction], auth: AuthMode = "function") -> dict[str, Any]:
    """The OpenAPI 3.0.3 document of these HTTP functions (but NOT_API); fails on a function with no ApiOperation,
    or an ApiOperation with no function."""
    if auth not in get_args(AuthMode):
        raise ValueError(f"auth mode {auth!r} is not documented")
    scheme = AUTH_SCHEMES[auth]
    schemas, documented = Schemas(), set()
    paths: dict[str, dict[str, Any]] = {}
    for function in functions:
        if function.name in NOT_API:
            continue
        if function.name not in OPERATIONS:
            raise KeyError(f"HTTP function {function.name!r} has no entry in lifecycle.http.openapi.OPERATIONS")
        documented.add(function.name)
        path = "/" + ROUTE_PARAMETER.sub(r"{\1}", function.route)
        for method in function.methods:
            paths.setdefault(path, {})[method.lower()] = _operation(function, OPERATIONS[function.name], schemas,
                                                                     scheme)
    stale = set(OPERATIONS) - documented
    if stale:
        raise KeyError(f"OPERATIONS documents functions that are not registered: {sorted(stale)}")
    info = {"title": TITLE, "version": API_VERSION, "description": f"{ABOUT} {scheme.how} {CONVENTIONS}"}
    return {"openapi": "3.0.3", "info": info, "servers": SERVERS, "tags": _tags(),
            "paths": {path: paths[path] for path in sorted(paths)},
            "components": {"schemas": dict(sorted(schemas.components.items())),
                           "securitySchemes": {scheme.name: scheme.scheme}}}


def _tags() -> list[dict[str, str]]:
    names = dict.fromkeys(operation.tag for operation in OPERATIONS.values())
    return [{"name": name} for name in names]


def _operation(function: HttpFunction, operation: ApiOperation, schemas: Schemas,
               scheme: AuthScheme) -> dict[str, Any]:
    mutating = any(method in MUTATING for method in function.methods)
    description = operation.description
    if authenticates(function.handler):
        description += f" Who may call, with Microsoft Entra authentication: {rule_for(function.name).describe()}."
    result: dict[str, Any] = {"operationId": operation.operation_id, "summary": operation.summary,
                              "description": description, "tags": [operation.tag]}
    if operation.visibility:
        result["x-ms-visibility"] = operation.visibility
    result["parameters"] = _parameters(function.route, operation, mutating)
    if operation.body is not None:
        result["requestBody"] = {"required": operation.body_required,
                                 "content": {JSON: {"schema": schemas.ref(operation.body, "validation", request=True)}}}
    result["responses"] = _responses(operation, schemas, mutating, scheme)
    result["security"] = [{scheme.name: []}] if authenticates(function.handler) else []
    return result


def _parameters(route: str, operation: ApiOperation, mutating: bool) -> list[dict[str, Any]]:
    found = [_path_parameter(name) for name in ROUTE_PARAMETER.findall(route)]
    if operation.query is not None:
        found += _query_parameters(operation.query)
    if mutating:
        found.append({"name": IDEMPOTENCY_HEADER, "in": "header", "required": False,
                      "description": "Makes a retry safe: a completed request with this key is replayed for 24 "
                                     "hours instead of running again.",
                      "x-ms-summary": "Idempotency key", "x-ms-visibility": "advanced",
                      "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": r"^[\x21-\x7e]+$"}})
    return found


def _path_parameter(name: str) -> dict[str, Any]:
    summary, description = PATH_PARAMETERS[name]
    schema = {"type": "string", "pattern": RUN_ID_PATTERN} if name in NOT_GUIDS else {"type": "string",
                                                                                       "format": "uuid"}
    return {"name": name, "in": "path", "required": True, "description": description, "x-ms-summary": summary,
            "schema": schema}


def _query_parameters(model: type[BaseModel]) -> list[dict[str, Any]]:
    schema = to_oas3_schema(model.model_json_schema(mode="validation"))
    required = set(schema.get("required", []))
    found = []
    for name, prop in schema["properties"].items():
        prop = {key: value for key, value in prop.items() if key != "nullable"}
        parameter = {"name": name, "in": "query", "required": name in required}
        if "description" in prop:
            parameter["description"] = prop.pop("description")
        parameter["x-ms-summary"] = prop.pop("x-ms-summary")
        found.append({**parameter, "schema": prop})
    return found


def _responses(operation: ApiOperation, schemas: Schemas, mutating: bool, scheme: AuthScheme) -> dict[str, Any]:
    responses: dict[str, Any] = {}
    for status, text in sorted(operation.success.items()):
        body = schemas.ref(operation.response) if operation.response else {"type": "object"}
        responses[str(status)] = _response(text, body, _success_headers(status, mutating))
    for status in operation.errors:
        model = operation.error_bodies.get(status, ErrorResponse)
        headers = {"Retry-After": _header(RETRY_AFTER_SECONDS, "integer")} if status == 503 else {}
        text = scheme.unauthorized if status == 401 else ERRORS[status]
        responses[str(status)] = _response(text, schemas.ref(model), headers)
    return responses


def _success_headers(status: int, mutating: bool) -> dict[str, Any]:
    headers = {}
    if status == 202:
        headers["Location"] = _header("The guest's URL: poll it with GET.", "string", required=True, fmt="uri")
        headers["Retry-After"] = _header(RETRY_AFTER_SECONDS, "integer", required=True)
    if mutating:
        headers[REPLAY_HEADER] = _header("`true` when this is the stored response of an earlier request with the "
                                         "same Idempotency-Key.", "string")
    return headers


def _header(description: str, kind: str, *, required: bool = False, fmt: str | None = None) -> dict[str, Any]:
    schema = {"type": kind, **({"format": fmt} if fmt else {})}
    return {"description": description, **({"required": True} if required else {}), "schema": schema}


def _response(description: str, schema: dict[str, Any], headers: dict[str, Any]) -> dict[str, Any]:
    response: dict[str, Any] = {"description": description}
    if headers:
        response["headers"] = headers
    response["content"] = {JSON: {"schema": schema}}
    return response


# --- OpenAPI 3 -> Swagger 2.0 ----------------------------------------------------------------------
_PARAMETER_KEYS = ("type", "format", "items", "default", "maximum", "minimum", "exclusiveMaximum",
                   "exclusiveMinimum", "maxLength", "minLength", "pattern", "maxItems", "minItems", "enum")


def to_swagger_schema(node: Any) -> Any:
    """A schema as Swagger 2.0 has it: `nullable` -> `x-nullable`, refs to `#/definitions/`, no anyOf."""
    if isinstance(node, list):
        return [to_swagger_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    if "anyOf" in node or "oneOf" in node:
        raise ValueError(f"Swagger 2.0 cannot express anyOf/oneOf: {node}")
    result = {}
    for key, value in node.items():
        if key == "nullable":
            result["x-nullable"] = value
        elif key == "$ref":
            result[key] = value.replace(COMPONENTS, DEFINITIONS)
        elif key == "properties":
            result[key] = {name: to_swagger_schema(prop) for name, prop in value.items()}
        else:
            result[key] = to_swagger_schema(value)
    return result


def build_swagger(openapi: dict[str, Any], host: str | None = None) -> dict[str, Any]:
    """The Swagger 2.0 form of an OpenAPI 3 document built here (for Power Automate and Logic Apps)."""
    document: dict[str, Any] = {"swagger": "2.0", "info": openapi["info"]}
    if host:
        document["host"] = host
    document.update({"basePath": BASE_PATH, "schemes": ["https"], "consumes": [JSON], "produces": [JSON],
                     "tags": openapi["tags"]})
    document["paths"] = {path: {method: _swagger_operation(operation) for method, operation in item.items()}
                         for path, item in openapi["paths"].items()}
    document["definitions"] = {name: to_swagger_schema(schema)
                               for name, schema in openapi["components"]["schemas"].items()}
    document["securityDefinitions"] = {name: _swagger_security(scheme)
                                       for name, scheme in openapi["components"]["securitySchemes"].items()}
    return document


def _swagger_security(scheme: dict[str, str]) -> dict[str, str]:
    """Swagger 2.0 has no bearer scheme: a bearer token is an `Authorization` header."""
    if scheme.get("type") == "http" and scheme.get("scheme") == "bearer":
        return {"type": "apiKey", "in": "header", "name": "Authorization",
                "description": f"{scheme['description']} Send it as `Bearer <token>`."}
    return dict(scheme)


def _swagger_operation(operation: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = {key: operation[key]
                              for key in ("operationId", "summary", "description", "tags", "x-ms-visibility")
                              if key in operation}
    parameters = [_swagger_parameter(parameter) for parameter in operation["parameters"]]
    if "requestBody" in operation:
        body = operation["requestBody"]
        parameters.append({"name": "body", "in": "body", "required": body["required"],
                           "schema": to_swagger_schema(body["content"][JSON]["schema"])})
    result["parameters"] = parameters
    result["responses"] = {status: _swagger_response(response)
                           for status, response in operation["responses"].items()}
    result["security"] = operation["security"]
    return result


def _swagger_parameter(parameter: dict[str, Any]) -> dict[str, Any]:
    schema = to_swagger_schema(parameter["schema"])
    unknown = set(schema) - set(_PARAMETER_KEYS) - {"x-nullable"}
    if unknown:
        raise ValueError(f"parameter {parameter['name']} needs {sorted(unknown)}, which Swagger 2.0 lacks")
    result = {key: value for key, value in parameter.items() if key != "schema"}
    return {**result, **{key: value for key, value in schema.items() if key in _PARAMETER_KEYS}}


def _swagger_response(response: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = {"description": response["description"]}
    if "content" in response:
        result["schema"] = to_swagger_schema(response["content"][JSON]["schema"])
    if "headers" in response:
        result["headers"] = {name: {**header["schema"], "description": header["description"]}
                             for name, header in response["headers"].items()}
    return result


# --- files and command line ------------------------------------------------------------------------
@functools.cache
def served_openapi(app: func.FunctionApp) -> dict[str, Any]:
    """The app's OpenAPI 3 document in its own auth mode, built once per process. Do not change it: copy what you
    alter."""
    return build_openapi(app)


def render(document: dict[str, Any]) -> str:
    """The committed text of a document."""
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def generated_files(app: func.FunctionApp) -> dict[Path, str]:
    """Every file this module generates, with the text it must hold: the function-key documents, whatever mode the
    app was built for."""
    openapi = build_openapi(app, "function")
    return {OPENAPI_FILE: render(openapi), SWAGGER_FILE: render(build_swagger(openapi)),
            CONNECTOR_FILE: render(build_swagger(openapi, host=CONNECTOR_HOST))}


def stale_files(app: func.FunctionApp) -> list[Path]:
    """The generated files whose committed text differs from what the code generates now."""
    return [path for path, text in generated_files(app).items()
            if not path.exists() or path.read_text(encoding="utf-8") != text]


def main(app: func.FunctionApp, argv: list[str] | None = None) -> int:
    """`--write` the generated files, or `--check` that the committed ones are current (exit 1 if not)."""
    parser = argparse.ArgumentParser(prog=f"python -m {MODULE}", description=__doc__.splitlines()[0])
    action = parser.add_mutually_exclusive_group(required=True)
    action.add_argument("--write", action="store_true", help="write openapi/*.json and the connector definition")
    action.add_argument("--check", action="store_true", help="exit 1 if a committed file is out of date")
    args = parser.parse_args(argv)
    if args.write:
        for path, text in generated_files(app).items():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path.relative_to(ROOT)}")
        return 0
    stale = stale_files(app)
    for path in stale:
        print(f"out of date: {path.relative_to(ROOT)} (run python -m {MODULE} --write)", file=sys.stderr)
    return 1 if stale else 0


if __name__ == "__main__":
    import function_app  # the command line documents the app the Functions host indexes

    sys.exit(main(function_app.app))
