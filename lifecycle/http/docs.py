"""GET /api/openapi.json: the OpenAPI 3 description of this API, for tools and connectors. Anonymous."""
from __future__ import annotations

import azure.functions as func

from lifecycle.http.responses import base_url, public_http_handler, json_response
from lifecycle.openapi import BASE_PATH, cached_openapi

bp = func.Blueprint()


@bp.route(route="openapi.json", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
@public_http_handler
async def openapi_document(req: func.HttpRequest) -> func.HttpResponse:
    """The document built once per worker, with `servers` pointing at the URL it was fetched from."""
    return json_response({**cached_openapi(), "servers": [{"url": base_url(req) + BASE_PATH}]})
