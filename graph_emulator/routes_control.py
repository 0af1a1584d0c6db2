"""The control API under /_emulator: health, switches, reset, fixtures and assertions. No auth, never faulted,
throttled or counted."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .config import ConfigError
from .control_seed import SeedError, add_members, change_user, seed_group, seed_user, seed_users
from .responses import graph_timestamp, utc_now
from .schema import USER_PROPERTIES, empty_value
from .state import Emulator
from .store import GroupRecord, UserRecord

PREFIX = "/_emulator"
ControlHandler = Callable[[Request, Emulator], Awaitable[Any]]


class ControlError(Exception):
    """An error answer of the control API: `{"error": {"code", "message"}}`."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def full_user(emulator: Emulator, user: UserRecord) -> dict:
    """Every property of a user plus what the emulator tracks (deletion, memberships, sponsors, lag)."""
    view = {name: empty_value(kind) for name, kind in USER_PROPERTIES.items()}  # a bulk-seeded user holds fewer
    view.update(user.props)
    view.update(deleted=user.deleted, purged=user.purged(utc_now()),
                memberOf=[group.id for group in emulator.directory.groups_of(user.id)],
                membershipsToRestore=list(user.groups_at_deletion), sponsors=list(user.sponsors),
                lagRemaining=user.lag_remaining, invitations=list(user.invitations))
    return view


async def _body(request: Request) -> dict:
    raw = await request.body()
    try:
        value = json.loads(raw) if raw.strip() else {}
    except ValueError:
        raise ControlError(400, "body is not JSON") from None
    if not isinstance(value, dict):
        raise ControlError(400, "body must be a JSON object")
    return value


def _user(emulator: Emulator, request: Request) -> UserRecord:
    user = emulator.directory.users.get(request.path_params["user_id"].lower())
    if user is None:
        raise ControlError(404, f"no user {request.path_params['user_id']}")
    return user


async def health(request: Request, emulator: Emulator) -> dict:
    return {"status": "ok", "users": len(emulator.directory.users), "groups": len(emulator.directory.groups)}


async def get_config(request: Request, emulator: Emulator) -> dict:
    return emulator.switches.to_json()


async def patch_config(request: Request, emulator: Emulator) -> dict:
    try:
        return emulator.configure(await _body(request)).to_json()
    except ConfigError as error:
        raise ControlError(400, str(error)) from None


async def reset(request: Request, emulator: Emulator) -> dict:
    emulator.reset()
    return {"status": "reset", "config": emulator.switches.to_json()}


async def create_user(request: Request, emulator: Emulator) -> tuple[int, dict]:
    try:
        return 201, full_user(emulator, seed_user(emulator, await _body(request)))
    except SeedError as error:
        raise ControlError(error.status, str(error)) from None


async def create_users(request: Request, emulator: Emulator) -> tuple[int, dict]:
    """POST /users/bulk: many users in one call (see `seed_users`); answers their ids in order."""
    try:
        users = seed_users(emulator, await _body(request))
    except SeedError as error:
        raise ControlError(error.status, str(error)) from None
    return 201, {"created": len(users), "ids": [user.id for user in users]}


async def list_users(request: Request, emulator: Emulator) -> list[dict]:
    mail = request.query_params.get("mail")
    users = emulator.directory.users_by_email(mail) if mail else list(emulator.directory.users.values())
    return [full_user(emulator, user) for user in users]


async def get_user(request: Request, emulator: Emulator) -> dict:
    return full_user(emulator, _user(emulator, request))


async def update_user(request: Request, emulator: Emulator) -> dict:
    user = _user(emulator, request)
    try:
        change_user(user, await _body(request))
        emulator.directory.upn_changed()
    except SeedError as error:
        raise ControlError(error.status, str(error)) from None
    return full_user(emulator, user)


async def remove_user(request: Request, emulator: Emulator) -> tuple[int, None]:
    emulator.directory.purge(_user(emulator, request).id)
    return 204, None


