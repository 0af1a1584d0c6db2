"""Building users and groups from control-API seed bodies (test fixtures, not Graph requests)."""

from __future__ import annotations

import gc
import json
import os
from typing import Any

from .responses import is_guid
from .schema import GROUP_PROPERTIES, SIGN_IN_ACTIVITY, USER_PROPERTIES, valid_value
from .signin import normalized
from .state import Emulator
from .store import GroupRecord, UserRecord, blank_group, blank_user

_USER_EXTRAS = frozenset({"memberOf", "sponsors"})
_GROUP_EXTRAS = frozenset({"members"})
MAX_BULK = 1_000_000


class SeedError(ValueError):
    """A seed body the control API refuses (400), or an id already taken (409)."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def seed_user(emulator: Emulator, body: dict[str, Any]) -> UserRecord:
    """Create a user from `body` (any catalogued property, plus `memberOf` and `sponsors` id lists)."""
    user, groups = build_user(emulator, body)
    return _commit(emulator, [(user, groups)])[0]


def seed_users(emulator: Emulator, body: dict[str, Any]) -> list[UserRecord]:
    """Create many users in one call, all or nothing: `users` (a list of user bodies) and/or `count` users generated
    from `template`. Every template string may hold `{n}`, replaced by a number unique in this emulator; a
    template without `mail` gets `user{n}@fabrikam.example`. `template` is also the base of each listed user."""
    _check_bulk_body(body)
    template = body.get("template") or {}
    explicit = [{**template, **user} for user in body.get("users") or []]
    numbers = range(emulator.directory.last_seq + 1, emulator.directory.last_seq + 1 + body.get("count", 0))
    generator = {"mail": "user{n}@fabrikam.example", **template}
    if explicit or not numbers or _needs_full_build(generator):
        generated = [_numbered(generator, number) for number in numbers]
        built = [build_user(emulator, user) for user in [*explicit, *generated]]
        ids = [user.id for user, _ in built]
        if len(set(ids)) < len(ids):
            raise SeedError("the same id is given to more than one user")
        return _commit(emulator, built)
    collecting = gc.isenabled()
    gc.disable()  # a million new objects would set off collections that find nothing to collect
    try:
        users = _generated_users(emulator, generator, numbers)
        emulator.directory.add_users(users)
    finally:
        if collecting:
            gc.enable()
    return users


def _needs_full_build(template: dict[str, Any]) -> bool:
    """Whether generated users need `build_user` one by one: a template naming ids, groups or sponsors."""
    return any(name in template for name in ("id", "memberOf", "sponsors"))


def _generated_users(emulator: Emulator, template: dict[str, Any], numbers: range) -> list[UserRecord]:
    """Users from a template, built fast enough for a million (bulk seeding): the template is checked once by
    `build_user`; each user then holds only the properties it has a value for (a dict of a dozen, not of every
    catalogued property: readers fill the others in as null or empty, views.project), the values every user shares
    shared, and only what `{n}` or the mail change computed again."""
    sample, _ = build_user(emulator, _numbered(template, numbers[0]))
    shared = {name: value for name, value in sample.props.items() if value not in (None, [])}
    shared.pop("id")
    if not any(sample.props[SIGN_IN_ACTIVITY].values()):
        shared.pop(SIGN_IN_ACTIVITY)
    numbered = [name for name, value in template.items() if "{n}" in json.dumps(value)]
    user_type = sample.props["userType"]
    given = {name: sample.props[name] for name in template if name in USER_PROPERTIES and name not in numbered}
    users = []
    ids = _guids(len(numbers))
    for number, user_id in zip(numbers, ids, strict=True):
        own = {name: _numbered(template[name], number) for name in numbered}
        props = dict(shared)
        if "mail" in own:
            props.update(_user_defaults(emulator, {**template, **own}, user_type))
            props.update(given)
        props.update(own)
        props["id"] = user_id
        users.append(UserRecord(props))
    return users


def _guids(count: int) -> list[str]:
    """`count` random (version 4) GUIDs, as `new_guid` makes them, from one read of the system's random source."""
    raw = os.urandom(16 * count).hex()
    found = []
    for start in range(0, 32 * count, 32):
        h = raw[start:start + 32]
        found.append(f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{_VARIANT[h[16]]}{h[17:20]}-{h[20:]}")
    return found


_VARIANT = {digit: "89ab"[int(digit, 16) & 3] for digit in "0123456789abcdef"}


def _check_bulk_body(body: dict[str, Any]) -> None:
    unknown = set(body) - {"users", "count", "template"}
    if unknown:
        raise SeedError(f"unknown bulk fields: {sorted(unknown)}")
    if not isinstance(body.get("users", []), list) or not all(isinstance(u, dict) for u in body.get("users", [])):
        raise SeedError("users must be a list of user objects")
    count = body.get("count", 0)
    if isinstance(count, bool) or not isinstance(count, int) or not 0 <= count <= MAX_BULK:
        raise SeedError(f"count must be an integer from 0 to {MAX_BULK}")
    if not isinstance(body.get("template", {}), dict):
        raise SeedError("template must be an object")


def _numbered(value: Any, number: int) -> Any:
    if isinstance(value, str):
        return value.replace("{n}", str(number))
    if isinstance(value, list):
        return [_numbered(item, number) for item in value]
    if isinstance(value, dict):
        return {key: _numbered(item, number) for key, item in value.items()}
    return value


def build_user(emulator: Emulator, body: dict[str, Any]) -> tuple[UserRecord, list[GroupRecord]]:
    """A user (not yet stored) and the groups it joins, from a seed body; SeedError when the body is invalid."""
    _check_properties(body, USER_PROPERTIES, _USER_EXTRAS)
    props = blank_user(_new_id(emulator.directory.users, body.get("id")))
    user_type = body.get("userType") or "Member"
    if user_type not in ("Member", "Guest"):
        raise SeedError("userType must be Member or Guest")
    props.update(_user_defaults(emulator, body, user_type))
    props.update({name: value for name, value in body.items() if name in USER_PROPERTIES and name != "id"})
    props[SIGN_IN_ACTIVITY] = _sign_in(props[SIGN_IN_ACTIVITY])
    groups = _existing_groups(emulator, body.get("memberOf") or [])
    return UserRecord(props, sponsors=_guid_list(body.get("sponsors") or [], "sponsors")), groups


def _commit(emulator: Emulator, built: list[tuple[UserRecord, list[GroupRecord]]]) -> list[UserRecord]:
    for user, groups in built:
        emulator.directory.add_user(user)
        for group in groups:
            group.members[user.id] = None
    return [user for user, _ in built]


def _sign_in(value: dict) -> dict:
    try:
        return normalized(value)
    except ValueError:
        raise SeedError("signInActivity dates must be ISO 8601 timestamps") from None


def _guid_list(values: list, name: str) -> list[str]:
    if not all(isinstance(value, str) and is_guid(value) for value in values):
        raise SeedError(f"{name} must be a list of GUIDs")
    return [value.lower() for value in values]


def _user_defaults(emulator: Emulator, body: dict[str, Any], user_type: str) -> dict[str, Any]:
    mail = body.get("mail")
    local, _, domain = (mail or body.get("displayName") or "user").rpartition("@")
    local = local or domain
    if user_type == "Guest" and mail:
        upn = f"{local}_{domain}#EXT#@{emulator.default_domain}"
    elif mail and domain.lower() in emulator.switches.tenant_domains:
        upn = mail
    else:
        upn = f"{local.replace(' ', '.')}@{emulator.default_domain}"
    guest = user_type == "Guest"
    return {"displayName": local, "userPrincipalName": upn, "userType": user_type,
            "otherMails": [mail] if guest and mail else [], "proxyAddresses": [f"SMTP:{mail}"] if mail else [],
            "externalUserState": "PendingAcceptance" if guest else None,
            "creationType": "Invitation" if guest else None}


def change_user(user: UserRecord, body: dict[str, Any]) -> None:
    """Change a user as someone outside the app would: any catalogued property but `id`, and `lagRemaining`."""
    lag = body.pop("lagRemaining", user.lag_remaining)
    if isinstance(lag, bool) or not isinstance(lag, int) or lag < 0:
        raise SeedError("lagRemaining must be an integer >= 0")
    if "id" in body:
        raise SeedError("id cannot be changed")
    _check_properties(body, USER_PROPERTIES, frozenset())
    if SIGN_IN_ACTIVITY in body:
        body[SIGN_IN_ACTIVITY] = _sign_in({**(user.props.get(SIGN_IN_ACTIVITY) or {}), **body[SIGN_IN_ACTIVITY]})
    user.props.update(body)
    user.lag_remaining = lag


def seed_group(emulator: Emulator, body: dict[str, Any]) -> GroupRecord:
    """Create a group from `body` (catalogued group properties plus a `members` list of user or group ids)."""
    _check_properties(body, GROUP_PROPERTIES, _GROUP_EXTRAS)
    props = blank_group(_new_id(emulator.directory.groups, body.get("id")))
    props["displayName"] = "Group"
    props.update({name: value for name, value in body.items() if name in GROUP_PROPERTIES and name != "id"})
    members = _member_ids(emulator, body.get("members") or [])
    group = emulator.directory.add_group(GroupRecord(props))
    group.members.update(dict.fromkeys(members))
    return group


def add_members(emulator: Emulator, group: GroupRecord, body: dict[str, Any]) -> None:
    """Add users or groups (nesting) to `group` from `{"ids": [...]}`; already-present ids are kept once."""
    if set(body) != {"ids"} or not isinstance(body["ids"], list):
        raise SeedError('the body must be {"ids": [user or group ids]}')
    members = _member_ids(emulator, body["ids"])
    if group.id in members:
        raise SeedError("a group cannot be a member of itself")
    group.members.update(dict.fromkeys(members))


def _member_ids(emulator: Emulator, values: list) -> list[str]:
    ids = [str(value).lower() for value in values]
    known = emulator.directory.users.keys() | emulator.directory.groups.keys()
    unknown = [value for value in ids if value not in known]
    if unknown:
        raise SeedError(f"unknown member ids: {unknown}")
    return ids


def _check_properties(body: dict[str, Any], catalogue: dict[str, str], extras: frozenset[str]) -> None:
    for name, value in body.items():
        if name in extras:
            if not isinstance(value, list):
                raise SeedError(f"{name} must be a list of ids")
        elif name not in catalogue:
            raise SeedError(f"unknown property '{name}'")
        elif not valid_value(catalogue[name], value):
            raise SeedError(f"invalid value for '{name}'")


def _new_id(existing: dict, requested: Any) -> str | None:
    if requested is None:
        return None
    if not isinstance(requested, str) or not is_guid(requested):
        raise SeedError("id must be a GUID")
    if requested.lower() in existing:
        raise SeedError(f"id {requested} already exists", status=409)
    return requested.lower()


def _existing_groups(emulator: Emulator, group_ids: list) -> list[GroupRecord]:
    groups = [emulator.directory.groups.get(str(group_id).lower()) for group_id in group_ids]
    if None in groups:
        raise SeedError(f"unknown group ids in memberOf: {group_ids}")
    return groups
