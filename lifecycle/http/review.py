"""HTTP functions for looking back and approving: a guest's history (its audit entries), the sweep's past runs, and
the approval of a reviewed plan (GET /api/expiry/plan, in directory.py, made and stored it)."""
from __future__ import annotations

import azure.functions as func

from lifecycle.domain.runs import id_time
from lifecycle.errors import InvalidRequest
from lifecycle.http.auth import actor_of
from lifecycle.http.parsing import parse_body, parse_query, route_guid
from lifecycle.http.pipeline import Services, api
from lifecycle.http.responses import json_response
from lifecycle.http.schemas import (
    ApprovalReport,
    ApproveRequest,
    HistoryEntry,
    HistoryPage,
    PageQuery,
    RunDetail,
    RunsPage,
    RunSummary,
)

bp = func.Blueprint()


def route_run_id(req: func.HttpRequest, name: str) -> str:
    """A run or plan id from the route (`<UTC time>-<8 hex digits>`), else 400."""
    value = req.route_params.get(name, "")
    if id_time(value) is None:
        raise InvalidRequest(f"'{name}' is not a run or plan id (e.g. 20261201T030000123456Z-1a2b3c4d)",
                             details=[{"field": name, "message": "not an id this API issued"}])
    return value


@bp.route(route="guests/{id}/history", methods=["GET"])
@api
async def guest_history(req: func.HttpRequest, services: Services) -> func.HttpResponse:
    query = parse_query(req, PageQuery)
    page = await services.views.history(route_guid(req, "id"), query.pageSize, query.continuationToken)
    return json_response(HistoryPage(value=[HistoryEntry.of(e) for e in page.entries],
                                     continuationToken=page.continuation_token))


@bp.route(route="expiry/runs", methods=["GET"])
@api
async def list_runs(req: func.HttpRequest, services: Services) -> func.HttpResponse:
    query = parse_query(req, PageQuery)
    page = await services.views.runs(query.pageSize, query.continuationToken)
    return json_response(RunsPage(value=[RunSummary.of(run) for run in page.runs],
                                  continuationToken=page.continuation_token))


@bp.route(route="expiry/runs/{runId}", methods=["GET"])
@api
async def get_run(req: func.HttpRequest, services: Services) -> func.HttpResponse:
    return json_response(RunDetail.of(await services.views.run(route_run_id(req, "runId"))))


@bp.route(route="expiry/plan/{planId}/approve", methods=["POST"])
@api
async def approve_plan(req: func.HttpRequest, services: Services) -> func.HttpResponse:
    request = parse_body(req, ApproveRequest)
    report = await services.approvals.approve(route_run_id(req, "planId"), actor_of(req), request.reason)
    return json_response(ApprovalReport.model_validate(report))
