"""Settings: one frozen object read from the environment (app settings in Azure)."""
from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from functools import cached_property
from typing import Literal
from urllib.parse import urlsplit
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator

from lifecycle.domain.policy import AccessPolicy, normal_domain
from lifecycle.errors import ConfigurationError

SETTING_DEFAULTS: dict[str, str] = {
    "GRAPH_BASE_URL": "https://graph.microsoft.com/v1.0",
    "AZURE_CLIENT_ID": "",
    "LIFECYCLE_TABLES_CONNECTION_STRING": "",
    "LIFECYCLE_TABLES_ENDPOINT": "",
    "LIFECYCLE_TABLE_PREFIX": "lifecycle",
    "MANAGED_GROUP_IDS": "",
    "ALLOWED_EMAIL_DOMAINS": "",
    "BLOCKED_EMAIL_DOMAINS": "",
    "INVITE_REDIRECT_URL": "https://myapps.microsoft.com",
    "GUEST_DEFAULT_TTL_DAYS": "90",
    "EXPIRY_SCHEDULE": "0 0 3 * * *",
    "EXPIRY_GRACE_DAYS": "30",
    "INVITE_REDEEM_DAYS": "30",
    "EXPIRY_MAX_ACTIONS_PER_RUN": "500",
    "EXPIRY_DRY_RUN": "false",
    "EXPIRY_GUARD_PERCENT": "20",
    "EXPIRY_GUARD_MIN": "10",
    "EXPIRY_GUARD_WINDOW_HOURS": "24",
    "GRAPH_MAX_CONCURRENCY": "8",
    "EXPIRY_NOTICE_DAYS": "14",
    "LIFECYCLE_EVENTS_QUEUE": "guest-events",
    "LIFECYCLE_QUEUES_ENDPOINT": "",
    "LIFECYCLE_HTTP_AUTH": "function",
    "LIFECYCLE_HTTP_ROLES": "Guests.Admin",
    "LIFECYCLE_HTTP_ALLOWED_CLIENTS": "",
    "LIFECYCLE_HTTP_ALLOWED_PRINCIPALS": "",
    "GRAPH_AUTH": "auto",
    "INACTIVITY_DAYS": "0",
    "EXPIRY_EXCLUDED_GROUP_IDS": "",
    "ATTESTATION_DAYS": "0",
    "MIN_SPONSORS": "0",
    "EXPIRY_RUN_RETENTION_DAYS": "400",
    "EXPIRY_PLAN_MAX_AGE_HOURS": "24",
    "LIFECYCLE_FALLBACK_NOTIFY": "",
    "ADOPT_HTTP_MAX_GUESTS": "20000",
}
"""Every setting the app reads, with its default ('' = none). Infra declares each one; SETTING_DESCRIPTIONS says what
each means."""

