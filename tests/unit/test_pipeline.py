"""The HTTP pipeline: named steps in order, every error mapped to the JSON shape, the services from one provider."""
from __future__ import annotations

import ast
import asyncio
import inspect
import json
import logging
from typing import Any

import azure.functions as func
import pytest

from lifecycle.errors import GraphUnavailable, LifecycleError, NotFound, StorageUnavailable
from lifecycle.http.pipeline import (
    API_STEPS,
    Call,
    Provider,
    Services,
    authenticates,
    map_errors,
    pipeline,
    standalone,
)
from lifecycle.http.schemas import InviteRequest
from lifecycle.wiring import container
from tests.api_client import function, request
from tests.support import ROOT, logged

ROUTE_MODULES = ("guests", "guest_actions", "directory", "health", "docs", "sponsors", "portal")
PUBLIC_FUNCTIONS = {"health", "openapi_document", "portal_page", "portal_script", "portal_style"}


def body(response: func.HttpResponse) -> Any:
    return json.loads(response.get_body())


def recorded(name: str, log: list[str]) -> Any:
    def step(inner: Call) -> Call:
        async def call(req: func.HttpRequest, services: Provider) -> func.HttpResponse:
            log.append(f"{name} in")
            try:
                return await inner(req, services)
            finally:
                log.append(f"{name} out")

        return call

    return step


class CountingProvider:
    def __init__(self, services: Services) -> None:
        self.services = services
        self.calls = 0

    def __call__(self) -> Services:
        self.calls += 1
        return self.services


def test_the_api_runs_authenticate_idempotent_send_events_inside_map_errors():
    assert [step.__name__ for step in API_STEPS] == ["map_errors", "authenticate", "idempotent", "send_events"]


async def test_steps_run_outermost_first_and_unwind_in_reverse(fakes):
    log: list[str] = []

    async def handler(req: func.HttpRequest, services: Services) -> func.HttpResponse:
        log.append("handler")
        return func.HttpResponse("{}", status_code=200)

    endpoint = pipeline(recorded("first", log), recorded("second", log), services=lambda: fakes.services)(handler)
    assert (await endpoint(request("GET", "guests"))).status_code == 200
    assert log == ["first in", "second in", "handler", "second out", "first out"]


async def test_the_handler_gets_the_services_of_the_provider_it_was_given(fakes):
    provider = CountingProvider(fakes.services)
    seen: list[Services] = []

    async def handler(req: func.HttpRequest, services: Services) -> func.HttpResponse:
        seen.append(services)
        return func.HttpResponse("{}")

    await pipeline(map_errors, services=provider)(handler)(request("GET", "guests"))
    assert seen == [fakes.services] and provider.calls == 1


@pytest.mark.parametrize(("error", "status", "code"), [
    (NotFound("no such guest", code="GuestNotFound"), 404, "GuestNotFound"),
    (LifecycleError("on purpose"), 500, "InternalError"),
])
async def test_map_errors_turns_a_lifecycle_error_into_its_status_and_the_error_shape(fakes, error, status, code):
    async def handler(req: func.HttpRequest, services: Services) -> func.HttpResponse:
        raise error

    response = await pipeline(map_errors, services=lambda: fakes.services)(handler)(request("GET", "guests"))
    assert response.status_code == status and response.mimetype == "application/json"
    assert body(response) == {"error": {"code": code, "message": error.message, "details": []}}


async def test_map_errors_says_when_to_retry_a_dependency_outage(fakes):
    async def handler(req: func.HttpRequest, services: Services) -> func.HttpResponse:
        raise GraphUnavailable("Graph throttled", retry_after=7)

    response = await pipeline(map_errors, services=lambda: fakes.services)(handler)(request("GET", "guests"))
    assert (response.status_code, response.headers["Retry-After"]) == (503, "7")


async def test_an_unexpected_exception_is_a_json_500_that_keeps_its_text_to_the_log(fakes, caplog):
    async def handler(req: func.HttpRequest, services: Services) -> func.HttpResponse:
        raise KeyError("internal detail")

    with caplog.at_level(logging.ERROR, logger="lifecycle.http"):
        response = await pipeline(map_errors, services=lambda: fakes.services)(handler)(request("POST", "guests"))
    assert response.status_code == 500
    assert body(response) == {"error": {"code": "InternalError", "message": "an unexpected error occurred",
                                        "details": []}}
    assert "internal detail" not in response.get_body().decode()
    (entry,) = [entry for entry in logged(caplog.records) if entry["event"] == "unhandled error"]
    assert entry["request"] == "POST /api/guests" and "KeyError: 'internal detail'" in entry["exception"]


