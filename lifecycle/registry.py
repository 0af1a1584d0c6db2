"""The functions `function_app.app` registers, read the way the Functions host indexes them.

Used by the OpenAPI builder (which `GET /api/openapi.json` reaches in Azure) and by the development server, so it
imports nothing beyond the runtime dependencies."""
from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import azure.functions as func

DEFAULT_METHODS = ("GET", "POST", "PUT", "DELETE")


@dataclass(frozen=True)
class HttpFunction:
    """One HTTP-triggered function: its name, route (without /api), methods, auth level and handler."""

    name: str
    route: str
    methods: tuple[str, ...]
    auth_level: str
    handler: Callable[[func.HttpRequest], Awaitable[func.HttpResponse]]


_INDEXED: dict[int, list[Any]] = {}


def indexed_functions(app: func.FunctionApp) -> list[Any]:
    """`app.get_functions()`, once per app (the SDK refuses to index an app twice). In the Functions host, which
    has indexed the app itself, the functions are built again from the app's builders instead."""
    if id(app) not in _INDEXED:
        if app.functions_bindings:
            _INDEXED[id(app)] = [builder.build(app.auth_level) for builder in app._function_builders]
        else:
            _INDEXED[id(app)] = list(app.get_functions())
    return _INDEXED[id(app)]


def http_functions(app: func.FunctionApp) -> list[HttpFunction]:
    """The HTTP-triggered functions of the app, as the Functions host indexes them."""
    found = []
    for function in indexed_functions(app):
        spec = json.loads(function.get_function_json())
        for binding in spec.get("bindings", []):
            if binding.get("type") == "httpTrigger":
                methods = tuple(m.upper() for m in binding.get("methods") or DEFAULT_METHODS)
                found.append(HttpFunction(function.get_function_name(), binding.get("route") or spec["name"],
                                          methods, str(binding.get("authLevel", "FUNCTION")).upper(),
                                          function.get_user_function()))
    return found