SETTING_DESCRIPTIONS: dict[str, str] = {
    "GRAPH_BASE_URL": "Microsoft Graph root, no trailing slash: the global cloud or a national cloud's Graph host "
                      "(a loopback URL is a local emulator, and GRAPH_AUTH=auto then uses a fixed development token)",
    "AZURE_CLIENT_ID": "Client id of the user-assigned managed identity the app runs as (empty: the system-assigned "
                       "identity, or DefaultAzureCredential outside Azure)",
    "LIFECYCLE_TABLES_CONNECTION_STRING": "Table Storage connection string (`UseDevelopmentStorage=true` = Azurite); "
                                          "the events queue uses the same account. Never deployed: Azure uses "
                                          "LIFECYCLE_TABLES_ENDPOINT with the managed identity",
    "LIFECYCLE_TABLES_ENDPOINT": "Table endpoint used with the managed identity when there is no connection string "
                                 "(the queue endpoint is derived from it)",
    "LIFECYCLE_TABLE_PREFIX": "Prefix of every table name: `<prefix>guests`, `<prefix>audit`, `<prefix>idempotency` "
                              "(1-40 letters or digits, starting with a letter)",
    "MANAGED_GROUP_IDS": "Comma-separated ids of the groups the app may add guests to and remove them from; any other "
                         "group is refused (403)",
    "ALLOWED_EMAIL_DOMAINS": "Comma-separated email domains a guest may have (subdomains match); empty: every domain "
                             "not blocked. Judged on every address the guest has in Graph",
    "BLOCKED_EMAIL_DOMAINS": "Comma-separated email domains that are refused (subdomains match), before Graph is "
                             "called",
    "INVITE_REDIRECT_URL": "Where a guest lands after redeeming an invitation (https), unless the request names one",
    "GUEST_DEFAULT_TTL_DAYS": "Days until expiry for a guest invited or adopted without an expiry",
    "EXPIRY_SCHEDULE": "NCRONTAB schedule (UTC, six fields) of the expiry timer; one instance runs it across a "
                       "scaled-out app",
    "EXPIRY_GRACE_DAYS": "Days between the sweep disabling a guest (expiry or inactivity) and deleting it (0: both in "
                         "one run)",
    "INVITE_REDEEM_DAYS": "Days after which an invitation never redeemed is deleted (0: never)",
    "EXPIRY_MAX_ACTIONS_PER_RUN": "Cap on the guest actions of one sweep; the rest wait for the next run",
    "EXPIRY_DRY_RUN": "`true`: every sweep plans and reports, and changes nothing",
    "EXPIRY_GUARD_PERCENT": "Mass-deletion guard: a sweep whose disables and deletes exceed this percentage of the "
                            "tracked guests (and EXPIRY_GUARD_MIN) enforces nothing",
    "EXPIRY_GUARD_MIN": "... and exceed this many guests, so that small tenants are not blocked",
    "EXPIRY_GUARD_WINDOW_HOURS": "The guard also counts the guests the sweep disabled or deleted in this many hours "
                                 "before the run, so that many small runs cannot do what one may not (0: the run "
                                 "alone)",
    "GRAPH_MAX_CONCURRENCY": "Graph calls in flight per worker (halved while Graph throttles)",
    "EXPIRY_NOTICE_DAYS": "Days before expiry when the `guest.expiring` event is sent, once (0: never)",
    "LIFECYCLE_EVENTS_QUEUE": "Storage Queue, in the tables' account, that receives the lifecycle events (CloudEvents)",
    "LIFECYCLE_QUEUES_ENDPOINT": "Queue endpoint used with the managed identity (empty: derived from "
                                 "LIFECYCLE_TABLES_ENDPOINT)",
    "LIFECYCLE_HTTP_AUTH": "`function`: every route but health and the API description needs the function key; "
                           "`entra`: App Service authentication (Microsoft Entra ID) guards the API instead, the "
                           "app refuses (401) any request that did not come through it, and each route requires an "
                           "app role (Guests.Read, Guests.Manage, Guests.Admin; a signed-in user without one is a "
                           "sponsor: docs/roles.md)",
    "LIFECYCLE_HTTP_ROLES": "Entra mode: comma-separated app roles (Guests.Read, Guests.Manage, Guests.Admin) that a "
                            "caller listed in LIFECYCLE_HTTP_ALLOWED_CLIENTS or LIFECYCLE_HTTP_ALLOWED_PRINCIPALS "
                            "holds, besides its token's `roles`",
    "LIFECYCLE_HTTP_ALLOWED_CLIENTS": "Entra mode: comma-separated client application ids (`appid` / `azp`) that hold "
                                      "the roles LIFECYCLE_HTTP_ROLES names",
    "LIFECYCLE_HTTP_ALLOWED_PRINCIPALS": "Entra mode: comma-separated object ids (`oid`) that hold the roles "
                                         "LIFECYCLE_HTTP_ROLES names",
    "GRAPH_AUTH": "How the Graph client gets tokens: `auto` (a fixed development token for a loopback GRAPH_BASE_URL, "
                  "else the managed identity), `managed-identity`, or `development-token` (refused for a Graph that "
                  "is not loopback)",
    "INACTIVITY_DAYS": "Disable guests without a successful sign-in for this many days, then delete them after "
                       "EXPIRY_GRACE_DAYS (0: off; needs AuditLog.Read.All, User.Read.All and Entra ID P1)",
    "EXPIRY_EXCLUDED_GROUP_IDS": "Comma-separated groups whose members (direct or nested) the sweep never disables or "
                                 "deletes; they are reported as skipped",
    "ATTESTATION_DAYS": "A sponsor must attest each guest at least this often (0: off, else 30-365); a sponsor's "
                        "keep (POST /api/guests/{id}/attest) moves the guest's expiry to at least this many days "
                        "from now, never earlier",
    "MIN_SPONSORS": "Sponsors each guest's record must hold (0: off, else 1-5); a guest with fewer is announced once "
                    "(guest.unsponsored, to LIFECYCLE_FALLBACK_NOTIFY) and disabled EXPIRY_GRACE_DAYS later",
    "EXPIRY_RUN_RETENTION_DAYS": "Days a past sweep's record (GET /api/expiry/runs) is kept",
    "EXPIRY_PLAN_MAX_AGE_HOURS": "Hours during which a reviewed expiry plan may still be approved",
    "LIFECYCLE_FALLBACK_NOTIFY": "Who is told when a guest has no sponsor: an email address or a group's object id, "
                                 "carried in the events",
    "ADOPT_HTTP_MAX_GUESTS": "POST /api/adopt refuses (422 AdoptionTooLarge, nothing written) a directory holding "
                             "more guests than this, which one HTTP request cannot adopt in time: `python -m "
                             "lifecycle adopt` adopts any number (resumable, with progress)",
}
"""What each setting of SETTING_DEFAULTS means, one sentence or two: docs/settings.md is generated from it
(`python -m lifecycle.settings_doc --write`; a test fails when a setting has no meaning or the page drifts)."""

