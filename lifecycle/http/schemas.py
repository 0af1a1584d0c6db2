"""Request and response schemas: the single source for validation and for the API documents."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from lifecycle.domain.commands import InviteGuest
from lifecycle.domain.limits import MAX_SPONSORS
from lifecycle.domain.model import Guest, GuestState
from lifecycle.domain.policy import normal_email
from lifecycle.ports import GuestQuery, Page

MAX_BODY_BYTES = 64 * 1024
MAX_GROUPS_PER_REQUEST = 50
MAX_CC_RECIPIENTS = 1
MAX_LANGUAGE_TAG = 35  # BCP 47 tags in practice; Graph takes e.g. en-US
# Dates the store and the sweep's arithmetic can hold: Table Storage's Edm.DateTime ends in 9999, and the sweep adds
# up to 3650 days of grace or notice to a stored date.
EARLIEST_YEAR = 2000
LATEST_YEAR = 9000

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=256)]
ShortText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]


def _lower_email(value: str) -> str:
    """One normal form: lower case, the domain in ASCII (IDNA), as Graph stores `mail` and as the domain lists are."""
    try:
        return normal_email(value)
    except ValueError as exc:
        raise ValueError(f"the domain is not valid: {exc}") from None


# Graph refuses these in invitedUserEmailAddress (the property's description in Graph's v1.0 $metadata);
# an apostrophe is allowed. mail/otherMails hold no accented characters, so the local part must be ASCII.
GRAPH_REFUSED_EMAIL_CHARACTERS = '~!#$%^&*()+=[]{}\\/|;:"<>?,'


def _graph_accepts(value: str) -> str:
    refused = sorted({char for char in value if char in GRAPH_REFUSED_EMAIL_CHARACTERS})
    if refused:
        raise ValueError(f"Microsoft Graph does not accept {' '.join(refused)} in an email address")
    if not value.rpartition("@")[0].isascii():
        raise ValueError("Microsoft Graph does not accept accented or other non-ASCII characters before the @")
    return value


def _https(value: str) -> str:
    if not value.lower().startswith("https://") or len(value) < 12:
        raise ValueError("must be an https URL")
    return value


def _storable(value: datetime) -> datetime:
    """In UTC, within the years the store and the sweep's date arithmetic can hold."""
    try:
        utc = value.astimezone(UTC)
    except OverflowError:  # an offset that pushes the time past year 9999 or before year 1
        utc = None
    if utc is None or not EARLIEST_YEAR <= utc.year <= LATEST_YEAR:
        raise ValueError(f"must be between the years {EARLIEST_YEAR} and {LATEST_YEAR} (UTC)")
    return utc


def _future(value: datetime) -> datetime:
    utc = _storable(value)
    if utc <= datetime.now(UTC):
        raise ValueError("must be in the future")
    return utc


Email = Annotated[EmailStr, AfterValidator(_lower_email), Field(max_length=254)]
InviteEmail = Annotated[Email, AfterValidator(_graph_accepts)]
HttpsUrl = Annotated[str, StringConstraints(max_length=2048), AfterValidator(_https)]
FutureTime = Annotated[AwareDatetime, AfterValidator(_future)]
StorableTime = Annotated[AwareDatetime, AfterValidator(_storable)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, populate_by_name=True)


class GuestAttributes(_Strict):
    """Directory attributes the app may write on a guest (an allowlist)."""

    companyName: ShortText | None = Field(None, description="Company name")
    department: ShortText | None = Field(None, description="Department")
    jobTitle: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=128)] | None = Field(
        None, description="Job title")
    officeLocation: Annotated[str, StringConstraints(min_length=1, max_length=128)] | None = Field(
        None, description="Office location")
    employeeId: Annotated[str, StringConstraints(min_length=1, max_length=16)] | None = Field(
        None, description="Employee id")
    employeeType: ShortText | None = Field(None, description="Employee type, e.g. Contractor")
    city: Annotated[str, StringConstraints(min_length=1, max_length=128)] | None = Field(None, description="City")
    country: Annotated[str, StringConstraints(min_length=1, max_length=128)] | None = Field(
        None, description="Country")
    usageLocation: Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")] | None = Field(
        None, description="Two-letter ISO country code")

    def to_graph(self) -> dict[str, str]:
        return {key: value for key, value in self.model_dump().items() if value is not None}


