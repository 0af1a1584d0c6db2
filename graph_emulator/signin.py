"""signInActivity: who may read it, how much per page, and what a tenant without Entra ID P1 answers.

Sources: Graph v1.0 user-list.md ("When signInActivity is selected or filtered on, the maximum page size is 500"),
resources/signinactivity.md (fields, null when never), REFERENCE.md "Listing the directory's guests" (only with
`$select`; 403 `Authentication_RequestFromNonPremiumTenantOrB2CTenant` without P1; some tools report empty data),
msgraph-sdk-powershell issue #1898 (a page size above the limit is refused: "Cannot query data for more than 120
users at a time." when the limit was 120)."""

from __future__ import annotations

from datetime import datetime

from .errors import GraphError
from .faults import throttled
from .odata_filter import ParsedFilter
from .responses import new_guid
from .schema import SIGN_IN_ACTIVITY, SIGN_IN_DATES, SIGN_IN_FIELDS
from .state import Emulator

MAX_SIGN_IN_PAGE = 500
NO_PREMIUM_CODE = "Authentication_RequestFromNonPremiumTenantOrB2CTenant"
NO_PREMIUM_MESSAGE = "Neither tenant is B2C or tenant doesn't have premium license"


def requested(select: list[str] | None, parsed: ParsedFilter | None = None) -> bool:
    """Whether a request reads signInActivity: named in `$select` or used in `$filter`."""
    return (select is not None and SIGN_IN_ACTIVITY in select) or (
        parsed is not None and SIGN_IN_ACTIVITY in parsed.properties)


def check_readable(emulator: Emulator, top: int | None = None) -> None:
    """400 for a page above 500 users, 403 when the tenant has no Entra ID P1 (switch `signInActivity`), 429 when
    the reports throttle (switch `signInThrottle`, off by default) is spent."""
    if top is not None and top > MAX_SIGN_IN_PAGE:
        raise GraphError(400, "UnknownError", f"Cannot query data for more than {MAX_SIGN_IN_PAGE} users at a time.")
    if emulator.switches.sign_in_activity == "unlicensed":
        raise GraphError(403, NO_PREMIUM_CODE, NO_PREMIUM_MESSAGE)
    if emulator.switches.sign_in_throttle.enabled:
        retry_after = emulator.sign_in_bucket.charge(1)
        if retry_after is not None:
            raise throttled(retry_after)


def shown(emulator: Emulator, item: dict) -> dict:
    """A projected user as the tenant answers it: with switch `signInActivity: "empty"` every value is null."""
    if SIGN_IN_ACTIVITY in item and emulator.switches.sign_in_activity == "empty":
        item[SIGN_IN_ACTIVITY] = dict.fromkeys(SIGN_IN_FIELDS)
    return item


def normalized(value: dict) -> dict:
    """A seeded signInActivity with every field present: a given date gets a request id, dates must parse."""
    activity = {name: value.get(name) for name in SIGN_IN_FIELDS}
    for date_field in SIGN_IN_DATES:
        moment = activity[date_field]
        if moment is None:
            continue
        datetime.fromisoformat(moment)  # ValueError for a date that is not ISO 8601
        request_field = date_field.replace("DateTime", "RequestId")
        activity[request_field] = activity[request_field] or new_guid()
    return activity