_LOOPBACK_NAMES = {"localhost"}
GRAPH_CLOUD_HOSTS = {
    "graph.microsoft.com": "https://graph.microsoft.com/.default",
    "graph.microsoft.us": "https://graph.microsoft.us/.default",
    "dod-graph.microsoft.us": "https://dod-graph.microsoft.us/.default",
    "microsoftgraph.chinacloudapi.cn": "https://microsoftgraph.chinacloudapi.cn/.default",
}
"""Microsoft Graph hosts of the national clouds and the token scope of each (a loopback Graph stands in for the
global cloud)."""
GLOBAL_GRAPH_SCOPE = GRAPH_CLOUD_HOSTS["graph.microsoft.com"]
_TABLE_PREFIX = re.compile(r"^[A-Za-z][A-Za-z0-9]{0,39}$")
_QUEUE_NAME = re.compile(r"^[a-z0-9](?!.*--)[a-z0-9-]{1,61}[a-z0-9]$")
MIN_ATTESTATION_DAYS, MAX_ATTESTATION_DAYS = 30, 365  # ATTESTATION_DAYS: 0 (off), else within these


class AppRole(StrEnum):
    """The app roles of the API's app registration (Entra mode): each HTTP route requires one
    (lifecycle/http/roles.py). Admin holds Manage, Manage holds Read."""

    READ = "Guests.Read"
    MANAGE = "Guests.Manage"
    ADMIN = "Guests.Admin"

    @property
    def implied(self) -> frozenset[AppRole]:
        """This role and every role it holds."""
        order = (AppRole.READ, AppRole.MANAGE, AppRole.ADMIN)
        return frozenset(order[:order.index(self) + 1])


_DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+(?:[a-z]{2,63}|xn--[a-z0-9-]{1,59})$")


def _csv(value: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in value.split(",") if item.strip())


def _url(value: str, *, https_only: bool) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ValueError("must be an absolute http(s) URL")
    if https_only and parts.scheme != "https":
        raise ValueError("must use https")
    try:
        _ = parts.port  # read only to validate it: urlsplit checks the port when it is asked for
    except ValueError:
        raise ValueError("has a port that is not a number from 0 to 65535") from None
    return value