def _unique_ids(values: list[UUID]) -> list[UUID]:
    if len(set(values)) != len(values):
        raise ValueError("must not repeat an id")
    return values


class InviteRequest(_Strict):
    """Invite a guest, or adopt the guest who already exists with this email."""

    email: InviteEmail = Field(description="The guest's email address (Microsoft Graph refuses "
                               "~ ! # $ % ^ & * ( ) + = [ ] { } \\ / | ; : \" < > ? , and accented characters "
                               "before the @; an apostrophe is fine)")
    displayName: Text | None = Field(None, description="Display name; Graph derives one when absent")
    redirectUrl: HttpsUrl | None = Field(None, description="Where the guest lands after redemption")
    sendInvitationMessage: bool = Field(False, description="Let Microsoft send the invitation email")
    message: Annotated[str, StringConstraints(max_length=2000)] | None = Field(
        None, description="Custom text for the invitation email. Microsoft leaves it out of the mail when an app "
                          "sends the invitation, as this one does: to send your own text, mail inviteRedeemUrl "
                          "yourself (it is in the guest.invited event)")
    messageLanguage: Annotated[str, StringConstraints(
        max_length=MAX_LANGUAGE_TAG, pattern=r"^[a-zA-Z]{2,3}(-[a-zA-Z0-9]{2,8})*$")] | None = Field(
        None, description="Language of the invitation email, e.g. en-US")
    ccRecipients: Annotated[list[InviteEmail], Field(max_length=MAX_CC_RECIPIENTS)] = Field(
        default_factory=list,
        description="Graph supports one additional recipient; its domain must pass the same allow and block lists")
    groups: Annotated[list[UUID], Field(max_length=MAX_GROUPS_PER_REQUEST), AfterValidator(_unique_ids)] = Field(
        default_factory=list, description="Managed group ids to add the guest to")
    sponsors: Annotated[list[UUID], Field(max_length=MAX_SPONSORS), AfterValidator(_unique_ids)] = Field(
        default_factory=list, description="User ids of up to five sponsors")
    expiresAt: FutureTime | None = Field(None, description="When access ends (ISO 8601 with offset)")
    expiresInDays: Annotated[int, Field(ge=1, le=3650)] | None = Field(None, description="Days until access ends")
    attributes: GuestAttributes | None = Field(None, description="Directory attributes to write")

    @model_validator(mode="after")
    def _one_expiry(self) -> InviteRequest:
        if self.expiresAt is not None and self.expiresInDays is not None:
            raise ValueError("give expiresAt or expiresInDays, not both")
        return self

    def expiry(self, now: datetime, default_days: int) -> datetime:
        if self.expiresAt is not None:
            return self.expiresAt
        return now + timedelta(days=self.expiresInDays or default_days)

    @property
    def group_ids(self) -> tuple[str, ...]:
        return tuple(str(g) for g in self.groups)

    def command(self, now: datetime, default_ttl_days: int) -> InviteGuest:
        """The validated body as the services take it: snake_case, ids as strings, the expiry resolved at `now`."""
        return InviteGuest(
            email=self.email, expires_at=self.expiry(now, default_ttl_days),
            expiry_chosen=self.expiresAt is not None or self.expiresInDays is not None,
            display_name=self.displayName, redirect_url=self.redirectUrl,
            send_invitation_message=self.sendInvitationMessage, message=self.message,
            message_language=self.messageLanguage, cc_recipients=tuple(self.ccRecipients), group_ids=self.group_ids,
            sponsors=tuple(str(s) for s in self.sponsors),
            attributes=tuple(self.attributes.to_graph().items()) if self.attributes else ())