async def redeem(request: Request, emulator: Emulator) -> dict:
    user = _user(emulator, request)
    user.props.update(externalUserState="Accepted", externalUserStateChangeDateTime=graph_timestamp(utc_now()))
    return full_user(emulator, user)


async def age_deletion(request: Request, emulator: Emulator) -> dict:
    user = _user(emulator, request)
    days = (await _body(request)).get("days")
    if isinstance(days, bool) or not isinstance(days, (int, float)):
        raise ControlError(400, "days must be a number")
    if user.deleted_at is None:
        raise ControlError(409, "user is not deleted")
    user.deleted_at -= timedelta(days=days)
    user.props["deletedDateTime"] = graph_timestamp(user.deleted_at)
    return full_user(emulator, user)


async def create_group(request: Request, emulator: Emulator) -> tuple[int, dict]:
    try:
        group = seed_group(emulator, await _body(request))
    except SeedError as error:
        raise ControlError(error.status, str(error)) from None
    return 201, {**group.props, "members": list(group.members)}


async def list_groups(request: Request, emulator: Emulator) -> list[dict]:
    return [{**group.props, "members": list(group.members)} for group in emulator.directory.groups.values()]


def _group(emulator: Emulator, request: Request) -> GroupRecord:
    group = emulator.directory.groups.get(request.path_params["group_id"].lower())
    if group is None:
        raise ControlError(404, f"no group {request.path_params['group_id']}")
    return group


async def group_members(request: Request, emulator: Emulator) -> list[str]:
    return list(_group(emulator, request).members)


async def add_group_members(request: Request, emulator: Emulator) -> list[str]:
    """POST /groups/{id}/members {"ids": [...]}: users or groups (nested groups); answers the member ids."""
    group = _group(emulator, request)
    try:
        add_members(emulator, group, await _body(request))
    except SeedError as error:
        raise ControlError(error.status, str(error)) from None
    return list(group.members)


async def remove_group(request: Request, emulator: Emulator) -> tuple[int, None]:
    emulator.directory.remove_group(_group(emulator, request).id)
    return 204, None


async def get_calls(request: Request, emulator: Emulator) -> dict:
    return emulator.calls.to_json()


async def clear_calls(request: Request, emulator: Emulator) -> tuple[int, None]:
    emulator.reset_calls()
    return 204, None


def _endpoint(handler: ControlHandler) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        try:
            result = await handler(request, request.app.state.emulator)
        except ControlError as error:
            return JSONResponse({"error": {"code": "ControlError", "message": error.message}}, error.status)
        status, body = result if isinstance(result, tuple) else (200, result)
        return Response(status_code=204) if status == 204 else JSONResponse(body, status)
    return endpoint


_TABLE: list[tuple[str, str, ControlHandler]] = [
    ("GET", "/health", health),
    ("GET", "/config", get_config),
    ("PATCH", "/config", patch_config),
    ("POST", "/reset", reset),
    ("POST", "/users/bulk", create_users),
    ("POST", "/users", create_user),
    ("GET", "/users", list_users),
    ("GET", "/users/{user_id}", get_user),
    ("PATCH", "/users/{user_id}", update_user),
    ("DELETE", "/users/{user_id}", remove_user),
    ("POST", "/users/{user_id}/redeem", redeem),
    ("POST", "/users/{user_id}/age-deletion", age_deletion),
    ("POST", "/groups", create_group),
    ("GET", "/groups", list_groups),
    ("DELETE", "/groups/{group_id}", remove_group),
    ("GET", "/groups/{group_id}/members", group_members),
    ("POST", "/groups/{group_id}/members", add_group_members),
    ("GET", "/calls", get_calls),
    ("DELETE", "/calls", clear_calls),
]


def control_routes() -> list[Route]:
    """Starlette routes of the control API."""
    return [Route(PREFIX + path, _endpoint(handler), methods=[method]) for method, path, handler in _TABLE]
