"""Graph's answers as the project's errors (`translate()` in the adapter): each refusal Graph documents lands on the
error its meaning calls for, so the services and the HTTP mapping never see an SDK type."""
from __future__ import annotations

import pytest

from lifecycle.adapters.graph.errors import step_failure, translate
from lifecycle.adapters.graph.wire import json_user
from lifecycle.errors import GraphBadRequest, GraphNotFound, GraphUnavailable

USER = "6f1c1ef7-2b1e-4a3c-9d51-00000000000a"


def answer(status: int, code: str, message: str, **headers: str) -> dict:
    return {"id": "1", "status": status, "headers": headers, "body": {"error": {"code": code, "message": message}}}


@pytest.mark.parametrize(("code", "message"), [
    # eventual consistency, as reported (not in Graph's docs): a just-created user on a reference write
    ("Request_BadRequest", "Not a valid reference update."),
    # group-post-members.md: "retry after a brief delay"
    ("Request_BadRequest", "The source resource object or one of the objects being referenced don't exist."),
], ids=["not a valid reference update", "objects being referenced don't exist"])
def test_replication_lag_on_a_reference_write_is_not_found_and_so_retried(code: str, message: str) -> None:
    error = translate(step_failure(answer(400, code, message)), "add member")
    assert isinstance(error, GraphNotFound) and error.graph_status == 400


def test_directory_object_not_found_on_a_write_is_lag_too() -> None:
    error = translate(step_failure(answer(404, "Directory_ObjectNotFound", "Unable to read the company information")),
                      "update user")
    assert isinstance(error, GraphNotFound)


def test_another_bad_request_stays_a_bad_request() -> None:
    error = translate(step_failure(answer(400, "Request_BadRequest", "Invalid value for property.")), "update user")
    assert isinstance(error, GraphBadRequest) and not isinstance(error, GraphNotFound)


def test_a_fractional_retry_after_is_rounded_up() -> None:
    # throttling.md: Retry-After may be fractional ("2.128")
    error = translate(step_failure(answer(429, "TooManyRequests", "Too many requests.", **{"Retry-After": "2.128"})),
                      "get user")
    assert isinstance(error, GraphUnavailable) and error.retry_after == 3


def test_a_listing_that_selected_sign_in_activity_reads_its_absence_as_never_signed_in() -> None:
    # user-list.md / signinactivity.md: the property is left out for a user who never signed in
    selected = json_user({"id": USER, "userType": "Guest"}, sign_in_selected=True)
    assert selected.sign_in is not None and selected.sign_in.never_signed_in and selected.sign_in.last is None
    assert json_user({"id": USER, "userType": "Guest"}).sign_in is None  # not asked: unknown


@pytest.mark.parametrize("never", [None, "", "0001-01-01T00:00:00Z"])
def test_a_sign_in_date_graph_writes_as_empty_or_its_minimum_date_is_none(never) -> None:
    # user-list.md's signInActivity example shows a sign-in that never happened as "" or 0001-01-01T00:00:00Z
    user = json_user({"id": USER, "userType": "Guest", "signInActivity": {
        "lastSuccessfulSignInDateTime": never, "lastSignInDateTime": "2026-11-30T08:00:00Z",
        "lastNonInteractiveSignInDateTime": never}}, sign_in_selected=True)
    assert user.sign_in is not None and user.sign_in.last_successful is None
    assert user.sign_in.last is not None and user.sign_in.last.year == 2026  # the interactive date counts