class ExtendRequest(_Strict):
    """Move a guest's expiry: an absolute time or a number of days from now."""

    expiresAt: FutureTime | None = Field(None, description="New expiry (ISO 8601 with offset)")
    days: Annotated[int, Field(ge=1, le=3650)] | None = Field(None, description=(
        "Days to add: counted from the later of now and the current expiry, so it never shortens access"))

    @model_validator(mode="after")
    def _exactly_one(self) -> ExtendRequest:
        if (self.expiresAt is None) == (self.days is None):
            raise ValueError("give exactly one of expiresAt or days")
        return self

    def expiry(self, now: datetime) -> datetime:
        return self.expiresAt if self.expiresAt is not None else now + timedelta(days=self.days or 0)


class ReinviteRequest(_Strict):
    """Give the guest a new redemption link (resets the redemption status)."""

    redirectUrl: HttpsUrl | None = Field(None, description="Where the guest lands after redemption")


class ErrorBody(BaseModel):
    code: str
    message: str
    details: list[Any] = Field(default_factory=list)


class ErrorResponse(BaseModel):
    """Every error the API returns."""

    error: ErrorBody


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z") if value else None


class GuestResource(BaseModel):
    """A guest as every route returns it."""

    id: str
    email: str
    displayName: str
    state: str
    invitationState: str
    groups: list[str]
    pendingGroups: list[str]
    removingGroups: list[str]
    attributes: dict[str, str]
    sponsors: list[str]
    expiresAt: str | None
    invitedAt: str | None
    disabledAt: str | None
    disabledReason: str | None
    deletedAt: str | None
    purgedAt: str | None
    createdAt: str | None
    updatedAt: str | None
    lastError: str | None = None
    pendingAction: str | None = Field(None, description=(
        "The operation recorded as under way on the guest (its intent, e.g. `disable:manual`, written before "
        "Graph is called), null when none is: another operation is refused (409) until it is finished"))
    inviteRedeemUrl: str | None = Field(None, description=(
        "The redemption link, only in the response that created the invitation (or a re-invite). A replay of that "
        "request under the same Idempotency-Key returns the record without it: the link is not stored."))
    attestedAt: str | None = Field(None, description="When a sponsor last kept the guest (attestation), if ever")
    lastSignInAt: str | None = Field(None, description=(
        "The guest's last sign-in as Graph has it now, in GET /api/me/guests (null: never, or the tenant cannot say: "
        "signInActivity needs Entra ID P1 and AuditLog.Read.All)"))
    attestationDueAt: str | None = Field(None, description=(
        "When the next sponsor attestation is due (ATTESTATION_DAYS > 0), in GET /api/me/guests; null otherwise"))
    ignoredFields: list[str] | None = Field(None, description=(
        "Only when an invite named a guest already tracked: the request's fields it did not apply (a second invite "
        "adds groups, sponsors and attributes and moves the expiry later, never earlier; it sends no invitation "
        "and renames nobody)"))

    @classmethod
    def of(cls, guest: Guest, redeem_url: str | None = None) -> GuestResource:
        return cls(
            id=guest.id, email=guest.email, displayName=guest.display_name, state=guest.state.value,
            invitationState=guest.invitation_state.value, groups=list(guest.groups),
            pendingGroups=list(guest.pending_groups), removingGroups=list(guest.removing_groups),
            attributes={**guest.attributes}, sponsors=list(guest.sponsors), expiresAt=_iso(guest.expires_at),
            invitedAt=_iso(guest.invited_at), disabledAt=_iso(guest.disabled_at),
            disabledReason=guest.disabled_reason.value if guest.disabled_reason else None,
            deletedAt=_iso(guest.deleted_at), purgedAt=_iso(guest.purged_at), createdAt=_iso(guest.created_at),
            updatedAt=_iso(guest.updated_at), lastError=guest.last_error or None,
            pendingAction=guest.pending_action or None, inviteRedeemUrl=redeem_url, ignoredFields=None,
            attestedAt=_iso(guest.attested_at), attestationDueAt=None, lastSignInAt=None)


