"""The app's HTTP API as the tests call it: each registered function handed a func.HttpRequest, as the Functions host
does, by a caller with headers of its own (a principal, a key), and each answer's JSON read back."""
from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import azure.functions as func

import function_app
from lifecycle.registry import indexed_functions

KEY = "test-key"
BASE_URL = "http://localhost:7071/api/"


class Answer(NamedTuple):
    status: int
    body: Any  # the decoded JSON, None for an empty body
    headers: Mapping[str, str]


def function(name: str, app: func.FunctionApp | None = None) -> Any:
    """The user function registered under `name` on `app` (the app of function_app.py unless given)."""
    for registered in indexed_functions(app if app is not None else function_app.app):
        if registered.get_function_name() == name:
            return registered.get_user_function()
    raise KeyError(name)


def request(method: str, path: str, body: Any = None, *, params: dict[str, str] | None = None,
            route: dict[str, str] | None = None, headers: dict[str, str] | None = None,
            raw: bytes | None = None) -> func.HttpRequest:
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else b"")
    return func.HttpRequest(method=method, url=BASE_URL + path, headers=headers or {}, params=params or {},
                            route_params=route or {}, body=data)


def decoded(response: func.HttpResponse) -> Any:
    """The JSON of an answer; None when it has no body."""
    payload = response.get_body()
    return json.loads(payload) if payload else None


class ApiClient:
    """One caller of the API: every request carries `headers` (with the request's own on top)."""

    def __init__(self, headers: Mapping[str, str] | None = None, *,
                 functions: Callable[[str], Any] = function) -> None:
        self.headers = dict(headers or {})
        self._functions = functions

    def as_caller(self, headers: Mapping[str, str]) -> ApiClient:
        """The same client calling with `headers` (a principal's, from tests.principals) added."""
        return ApiClient({**self.headers, **headers}, functions=self._functions)

    async def call(self, name: str, method: str, path: str, body: Any = None, *,
                   headers: dict[str, str] | None = None, **kwargs: Any) -> Answer:
        response = await self._functions(name)(
            request(method, path, body, headers={**self.headers, **(headers or {})}, **kwargs))
        return Answer(response.status_code, decoded(response), response.headers)

    async def send_invite(self, body: dict[str, Any]) -> Answer:
        """POST /api/guests with `body`, whatever it answers."""
        return await self.call("invite_guest", "POST", "guests", body)

    async def invite(self, email: str, *, accept: tuple[int, ...] = (201,), **fields: Any) -> dict[str, Any]:
        """Invite `email` (the request's other fields as keywords: expiresInDays=30, sponsors=[...]); the guest as
        answered, once the answer's status is one of `accept`."""
        status, body, _ = await self.send_invite({"email": email, **fields})
        assert status in accept, (status, body)
        return body

    async def invite_id(self, email: str, **fields: Any) -> str:
        """The id of the guest `invite` makes."""
        return (await self.invite(email, **fields))["id"]

    async def on_guest(self, name: str, method: str, guest_id: str, verb: str = "", body: Any = None,
                       **kwargs: Any) -> Answer:
        """The guest's own route (`guests/{id}`, or `guests/{id}/{verb}`)."""
        path = f"guests/{guest_id}/{verb}" if verb else f"guests/{guest_id}"
        return await self.call(name, method, path, body, route={"id": guest_id}, **kwargs)


api = ApiClient()
call = api.call