async def test_entra_mode_refuses_before_the_idempotency_key_is_claimed_or_the_services_are_built(fakes, monkeypatch):
    monkeypatch.setenv("LIFECYCLE_HTTP_AUTH", "entra")
    monkeypatch.delenv("WEBSITE_AUTH_ENABLED", raising=False)
    provider = CountingProvider(fakes.services)
    ran: list[str] = []

    async def handler(req: func.HttpRequest, services: Services) -> func.HttpResponse:
        ran.append("handler")
        return func.HttpResponse("{}")

    endpoint = pipeline(*API_STEPS, services=provider)(handler)
    response = await endpoint(request("POST", "guests", {}, headers={"Idempotency-Key": "k-1"}))
    assert response.status_code == 401 and body(response)["error"]["code"] == "Unauthorized"
    assert ran == [] and provider.calls == 0 and fakes.keys.records == {}


async def test_what_a_failed_request_committed_is_sent_and_the_key_is_released(fakes):
    async def invite_then_fail(req: func.HttpRequest, services: Services) -> func.HttpResponse:
        command = InviteRequest(email="kept@fabrikam.com").command(services.clock(), 30)
        await services.invitations.invite(command, "test")
        raise RuntimeError("a defect after the commit")

    endpoint = pipeline(*API_STEPS, services=lambda: fakes.services)(invite_then_fail)
    response = await endpoint(request("POST", "guests", {"email": "kept@fabrikam.com"},
                                      headers={"Idempotency-Key": "k-2"}))
    assert response.status_code == 500
    assert [event.type for event in fakes.publisher.published] == ["guest.invited"]
    assert await fakes.store.pending_events(10) == []
    assert fakes.keys.records == {}  # released: a retry with the same key runs again


async def test_a_request_sends_what_it_committed_while_its_handler_still_runs(fakes):
    async def invite_then_wait_for_the_queue(req: func.HttpRequest, services: Services) -> func.HttpResponse:
        command = InviteRequest(email="early@fabrikam.com").command(services.clock(), 30)
        await services.invitations.invite(command, "test")
        async with asyncio.timeout(2):
            while await fakes.store.pending_events(10):
                await asyncio.sleep(0.001)
        return func.HttpResponse("{}", status_code=201)

    endpoint = pipeline(*API_STEPS, services=lambda: fakes.services)(invite_then_wait_for_the_queue)
    assert (await endpoint(request("POST", "guests", {"email": "early@fabrikam.com"}))).status_code == 201
    assert [event.type for event in fakes.publisher.published] == ["guest.invited"]


async def test_a_queue_that_refuses_fails_no_request_and_leaves_the_event_in_the_outbox(fakes, monkeypatch):
    async def refuse(event: Any) -> None:
        raise StorageUnavailable("event queue: unreachable")

    monkeypatch.setattr(fakes.publisher, "publish", refuse)
    response = await function("invite_guest")(request("POST", "guests", {"email": "queued@fabrikam.com"}))
    assert response.status_code == 201 and fakes.publisher.published == []
    assert [event.type for event in await fakes.store.pending_events(10)] == ["guest.invited"]


async def test_a_read_opens_no_unit_of_work_and_claims_no_key(fakes):
    from lifecycle.request_log import committed

    async def handler(req: func.HttpRequest, services: Services) -> func.HttpResponse:
        committed(())  # outside a unit of work this records nothing and does not fail
        return func.HttpResponse("{}")

    endpoint = pipeline(*API_STEPS, services=lambda: fakes.services)(handler)
    assert (await endpoint(request("GET", "guests", headers={"Idempotency-Key": "k-3"}))).status_code == 200
    assert fakes.keys.records == {}


async def test_a_standalone_route_never_builds_the_services():
    def unbuildable() -> Services:
        raise AssertionError("the services were built")

    container.use(unbuildable)
    try:
        response = await function("openapi_document")(request("GET", "openapi.json"))
    finally:
        container.reset()
    assert response.status_code == 200

    async def handler(req: func.HttpRequest) -> func.HttpResponse:
        return func.HttpResponse("{}")

    assert (await standalone(map_errors)(handler)(request("GET", "x"))).status_code == 200


@pytest.mark.parametrize("name", ["invite_guest", "get_guest", "health", "openapi_document"])
def test_the_host_sees_a_function_of_the_request_alone_under_the_handlers_name(name):
    endpoint = function(name)
    assert list(inspect.signature(endpoint).parameters) == ["req"] and endpoint.__name__ == name


def test_only_the_public_routes_skip_authentication():
    import function_app
    from lifecycle.registry import http_functions

    names = {f.name: authenticates(f.handler) for f in http_functions(function_app.app)}
    assert {name for name, checked in names.items() if not checked} == PUBLIC_FUNCTIONS


@pytest.mark.parametrize("module", ROUTE_MODULES)
def test_route_modules_reach_services_only(module):
    tree = ast.parse((ROOT / "lifecycle" / "http" / f"{module}.py").read_text(encoding="utf-8"))
    imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    imported |= {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    assert not {name for name in imported if name and name.startswith(("lifecycle.wiring", "lifecycle.adapters",
                                                                        "function_app"))}
    reached = {node.attr for node in ast.walk(tree) if isinstance(node, ast.Attribute)}
    assert not reached & {"context", "records", "store", "directory", "audit"}, module
