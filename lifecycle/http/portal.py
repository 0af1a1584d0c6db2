"""GET /api/portal: the sponsor and admin page, with its script and style sheet (/api/portal.js, /api/portal.css).

Static files served as they are (no build step), anonymous at the Functions level: they hold no data. The page gets
its data from the API as the signed-in user (App Service authentication's session cookie; an API answer of 401 sends
the browser to /.auth/login/aad), so App Service authentication must let these three paths through without a
session (infra/modules/entra-auth.bicep lists them in `excludedPaths`). With function keys there is no one to sign
in: the page says so and reads nothing. Every answer carries a Content-Security-Policy that allows only the page's
own script and style sheet and calls to its own origin."""
from __future__ import annotations

import functools
from pathlib import Path

import azure.functions as func

from lifecycle.config import entra_authentication_enabled
from lifecycle.http.pipeline import map_errors, standalone

ASSETS = Path(__file__).with_name("portal")
CONTENT_SECURITY_POLICY = ("default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
                           "img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-cache",
}
PAGES = ("portal", "portal.js", "portal.css")
"""The routes of the page, which App Service authentication lets through without a session."""

bp = func.Blueprint()


@functools.cache
def asset(name: str) -> str:
    return (ASSETS / name).read_text(encoding="utf-8")


def _answer(body: str, mimetype: str) -> func.HttpResponse:
    return func.HttpResponse(body, status_code=200, mimetype=mimetype, charset="utf-8", headers=SECURITY_HEADERS)


@bp.route(route="portal", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
@standalone(map_errors)
async def portal_page(req: func.HttpRequest) -> func.HttpResponse:
    """The page, told the app's auth mode (with function keys it shows a notice and calls nothing)."""
    mode = "entra" if entra_authentication_enabled() else "function"
    return _answer(asset("index.html").replace("{{AUTH_MODE}}", mode), "text/html")


@bp.route(route="portal.js", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
@standalone(map_errors)
async def portal_script(req: func.HttpRequest) -> func.HttpResponse:
    return _answer(asset("portal.js"), "text/javascript")


@bp.route(route="portal.css", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
@standalone(map_errors)
async def portal_style(req: func.HttpRequest) -> func.HttpResponse:
    return _answer(asset("portal.css"), "text/css")
