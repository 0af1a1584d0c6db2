"""signInActivity: who may read it, how many per page, what a never-signed-in user shows, and the 403s.

Sources: Graph v1.0 api-reference/v1.0/api/user-list.md ("When signInActivity is selected or filtered on, the maximum
page size is 500 ... Requests with `$top` set higher than 500 return pages with up to 500 users"; "Details for the
signInActivity property require a Microsoft Entra ID P1 or P2 license and the AuditLog.Read.All permission"),
resources/signinactivity.md (the fields; Entra keeps sign-ins back to April 2020), resources/user.md ("This property
isn't returned for a user who never signed in or last signed in before April 2020"),
microsoftgraph/microsoft-graph-docs-contrib#3033 (without P1: 403
`Authentication_RequestFromNonPremiumTenantOrB2CTenant`; some tools report empty data instead), and
microsoftgraph/microsoft-graph-explorer-v4#2731 (without AuditLog.Read.All: 403
`Authentication_MSGraphPermissionMissing` "Calling principal does not have required MSGraph permissions
AuditLog.Read.All")."""

from __future__ import annotations

from datetime import datetime

from .errors import GraphError
from .odata_filter import ParsedFilter
from .quotas import throttled, whole_seconds
from .responses import new_guid
from .schema import SIGN_IN_ACTIVITY, SIGN_IN_DATES, SIGN_IN_FIELDS
from .state import Emulator

MAX_SIGN_IN_PAGE = 500
NO_PREMIUM_CODE = "Authentication_RequestFromNonPremiumTenantOrB2CTenant"
NO_PREMIUM_MESSAGE = "Neither tenant is B2C or tenant doesn't have premium license"
NO_PERMISSION_CODE = "Authentication_MSGraphPermissionMissing"
NO_PERMISSION_MESSAGE = "Calling principal does not have required MSGraph permissions AuditLog.Read.All"


def requested(select: list[str] | None, parsed: ParsedFilter | None = None) -> bool:
    """Whether a request reads signInActivity: named in `$select` or used in `$filter`."""
    return (select is not None and SIGN_IN_ACTIVITY in select) or (
        parsed is not None and SIGN_IN_ACTIVITY in parsed.properties)


def page_size(top: int) -> int:
    """The page size a signInActivity read is served with: `$top`, at most 500 (a larger `$top` is not refused)."""
    return min(top, MAX_SIGN_IN_PAGE)


def check_readable(emulator: Emulator) -> None:
    """403 when the app lacks AuditLog.Read.All (switch `signInActivity: "noPermission"`) or the tenant has no Entra
    ID P1 (`"unlicensed"`); 429 when the reports throttle (switch `signInThrottle`, off by default) is spent."""
    if emulator.switches.sign_in_activity == "noPermission":
        raise GraphError(403, NO_PERMISSION_CODE, NO_PERMISSION_MESSAGE)
    if emulator.switches.sign_in_activity == "unlicensed":
        raise GraphError(403, NO_PREMIUM_CODE, NO_PREMIUM_MESSAGE)
    if emulator.switches.sign_in_throttle.enabled:
        wait = emulator.quotas.sign_ins.charge(1)
        if wait is not None:
            raise throttled(whole_seconds(wait))


def shown(emulator: Emulator, item: dict, advanced: bool = False) -> dict:
    """A projected user as the tenant answers it: a user who never signed in has no `signInActivity` key at all;
    with switch `signInActivity: "empty"`, or in a list read with the advanced query parameters (ConsistencyLevel:
    eventual and $count=true), every user shows it with every value null. The latter is what users reported
    (microsoftgraph/msgraph-sdk-powershell#1898: sign-in activity "EMPTY ... when the request includes
    ConsistencyLevel: eventual + $count=true"); the reports are of some users, the emulator takes the stricter
    reading, all of them."""
    if SIGN_IN_ACTIVITY not in item:
        return item
    if emulator.switches.sign_in_activity == "empty" or advanced:
        item[SIGN_IN_ACTIVITY] = dict.fromkeys(SIGN_IN_FIELDS)
    elif not any((item[SIGN_IN_ACTIVITY] or {}).get(name) for name in SIGN_IN_DATES):
        del item[SIGN_IN_ACTIVITY]
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