class SkippedRecord(BaseModel):
    id: str = Field(description="The guest id (or the row key) of the stored record")
    reason: str = Field(description="Why it could not be read")


class GuestPage(BaseModel):
    """One page of guests; pass `continuationToken` back to get the next."""

    value: list[GuestResource]
    continuationToken: str | None = None
    skipped: list[SkippedRecord] = Field(default_factory=list, description=(
        "Stored records in this page's range that could not be read (a damaged row), left out of `value`; "
        "GET /api/guests/{id} of one answers 409 UnreadableRecord. An operator repairs or removes the row"))

    @classmethod
    def of(cls, page: Page) -> GuestPage:
        return cls(value=[GuestResource.of(g) for g in page.guests], continuationToken=page.continuation_token,
                   skipped=[SkippedRecord(id=i, reason=reason[:500]) for i, reason in page.unreadable])


class ListQuery(_Strict):
    """Filters and paging of GET /api/guests."""

    email: Email | None = Field(None, description="Only the guest with this email")
    state: str | None = Field(
        None, description="Only guests in this state: inviting, invited, active, disabled, deleted, purged")
    expiringBefore: StorableTime | None = Field(
        None, description="Only guests whose access ends before this time (ISO 8601 with offset)")
    pageSize: Annotated[int, Field(ge=1, le=1000)] = Field(100, description="Guests per page")
    continuationToken: Annotated[str, StringConstraints(max_length=4096)] | None = Field(
        None, description="continuationToken of the previous page")

    model_config = ConfigDict(extra="forbid", strict=False)

    @field_validator("state")
    @classmethod
    def _state(cls, value: str | None) -> str | None:
        if value is not None and value not in {s.value for s in GuestState}:
            raise ValueError(f"must be one of {', '.join(s.value for s in GuestState)}")
        return value

    def guest_query(self) -> GuestQuery:
        return GuestQuery(state=GuestState(self.state) if self.state else None, email=self.email,
                          expiring_before=self.expiringBefore, page_size=self.pageSize,
                          continuation_token=self.continuationToken)


class HealthReport(BaseModel):
    """What GET /api/health reports: overall status (`healthy` / `unhealthy`), the app's `version`, and each check, as
    statuses (never a setting's value): `settings` ("ok", or the settings at fault by name), `graph` {`baseUrl`:
    "configured", `auth`: managed-identity / development-token, `token`: "ok", "development-token" or what to check},
    `storageAuth` {`mode`}, `managedGroups` {`count`, `problems`: [{`position` in MANAGED_GROUP_IDS, `problem`}] for
    each managed group that does not exist or whose members Graph will not change (mail-enabled, dynamic, ...); checked
    every few minutes; the group ids go to the log}, `storage` ("ok" or what went wrong)."""

    status: str
    version: str = Field(description="The app's version (lifecycle/__init__.py; the OpenAPI document's "
                                     "info.version), so a probe shows which release answers")
    checks: dict[str, Any]


# --- adoption and the expiry plan ----------------------------------------------------------------
class AdoptRequest(_Strict):
    """Body of POST /api/adopt (every field optional)."""

    dryRun: bool = Field(False, description="Report what would be adopted; change nothing")
    expiresInDays: Annotated[int, Field(ge=1, le=3650)] | None = Field(
        None, description="Expiry of the adopted guests, in days from now (default GUEST_DEFAULT_TTL_DAYS)")
    groupId: UUID | None = Field(None, description="Adopt only the guests who are members (direct or nested) of "
                                                   "this group")


