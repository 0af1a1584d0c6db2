"""Reading the wire: the JSON body, the query and the route ids, validated by the pydantic models of schemas.py.
Anything invalid is InvalidRequest (400) with the fields in `details`."""
from __future__ import annotations

from uuid import UUID

import azure.functions as func
from pydantic import BaseModel, ValidationError

from lifecycle.errors import InvalidRequest
from lifecycle.http.schemas import MAX_BODY_BYTES

FUNCTION_KEY_PARAMETER = "code"


def parse_body[M: BaseModel](req: func.HttpRequest, model: type[M], *, optional: bool = False) -> M:
    """The body as `model`; an empty body is `{}` when `optional`, else refused."""
    body = req.get_body() or b""
    if len(body) > MAX_BODY_BYTES:
        raise InvalidRequest(f"the body is larger than {MAX_BODY_BYTES} bytes", code="BodyTooLarge")
    if not body.strip():
        if optional:
            body = b"{}"
        else:
            raise InvalidRequest("a JSON body is required")
    try:
        return model.model_validate_json(body)
    except ValidationError as exc:
        raise InvalidRequest("the request is not valid", details=validation_details(exc)) from None


def parse_query[M: BaseModel](req: func.HttpRequest, model: type[M]) -> M:
    """The query string as `model`, without the function key."""
    try:
        params = {name: value for name, value in req.params.items() if name != FUNCTION_KEY_PARAMETER}
        return model.model_validate(params)
    except ValidationError as exc:
        raise InvalidRequest("the query is not valid", details=validation_details(exc)) from None


def route_guid(req: func.HttpRequest, name: str) -> str:
    """The route parameter `name` as a GUID in its normal form."""
    value = req.route_params.get(name, "")
    try:
        return str(UUID(value))
    except ValueError:
        raise InvalidRequest(f"'{name}' must be a GUID", details=[{"field": name, "message": "not a GUID"}]) from None


def validation_details(exc: ValidationError) -> list[dict[str, str]]:
    return [{"field": ".".join(str(p) for p in error["loc"]) or "body", "message": error["msg"]}
            for error in exc.errors(include_url=False, include_input=False)]