def is_loopback_host(host: str | None) -> bool:
    if not host:
        return False
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class Tuning:
    """Timings that are not deployment settings."""

    claim_wait_seconds: float = 15.0  # how long a request waits for a concurrent invite of the same email
    claim_poll_seconds: float = 0.25
    claim_stale_seconds: float = 120.0  # an `inviting` claim older than this is taken over (its owner died)
    lag_retry_seconds: float = 8.0  # how long a write on a just-invited user is retried while Graph replicates
    lag_first_delay: float = 0.25
    save_attempts: int = 5  # optimistic-concurrency retries for bookkeeping writes
    action_stale_seconds: float = 600.0  # a recorded Graph action older than this is resumed by the sweep
    idempotency_lease_seconds: float = 30.0  # an Idempotency-Key in progress and not renewed for this long lapses
    graph_retry_attempts: int = 6  # attempts per Graph call when Graph throttles (429) or is unavailable (503/504)
    graph_retry_budget_seconds: float = 30.0
    # A token request (Graph's, storage's) to the managed-identity endpoint: connecting, waiting for its answer, and
    # the whole request with the credential's own retries, past which it fails (IdentityUnavailable, 503).
    token_connect_seconds: float = 3.0
    token_read_seconds: float = 10.0
    token_timeout_seconds: float = 15.0
    token_retry_after_seconds: float = 10.0  # after a failed token request, the same token fails at once this long
    health_check_seconds: float = 5.0  # GET /api/health: each check (the Graph token, storage) answers within this


