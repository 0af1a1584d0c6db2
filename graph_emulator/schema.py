"""Property catalogue of the Graph types the emulator serves (user, group), as Graph v1.0 documents them."""

from __future__ import annotations

STRING, BOOLEAN, STRINGS, SIGN_IN = "string", "boolean", "strings", "signInActivity"

# signInActivity (Graph v1.0 resources/signinactivity.md): the dates are DateTimeOffset strings, null when never.
SIGN_IN_ACTIVITY = "signInActivity"
SIGN_IN_DATES: tuple[str, ...] = ("lastSignInDateTime", "lastNonInteractiveSignInDateTime",
                                  "lastSuccessfulSignInDateTime")
SIGN_IN_FIELDS: tuple[str, ...] = (
    "lastSignInDateTime", "lastSignInRequestId", "lastNonInteractiveSignInDateTime",
    "lastNonInteractiveSignInRequestId", "lastSuccessfulSignInDateTime", "lastSuccessfulSignInRequestId",
)

USER_PROPERTIES: dict[str, str] = {
    "id": STRING,
    "accountEnabled": BOOLEAN,
    "businessPhones": STRINGS,
    "city": STRING,
    "companyName": STRING,
    "country": STRING,
    "createdDateTime": STRING,
    "creationType": STRING,
    "deletedDateTime": STRING,
    "department": STRING,
    "displayName": STRING,
    "employeeId": STRING,
    "employeeType": STRING,
    "externalUserState": STRING,
    "externalUserStateChangeDateTime": STRING,
    "givenName": STRING,
    "imAddresses": STRINGS,
    "jobTitle": STRING,
    "mail": STRING,
    "mailNickname": STRING,
    "mobilePhone": STRING,
    "officeLocation": STRING,
    "otherMails": STRINGS,
    "postalCode": STRING,
    "preferredLanguage": STRING,
    "proxyAddresses": STRINGS,
    "signInActivity": SIGN_IN,
    "signInSessionsValidFromDateTime": STRING,
    "state": STRING,
    "streetAddress": STRING,
    "surname": STRING,
    "usageLocation": STRING,
    "userPrincipalName": STRING,
    "userType": STRING,
}

# What GET /users and GET /users/{id} return when no $select is given.
USER_DEFAULT_SELECT: tuple[str, ...] = (
    "businessPhones", "displayName", "givenName", "id", "jobTitle", "mail",
    "mobilePhone", "officeLocation", "preferredLanguage", "surname", "userPrincipalName",
)

# Properties $filter accepts on users (others in the catalogue are "unsupported" for filtering).
USER_FILTERABLE: frozenset[str] = frozenset({
    "id", "accountEnabled", "businessPhones", "city", "companyName", "country", "creationType",
    "department", "displayName", "employeeId", "employeeType", "externalUserState", "givenName",
    "imAddresses", "jobTitle", "mail", "mailNickname", "mobilePhone", "officeLocation", "otherMails",
    "preferredLanguage", "proxyAddresses", "state", "surname", "usageLocation", "userPrincipalName",
    "userType",
})

# Where `startsWith` and `eq`/`in` work on a user's string property without advanced query parameters
# (aad-advanced-queries.md, "Support for filter by properties of Microsoft Entra ID (directory) objects", the table of
# includes/filter-directory-objects.md): "Default" there is default here, "Advanced" needs ConsistencyLevel: eventual
# and $count=true, a blank cell ("the query is not valid for that property") is refused whatever the headers.
# Properties not named in a dict take the operator by default (`eq`) or not at all (`startsWith`).
USER_STARTSWITH: dict[str, str] = {
    "city": "default", "country": "default", "department": "default", "displayName": "default",
    "employeeId": "default", "givenName": "default", "imAddresses": "default", "mail": "default",
    "mailNickname": "default", "otherMails": "default", "proxyAddresses": "default", "state": "default",
    "surname": "default", "usageLocation": "default", "userPrincipalName": "default", "jobTitle": "default",
    "companyName": "advanced", "employeeType": "advanced", "mobilePhone": "advanced", "officeLocation": "advanced",
    "postalCode": "advanced", "preferredLanguage": "advanced", "streetAddress": "advanced",
}
USER_EQ_ADVANCED: frozenset[str] = frozenset({
    "companyName", "employeeType", "mobilePhone", "officeLocation", "postalCode", "preferredLanguage",
    "streetAddress",
})

# Properties $orderby accepts on users without advanced query parameters.
USER_SORTABLE: frozenset[str] = frozenset({"displayName", "userPrincipalName"})

# Properties PATCH /users/{id} may change.
USER_WRITABLE: frozenset[str] = frozenset({
    "accountEnabled", "displayName", "companyName", "department", "jobTitle", "officeLocation",
    "givenName", "surname", "mobilePhone", "usageLocation", "employeeId", "employeeType", "city",
    "country", "state", "otherMails",
})

GROUP_PROPERTIES: dict[str, str] = {
    "id": STRING,
    "createdDateTime": STRING,
    "description": STRING,
    "displayName": STRING,
    "groupTypes": STRINGS,
    "isAssignableToRole": BOOLEAN,
    "mail": STRING,
    "mailEnabled": BOOLEAN,
    "mailNickname": STRING,
    "membershipRule": STRING,
    "onPremisesSyncEnabled": BOOLEAN,
    "securityEnabled": BOOLEAN,
    "visibility": STRING,
}

GROUP_DEFAULT_SELECT: tuple[str, ...] = tuple(GROUP_PROPERTIES)

TENANT_ID = "9a3c2f4e-6b1d-4c8e-a5f7-0e2d4b6c8a10"
USER_TYPE = "#microsoft.graph.user"
GROUP_TYPE = "#microsoft.graph.group"


def canonical(catalogue: dict[str, str], name: str) -> str | None:
    """Graph matches property names case-insensitively; return the catalogue's spelling or None."""
    lowered = name.lower()
    return next((prop for prop in catalogue if prop.lower() == lowered), None)


def empty_value(kind: str) -> object:
    """What a property of `kind` holds when nothing is set: [] for collections, all-null sign-in activity, else null."""
    if kind == STRINGS:
        return []
    if kind == SIGN_IN:
        return dict.fromkeys(SIGN_IN_FIELDS)
    return None


def valid_value(kind: str, value: object) -> bool:
    """Whether `value` fits a property of `kind` (strings may be null)."""
    if kind == SIGN_IN:
        return isinstance(value, dict) and set(value) <= set(SIGN_IN_FIELDS) and all(
            item is None or isinstance(item, str) for item in value.values())
    if kind == BOOLEAN:
        return isinstance(value, bool)
    if kind == STRINGS:
        return isinstance(value, list) and all(isinstance(item, str) for item in value)
    return value is None or isinstance(value, str)