class AdoptSkip(BaseModel):
    id: str
    reason: str


class AdoptReport(BaseModel):
    """What an adoption did (in a dry run, `adopted` counts the guests that would be adopted)."""

    dryRun: bool
    found: int = Field(description="Guests found in the directory (or in the group)")
    adopted: int
    alreadyTracked: int
    skipped: list[AdoptSkip]
    guard: PlanGuard


class PlanAction(BaseModel):
    guestId: str
    email: str
    action: str = Field(description="notify, disable, delete or purge")
    reason: str = Field(description="expired, inactive, unredeemed, grace-ended, retention-ended or expiring")
    since: str = Field(description="The date the decision is based on (ISO 8601)")
    heldByGuard: bool = Field(False, description=(
        "The mass-deletion guard holds this action back: the sweep does not take it; approving the plan does"))
    evidence: dict[str, Any] = Field(default_factory=dict, description=(
        "Why: `rule` (expired, inactive, unredeemed, grace-ended, retention-ended, notice), the `dates` it rests on "
        "(expiresAt; signInField and signInValue; invitedAt or createdDateTime; disabledAt; deletedAt), the "
        "`policy` numbers in force (INACTIVITY_DAYS, EXPIRY_GRACE_DAYS, INVITE_REDEEM_DAYS, ...)"))


class PlanGuard(BaseModel):
    tripped: bool
    message: str


class PlanExclusion(BaseModel):
    guestId: str
    group: str
    action: str
    reason: str


class ExpiryPlan(BaseModel):
    """What the next sweep would do and why; computing it changes no guest. The plan is kept, so that an admin can
    approve it (POST /api/expiry/plan/{planId}/approve) until `approvableUntil`."""

    planId: str = Field("", description="Pass it to POST /api/expiry/plan/{planId}/approve")
    createdAt: str = Field("", description="When the plan was made (ISO 8601)")
    approvableUntil: str = Field("", description="After this (EXPIRY_PLAN_MAX_AGE_HOURS) it can no longer be approved")
    actions: list[PlanAction] = Field(description=(
        "Every action the sweep would take, those the mass-deletion guard holds back included (`heldByGuard`)"))
    deferred: int = Field(description="Actions over EXPIRY_MAX_ACTIONS_PER_RUN, left for later runs")
    guard: PlanGuard
    excluded: list[PlanExclusion] = Field(description="Actions not taken: the guest is in an excluded group")
    inactivity: str = Field(description="Whether inactivity is decided, and why not when it is not")


AdoptReport.model_rebuild()


# --- sponsors ------------------------------------------------------------------------------------
class AttestRequest(_Strict):
    """A sponsor's decision on a guest."""

    decision: Literal["keep", "remove"] = Field(description=(
        "keep: the guest keeps its access (with ATTESTATION_DAYS its expiry moves to at least that many days from "
        "now, never earlier); remove: the guest is disabled now and deleted after the grace period"))


class MyGuestsQuery(_Strict):
    """Paging of GET /api/me/guests."""

    pageSize: Annotated[int, Field(ge=1, le=1000)] = Field(100, description="Guests per page")
    continuationToken: Annotated[str, StringConstraints(max_length=4096)] | None = Field(
        None, description="continuationToken of the previous page")

    model_config = ConfigDict(extra="forbid", strict=False)


class CallerInfo(BaseModel):
    """Who called, as the app sees it."""

    id: str | None = Field(description="The caller's object id (null without Microsoft Entra authentication)")
    name: str = Field(description="The caller as the audit names it")
    roles: list[str] = Field(description="The app roles the caller holds, with those each implies")
    user: bool = Field(description="A signed-in user (a sponsor of the guests whose record names them)")
    scope: Literal["all", "sponsored"] = Field(description=(
        "all: every tracked guest (the caller holds Guests.Read); sponsored: the guests it sponsors"))