class Settings(BaseModel):
    """Validated, immutable app settings. Build with `Settings.from_env()`."""

    model_config = ConfigDict(frozen=True, populate_by_name=True, extra="ignore")

    graph_base_url: str = Field(alias="GRAPH_BASE_URL")
    azure_client_id: str = Field(alias="AZURE_CLIENT_ID")
    tables_connection_string: str = Field(alias="LIFECYCLE_TABLES_CONNECTION_STRING")
    tables_endpoint: str = Field(alias="LIFECYCLE_TABLES_ENDPOINT")
    table_prefix: str = Field(alias="LIFECYCLE_TABLE_PREFIX")
    managed_group_ids: tuple[str, ...] = Field(alias="MANAGED_GROUP_IDS")
    allowed_email_domains: tuple[str, ...] = Field(alias="ALLOWED_EMAIL_DOMAINS")
    blocked_email_domains: tuple[str, ...] = Field(alias="BLOCKED_EMAIL_DOMAINS")
    invite_redirect_url: str = Field(alias="INVITE_REDIRECT_URL")
    guest_default_ttl_days: int = Field(alias="GUEST_DEFAULT_TTL_DAYS", ge=1, le=3650)
    expiry_schedule: str = Field(alias="EXPIRY_SCHEDULE", min_length=1)
    expiry_grace_days: int = Field(alias="EXPIRY_GRACE_DAYS", ge=0, le=3650)
    invite_redeem_days: int = Field(alias="INVITE_REDEEM_DAYS", ge=0, le=3650)
    expiry_max_actions_per_run: int = Field(alias="EXPIRY_MAX_ACTIONS_PER_RUN", ge=1, le=100_000)
    expiry_dry_run: bool = Field(alias="EXPIRY_DRY_RUN")
    expiry_guard_percent: float = Field(alias="EXPIRY_GUARD_PERCENT", gt=0, le=100)
    expiry_guard_min: int = Field(alias="EXPIRY_GUARD_MIN", ge=0)
    expiry_guard_window_hours: int = Field(alias="EXPIRY_GUARD_WINDOW_HOURS", ge=0, le=720)
    graph_max_concurrency: int = Field(alias="GRAPH_MAX_CONCURRENCY", ge=1, le=64)
    expiry_notice_days: int = Field(alias="EXPIRY_NOTICE_DAYS", ge=0, le=3650)
    events_queue: str = Field(alias="LIFECYCLE_EVENTS_QUEUE")
    queues_endpoint: str = Field(alias="LIFECYCLE_QUEUES_ENDPOINT")
    http_auth: Literal["function", "entra"] = Field(alias="LIFECYCLE_HTTP_AUTH")
    http_roles: tuple[str, ...] = Field(alias="LIFECYCLE_HTTP_ROLES")
    http_allowed_clients: tuple[str, ...] = Field(alias="LIFECYCLE_HTTP_ALLOWED_CLIENTS")
    http_allowed_principals: tuple[str, ...] = Field(alias="LIFECYCLE_HTTP_ALLOWED_PRINCIPALS")
    graph_auth: Literal["auto", "managed-identity", "development-token"] = Field(alias="GRAPH_AUTH")
    inactivity_days: int = Field(alias="INACTIVITY_DAYS", ge=0, le=3650)
    expiry_excluded_group_ids: tuple[str, ...] = Field(alias="EXPIRY_EXCLUDED_GROUP_IDS")
    attestation_days: int = Field(alias="ATTESTATION_DAYS", ge=0, le=MAX_ATTESTATION_DAYS)
    min_sponsors: int = Field(alias="MIN_SPONSORS", ge=0, le=5)
    expiry_run_retention_days: int = Field(alias="EXPIRY_RUN_RETENTION_DAYS", ge=1, le=3650)
    expiry_plan_max_age_hours: int = Field(alias="EXPIRY_PLAN_MAX_AGE_HOURS", ge=1, le=720)
    fallback_notify: str = Field(alias="LIFECYCLE_FALLBACK_NOTIFY", max_length=254)
    adopt_http_max_guests: int = Field(alias="ADOPT_HTTP_MAX_GUESTS", ge=1, le=1_000_000)

    @field_validator("graph_base_url")
    @classmethod
    def _graph_url(cls, value: str) -> str:
        value = value.rstrip("/")
        _url(value, https_only=not is_loopback_host(urlsplit(value).hostname))
        return value

    @field_validator("graph_base_url")
    @classmethod
    def _graph_cloud(cls, value: str) -> str:
        host = (urlsplit(value).hostname or "").lower()
        if not is_loopback_host(host) and host not in GRAPH_CLOUD_HOSTS:
            raise ValueError(f"'{host}' is not a Microsoft Graph host ({', '.join(sorted(GRAPH_CLOUD_HOSTS))})")
        return value

    @field_validator("graph_auth", mode="before")
    @classmethod
    def _graph_auth_name(cls, value: object) -> object:
        return value.lower() if isinstance(value, str) else value

    @field_validator("graph_auth")
    @classmethod
    def _development_token_only_on_loopback(cls, value: str, info: ValidationInfo) -> str:
        graph_url = info.data.get("graph_base_url")  # absent when GRAPH_BASE_URL itself is invalid
        if value == "development-token" and graph_url and not is_loopback_host(urlsplit(graph_url).hostname):
            raise ValueError("GRAPH_AUTH=development-token is refused for a GRAPH_BASE_URL that is not loopback; "
                             "use managed-identity (or auto)")
        return value

    @field_validator("invite_redirect_url")
    @classmethod
    def _redirect_url(cls, value: str) -> str:
        return _url(value, https_only=True)

    @field_validator("tables_endpoint", "queues_endpoint")
    @classmethod
    def _tables_endpoint(cls, value: str) -> str:
        return _url(value, https_only=False).rstrip("/") if value else value

    @field_validator("table_prefix")
    @classmethod
    def _prefix(cls, value: str) -> str:
        if not _TABLE_PREFIX.match(value):
            raise ValueError("must be 1-40 letters or digits, starting with a letter")
        return value

    @field_validator("fallback_notify")
    @classmethod
    def _fallback(cls, value: str) -> str:
        """An email address (a person's or a mail-enabled group's) or a group's object id."""
        if not value:
            return value
        try:
            return str(UUID(value))
        except ValueError:
            pass
        if not re.fullmatch(r"[^@\s,;]+@[^@\s,;]+\.[^@\s,;]+", value):
            raise ValueError("must be an email address or a group's object id (a GUID)")
        return value.lower()

    @field_validator("events_queue")
    @classmethod
    def _queue(cls, value: str) -> str:
        if not _QUEUE_NAME.match(value):
            raise ValueError("must be a valid queue name (3-63 lower-case letters, digits, single hyphens)")
        return value

    @field_validator("managed_group_ids", "expiry_excluded_group_ids", mode="before")
    @classmethod
    def _group_ids(cls, value: object) -> tuple[str, ...]:
        items = _csv(value) if isinstance(value, str) else tuple(value)  # type: ignore[arg-type]
        for item in items:
            try:
                UUID(item)
            except ValueError:
                raise ValueError(f"'{item}' is not a GUID") from None
        return tuple(str(UUID(item)) for item in items)

    @field_validator("http_allowed_clients", "http_allowed_principals", mode="before")
    @classmethod
    def _ids(cls, value: object) -> tuple[str, ...]:
        return EntraAccess.ids(value) if isinstance(value, str) else tuple(value)  # type: ignore[arg-type]

    @field_validator("http_roles", mode="before")
    @classmethod
    def _roles(cls, value: object) -> tuple[str, ...]:
        return EntraAccess.role_names(value) if isinstance(value, str) else tuple(value)  # type: ignore[arg-type]

    @field_validator("attestation_days")
    @classmethod
    def _attestation(cls, value: int) -> int:
        if 0 < value < MIN_ATTESTATION_DAYS:
            raise ValueError(f"must be 0 (off) or from {MIN_ATTESTATION_DAYS} to {MAX_ATTESTATION_DAYS}")
        return value

    @field_validator("allowed_email_domains", "blocked_email_domains", mode="before")
    @classmethod
    def _domains(cls, value: object) -> tuple[str, ...]:
        items = _csv(value) if isinstance(value, str) else tuple(value)  # type: ignore[arg-type]
        domains = tuple(normal_domain(item.lstrip("@")) for item in items)  # one normal form: ASCII (IDNA)
        for domain in domains:
            if not _DOMAIN.match(domain):
                raise ValueError(f"'{domain}' is not a domain name")
        return domains

    @cached_property
    def graph_is_loopback(self) -> bool:
        return is_loopback_host(urlsplit(self.graph_base_url).hostname)

    @cached_property
    def graph_host(self) -> str:
        return (urlsplit(self.graph_base_url).hostname or "").lower()

    @cached_property
    def graph_uses_development_token(self) -> bool:
        """GRAPH_AUTH=development-token, or auto with a loopback Graph: a fixed token, never a request to Azure."""
        return self.graph_auth == "development-token" or (self.graph_auth == "auto" and self.graph_is_loopback)

    @cached_property
    def graph_scope(self) -> str:
        """The token scope of the cloud GRAPH_BASE_URL names."""
        return GRAPH_CLOUD_HOSTS.get(self.graph_host, GLOBAL_GRAPH_SCOPE)

    @cached_property
    def storage_uses_identity(self) -> bool:
        return not self.tables_connection_string

    @cached_property
    def managed_groups(self) -> frozenset[str]:
        return frozenset(self.managed_group_ids)

    @cached_property
    def access_policy(self) -> AccessPolicy:
        """The email-domain lists and the managed groups, as the safety rules check them."""
        return AccessPolicy(self.allowed_email_domains, self.blocked_email_domains, self.managed_groups)

    def table_name(self, kind: str) -> str:
        return f"{self.table_prefix}{kind}"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        source = os.environ if environ is None else environ
        values = {name: source.get(name, "").strip() or default for name, default in SETTING_DEFAULTS.items()}
        try:
            return cls.model_validate(values)
        except ValidationError as exc:
            raise ConfigurationError(_describe(exc), settings=_names(exc)) from None


