"""GET /api/openapi.json: the OpenAPI 3 description of this API, for tools and connectors. Anonymous.

The document describes the app object `function_app` hands to `blueprint`, so this module never imports
function_app."""
from __future__ import annotations

import azure.functions as func

from lifecycle.http.openapi import BASE_PATH, served_openapi
from lifecycle.http.pipeline import map_errors, standalone
from lifecycle.http.responses import base_url, json_response


def blueprint(app: func.FunctionApp) -> func.Blueprint:
    """The docs route of `app`: its document in the app's auth mode, built once per worker."""
    bp = func.Blueprint()

    @bp.route(route="openapi.json", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
    @standalone(map_errors)
    async def openapi_document(req: func.HttpRequest) -> func.HttpResponse:
        """The document, with `servers` pointing at the URL it was fetched from."""
        return json_response({**served_openapi(app), "servers": [{"url": base_url(req) + BASE_PATH}]})

    return bp
