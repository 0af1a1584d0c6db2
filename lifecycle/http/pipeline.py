"""The pipeline every HTTP function runs in: named steps around a handler that receives the services.

    @bp.route(route="guests", methods=["POST"])
    @api
    async def invite_guest(req: func.HttpRequest, services: Services) -> func.HttpResponse: ...

`api` is `pipeline(map_errors, authenticate, idempotent, send_events)`, outermost first: a request is authenticated (and
its caller must hold the app role its route requires: lifecycle/http/roles.py), then its Idempotency-Key claimed, then
it runs in a unit of work that sends each write's events as soon as they are committed (and waits for those sends before
it ends), and whatever any step raises is mapped to the JSON error shape on the way out. The public routes (health, the
API description) run `map_errors` without `authenticate` and `idempotent`; the API description needs no services and
runs in `standalone(map_errors)`.

The services come from one provider, the composition root unless a pipeline is given another: this module is the one
place the HTTP functions reach `lifecycle.wiring` from. Steps receive the provider, not the services, so a request that
a step refuses (401) or answers itself never builds them."""
from __future__ import annotations

from collections.abc import Awaitable, Callable

import azure.functions as func

from lifecycle.errors import LifecycleError
from lifecycle.http.access_log import logged
from lifecycle.http.errors import answer_defect, answer_error
from lifecycle.http.idempotency import MUTATING
from lifecycle.http.roles import authorize, rule_for
from lifecycle.request_log import sending_unit_of_work
from lifecycle.wiring import Services, container

__all__ = ["API_STEPS", "Services", "api", "authenticate", "authenticates", "idempotent", "map_errors", "pipeline",
           "send_events", "standalone"]

Endpoint = Callable[[func.HttpRequest], Awaitable[func.HttpResponse]]
"""What the Functions host calls."""
Handler = Callable[[func.HttpRequest, Services], Awaitable[func.HttpResponse]]
"""What a route implements: the request and the services, to an answer."""
StandaloneHandler = Callable[[func.HttpRequest], Awaitable[func.HttpResponse]]
"""What a route that needs no services implements."""
Provider = Callable[[], Services]
Call = Callable[[func.HttpRequest, Provider], Awaitable[func.HttpResponse]]
"""A handler as the steps see it: the services still to be asked for."""
Step = Callable[[Call], Call]
_AUTHENTICATES = "authenticates"


def pipeline(*steps: Step, services: Provider = container.get) -> Callable[[Handler], Endpoint]:
    """Wrap a handler in `steps` (the first is the outermost); the handler gets the services from `services`."""

    def wrap(handler: Handler) -> Endpoint:
        async def innermost(req: func.HttpRequest, provide: Provider) -> func.HttpResponse:
            return await handler(req, provide())

        return _endpoint(handler, steps, innermost, services)

    return wrap


def standalone(*steps: Step) -> Callable[[StandaloneHandler], Endpoint]:
    """Wrap a handler that needs no services in `steps`: the request never builds them."""

    def wrap(handler: StandaloneHandler) -> Endpoint:
        async def innermost(req: func.HttpRequest, provide: Provider) -> func.HttpResponse:
            return await handler(req)

        return _endpoint(handler, steps, innermost, container.get)

    return wrap


def _endpoint(handler: Callable[..., object], steps: tuple[Step, ...], innermost: Call,
              services: Provider) -> Endpoint:
    call = innermost
    for step in reversed(steps):
        call = (authenticating(handler.__name__) if step is authenticate else step)(call)

    async def endpoint(req: func.HttpRequest) -> func.HttpResponse:
        return await logged(req, lambda: call(req, services))  # each request logged once (http/access_log.py)

    for name in ("__module__", "__name__", "__qualname__", "__doc__"):  # not the signature: the host binds `req`
        setattr(endpoint, name, getattr(handler, name))
    setattr(endpoint, _AUTHENTICATES, authenticate in steps)
    return endpoint


def authenticates(endpoint: Callable[..., object]) -> bool:
    """Whether an HTTP function runs the `authenticate` step (a function not built by a pipeline is assumed to)."""
    return bool(getattr(endpoint, _AUTHENTICATES, True))


def map_errors(inner: Call) -> Call:
    """Every error becomes the documented JSON shape: a LifecycleError its own status, anything else 500."""

    async def call(req: func.HttpRequest, services: Provider) -> func.HttpResponse:
        try:
            return await inner(req, services)
        except LifecycleError as exc:
            return answer_error(req, exc)
        except Exception:  # a defect, never something the caller sent
            return answer_defect(req)

    return call


def authenticate(inner: Call) -> Call:
    """With LIFECYCLE_HTTP_AUTH=entra, only a request that came through App Service authentication goes on (401),
    from a caller the route's rule lets in (403: roles.ROUTE_RULES). A pipeline binds this step to its handler's
    route (`authenticating`); used alone it applies the rule of a route that is not listed (Guests.Admin)."""
    return authenticating("")(inner)


def authenticating(route: str) -> Step:
    """The `authenticate` step of the route whose function is named `route`."""
    rule = rule_for(route)

    def step(inner: Call) -> Call:
        async def call(req: func.HttpRequest, services: Provider) -> func.HttpResponse:
            authorize(req, rule)
            return await inner(req, services)

        return call

    step.__name__ = "authenticate"
    return step


def idempotent(inner: Call) -> Call:
    """POST/PUT/DELETE with an Idempotency-Key: claim it, replay a completed answer, release it when the request
    fails (a release that storage refuses keeps the caller's answer; the claim lapses)."""

    async def call(req: func.HttpRequest, services: Provider) -> func.HttpResponse:
        if not _mutating(req):
            return await inner(req, services)
        return await services().idempotency.handle(req, lambda: inner(req, services))

    return call


def send_events(inner: Call) -> Call:
    """POST/PUT/DELETE run in a sending unit of work: each write's events go to the queue as soon as they are
    committed, in the background of the request, one guest's in commit order; the request ends when every send
    has finished, also when it failed: what was committed before a failure reaches the queue (the outbox keeps
    what cannot be sent)."""

    async def call(req: func.HttpRequest, services: Provider) -> func.HttpResponse:
        if not _mutating(req):
            return await inner(req, services)
        async with sending_unit_of_work(services().dispatcher.sender()):
            return await inner(req, services)

    return call


def _mutating(req: func.HttpRequest) -> bool:
    return req.method.upper() in MUTATING


API_STEPS: tuple[Step, ...] = (map_errors, authenticate, idempotent, send_events)
api = pipeline(*API_STEPS)