def entra_authentication_enabled(environ: Mapping[str, str] | None = None) -> bool:
    """LIFECYCLE_HTTP_AUTH=entra: App Service authentication (Microsoft Entra ID) guards the API instead of function
    keys. Read when the app is indexed, to choose the routes' auth level."""
    source = os.environ if environ is None else environ
    return source.get("LIFECYCLE_HTTP_AUTH", "").strip().lower() == "entra"


@dataclass(frozen=True)
class EntraAccess:
    """The allow lists of Entra mode (LIFECYCLE_HTTP_AUTH=entra): a caller whose client application id
    (`appid`/`azp`, LIFECYCLE_HTTP_ALLOWED_CLIENTS) or object id (`oid`, LIFECYCLE_HTTP_ALLOWED_PRINCIPALS) is listed
    holds the app roles `roles` (LIFECYCLE_HTTP_ROLES, default Guests.Admin) besides those its token carries. Every
    other caller holds only its token's roles (lifecycle/http/roles.py decides what each route requires)."""

    roles: frozenset[AppRole]
    clients: frozenset[str]
    principals: frozenset[str]

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> EntraAccess:
        """Read at each request, before the services are built (an invalid id raises ConfigurationError)."""
        source = os.environ if environ is None else environ

        def read(name: str) -> str:
            return source.get(name, "").strip() or SETTING_DEFAULTS[name]

        def ids(name: str) -> frozenset[str]:
            try:
                return frozenset(cls.ids(read(name)))
            except ValueError:
                raise ConfigurationError(f"invalid settings: {name}: must be comma-separated GUIDs",
                                         settings=(name,)) from None

        try:
            roles = frozenset(AppRole(name) for name in cls.role_names(read("LIFECYCLE_HTTP_ROLES")))
        except ValueError as exc:
            raise ConfigurationError(f"invalid settings: LIFECYCLE_HTTP_ROLES: {exc}",
                                     settings=("LIFECYCLE_HTTP_ROLES",)) from None
        return cls(roles, ids("LIFECYCLE_HTTP_ALLOWED_CLIENTS"), ids("LIFECYCLE_HTTP_ALLOWED_PRINCIPALS"))

    @staticmethod
    def role_names(value: str) -> tuple[str, ...]:
        """Comma-separated app roles of the API (AppRole values, exactly as the app registration spells them);
        ValueError naming one that is not."""
        items = _csv(value)
        known = {role.value for role in AppRole}
        for item in items:
            if item not in known:
                raise ValueError(f"'{item}' is not an app role of the API ({', '.join(sorted(known))})")
        return items

    @staticmethod
    def ids(value: str) -> tuple[str, ...]:
        """Comma-separated GUIDs, in lower case; ValueError naming one that is not a GUID."""
        items = _csv(value)
        for item in items:
            try:
                UUID(item)
            except ValueError:
                raise ValueError(f"'{item}' is not a GUID (a client application id or an object id)") from None
        return tuple(str(UUID(item)) for item in items)

    def listed(self, client_ids: set[str], object_id: str) -> bool:
        """Whether the caller is in an allow list (ids in any case)."""
        return bool({c.lower() for c in client_ids} & self.clients or object_id.lower() in self.principals)

    def granted(self, client_ids: set[str], object_id: str) -> frozenset[AppRole]:
        """The app roles the allow lists give this caller (none when it is not listed)."""
        return self.roles if self.listed(client_ids, object_id) else frozenset()


def _describe(exc: ValidationError) -> str:
    problems = []
    for error in exc.errors():
        name = ".".join(str(part) for part in error["loc"]) or "settings"
        problems.append(f"{name}: {error['msg']}")
    return "invalid settings: " + "; ".join(problems)


def _names(exc: ValidationError) -> tuple[str, ...]:
    """The settings at fault, by name, each once."""
    return tuple(dict.fromkeys(".".join(str(part) for part in error["loc"]) for error in exc.errors() if error["loc"]))
