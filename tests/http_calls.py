"""Call registered functions the way the Functions host does: with a func.HttpRequest."""
from __future__ import annotations

import json
from typing import Any

import azure.functions as func

import function_app
from lifecycle.registry import indexed_functions

KEY = "test-key"


def function(name: str) -> Any:
    for registered in indexed_functions(function_app.app):
        if registered.get_function_name() == name:
            return registered.get_user_function()
    raise KeyError(name)


def request(method: str, path: str, body: Any = None, *, params: dict[str, str] | None = None,
            route: dict[str, str] | None = None, headers: dict[str, str] | None = None,
            raw: bytes | None = None) -> func.HttpRequest:
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else b"")
    return func.HttpRequest(method=method, url=f"http://localhost:7071/api/{path}", headers=headers or {},
                            params=params or {}, route_params=route or {}, body=data)


async def call(name: str, method: str, path: str, body: Any = None, **kwargs: Any) -> tuple[int, Any, Any]:
    response = await function(name)(request(method, path, body, **kwargs))
    payload = json.loads(response.get_body()) if response.get_body() else None
    return response.status_code, payload, response.headers