class MyGuestsPage(GuestPage):
    """The signed-in caller's guests: the ones it sponsors, or every tracked guest for a caller holding
    Guests.Read. A sponsor's page may hold fewer guests than pageSize, even none, while `continuationToken` is set:
    follow it to the end."""

    caller: CallerInfo


# --- history, runs and approvals -----------------------------------------------------------------------------------
class PageQuery(_Strict):
    """Paging of the history and the runs."""

    pageSize: Annotated[int, Field(ge=1, le=200)] = Field(50, description="Items per page")
    continuationToken: Annotated[str, StringConstraints(max_length=4096)] | None = Field(
        None, description="continuationToken of the previous page")

    model_config = ConfigDict(extra="forbid", strict=False)


class HistoryEntry(BaseModel):
    """One audit entry: who (`actor`: `principal:<name>/<object id>` with Entra authentication, else
    `function-key:<fingerprint>`, `expiry-sweep`, `cli`), what, how it ended, when, Graph's request ids, and the
    details (for the sweep's actions `evidence`: the rule, the dates, the policy numbers, the run)."""

    actor: str
    action: str
    outcome: str
    at: str
    graphRequestIds: list[str]
    details: dict[str, Any]

    @classmethod
    def of(cls, entry: Any) -> HistoryEntry:
        return cls(actor=entry.actor, action=entry.action, outcome=entry.outcome, at=_iso(entry.at) or "",
                   graphRequestIds=list(entry.graph_request_ids), details=dict(entry.details))


class HistoryPage(BaseModel):
    """A page of a guest's audit entries, newest first; pass `continuationToken` back for older ones."""

    value: list[HistoryEntry]
    continuationToken: str | None = None


class RunSummary(BaseModel):
    """One sweep: `trigger` timer, cli or approved-plan; `outcome` succeeded, failed, guard-tripped or dry-run; its
    report (the lists it holds are the run's lines: GET /api/expiry/runs/{runId})."""

    runId: str
    trigger: str
    startedAt: str
    finishedAt: str
    dryRun: bool
    outcome: str
    actor: str
    report: dict[str, Any]

    @classmethod
    def of(cls, run: Any) -> RunSummary:
        return cls(runId=run.run_id, trigger=run.trigger, startedAt=_iso(run.started_at) or "",
                   finishedAt=_iso(run.finished_at) or "", dryRun=run.dry_run, outcome=run.outcome, actor=run.actor,
                   report=dict(run.report))


class RunLine(BaseModel):
    """A guest in a run: what was planned (`action`, `reason`, `since`) and what happened (`outcome`: done, already
    done, skipped, failed, not done, planned (dry run), held by the mass-deletion guard, deferred, excluded)."""

    guestId: str
    email: str = ""
    action: str
    reason: str = ""
    since: str = ""
    outcome: str
    detail: str = ""
    heldByGuard: bool | None = None


class RunDetail(RunSummary):
    lines: list[RunLine]

    @classmethod
    def of(cls, run: Any) -> RunDetail:
        return cls(**RunSummary.of(run).model_dump(), lines=[RunLine.model_validate(line) for line in run.lines])


class RunsPage(BaseModel):
    """A page of runs, newest first."""

    value: list[RunSummary]
    continuationToken: str | None = None


class ApproveRequest(_Strict):
    """Approve a reviewed plan: its actions are taken once, the mass-deletion guard's hold lifted."""

    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=1000)] = Field(
        description="Why the plan is approved (written to the audit with every action)")


class ApprovalReport(BaseModel):
    """What running an approved plan did: per action its `outcome` (done, already done, skipped: the guest changed
    since the plan was made, failed)."""

    planId: str
    runId: str
    approvedBy: str
    reason: str
    done: dict[str, int]
    outcomes: dict[str, int]
    guard: dict[str, Any]
    stored: bool = Field(description="Whether the run was stored (GET /api/expiry/runs/{runId})")
    lines: list[RunLine]
