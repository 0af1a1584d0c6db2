"""POST /$batch (concepts/json-batching.md): items in dependsOn order through their own routes, only fully parallel,
fully sequential or fan-out-from-the-first batches, 424 after a failed dependency, at most 20 items, per-item throttle
and faults, latency once per batch, Graph's 400s for a malformed batch; and the app's Graph adapter blocking a
guest's sign-in in one batch."""

from __future__ import annotations

import re
import time

import httpx
import pytest

from lifecycle.adapters.graph.directory import GraphDirectory
from lifecycle.config import Settings
from lifecycle.errors import GraphNotFound
from tests.support import app_environment

UNKNOWN = "00000000-0000-4000-8000-00000000dead"
JSON = {"Content-Type": "application/json"}


def disable(item_id: str, user_id: str, **extra) -> dict:
    return {"id": item_id, "method": "PATCH", "url": f"/users/{user_id}", "headers": JSON,
            "body": {"accountEnabled": False}, **extra}


def revoke(item_id: str, user_id: str, **extra) -> dict:
    return {"id": item_id, "method": "POST", "url": f"/users/{user_id}/revokeSignInSessions", "headers": JSON,
            "body": {}, **extra}


def answers(response: httpx.Response) -> dict[str, dict]:
    assert response.status_code == 200, response.text
    return {answer["id"]: answer for answer in response.json()["responses"]}


def error_of(response: httpx.Response) -> tuple[int, str, str]:
    error = response.json()["error"]
    return response.status_code, error["code"], error["message"]


@pytest.fixture
def guest(control) -> str:
    return control.seed_user(mail="ann@fabrikam.com", userType="Guest")["id"]


# --- running items -------------------------------------------------------------------------------
def test_a_sequential_batch_runs_in_the_order_listed_through_the_items_own_routes(graph, control, guest):
    """json-batching.md, "Sequencing requests with the dependsOn property": each item after the first depends on the
    one before it; the ids need not be in order (the page's example runs 1, 2, 4, 3)."""
    response = graph.post("/$batch", json={"requests": [
        disable("1", guest), revoke("2", guest, dependsOn=["1"]),
        {"id": "4", "method": "GET", "url": f"users/{guest}?$select=id,accountEnabled", "dependsOn": ["2"]},
        {"id": "3", "method": "GET", "url": f"/users/{guest}", "dependsOn": ["4"]}]},
        headers={"client-request-id": "outer-id"})

    by_id = answers(response)
    assert [answer["id"] for answer in response.json()["responses"]] == ["1", "2", "4", "3"]
    assert by_id["1"]["status"] == 204 and "body" not in by_id["1"]
    assert by_id["2"]["status"] == 200 and by_id["2"]["body"]["value"] is True
    assert by_id["2"]["headers"]["Content-Type"].startswith("application/json")
    assert by_id["4"]["body"]["accountEnabled"] is False  # it ran after the disable, in the same batch
    assert by_id["4"]["headers"]["client-request-id"] == "outer-id" == response.headers["client-request-id"]
    assert control.user(guest)["accountEnabled"] is False
    calls = control.calls()
    assert calls["counts"] == {"POST /$batch": 1, "PATCH /users/{id}": 1, "GET /users/{id}": 2,
                               "POST /users/{id}/revokeSignInSessions": 1}
    assert calls["resourceUnits"] == 4  # one per item; the envelope is not charged


def test_a_parallel_batch_and_one_fanning_out_from_the_first_are_served(graph, control, guest):
    """json-batching.md: a batch without dependsOn runs its items independently; msgraph-sdk-javascript's
    BatchRequestContent.validateDependencies also accepts every item depending on the same one (here the first)."""
    parallel = answers(graph.post("/$batch", json={"requests": [
        {"id": str(n), "method": "GET", "url": f"/users/{guest}"} for n in range(3)]}))
    fan_out = answers(graph.post("/$batch", json={"requests": [
        disable("first", guest), revoke("a", guest, dependsOn=["first"]),
        {"id": "b", "method": "GET", "url": f"/users/{guest}?$select=accountEnabled", "dependsOn": ["FIRST"]}]}))

    assert [parallel[str(n)]["status"] for n in range(3)] == [200] * 3
    assert (fan_out["first"]["status"], fan_out["a"]["status"]) == (204, 200)
    assert fan_out["b"]["body"]["accountEnabled"] is False


SHAPE = "Batch should be either fully sequential or fully parallel."
MIXED = {
    "two independent chains": lambda g: [disable("1", g), revoke("2", g, dependsOn=["1"]),
                                         disable("3", g), revoke("4", g, dependsOn=["3"])],
    "a chain and a free item": lambda g: [disable("1", g), revoke("2", g, dependsOn=["1"]),
                                          {"id": "3", "method": "GET", "url": f"/users/{g}"}],
    "depending on two requests": lambda g: [disable("1", g), disable("2", g),
                                            revoke("3", g, dependsOn=["1", "2"])],
    "a chain that skips one": lambda g: [disable("1", g), revoke("2", g, dependsOn=["1"]),
                                         revoke("3", g, dependsOn=["1"]), revoke("4", g, dependsOn=["3"])],
    "the first item depending on a later one": lambda g: [revoke("2", g, dependsOn=["1"]), disable("1", g)],
    "fanning out from an item that is not first": lambda g: [revoke("a", g, dependsOn=["hub"]), disable("hub", g),
                                                             revoke("b", g, dependsOn=["hub"])],
    "a circle": lambda g: [disable("1", g, dependsOn=["2"]), revoke("2", g, dependsOn=["1"])],
}


@pytest.mark.parametrize("case", list(MIXED))
def test_a_batch_neither_sequential_nor_parallel_is_refused_whole_and_runs_nothing(graph, control, guest, case):
    """json-batching.md, TIP under "Sequencing requests": "Batch should be either fully sequential or fully
    parallel." (microsoftgraph/microsoft-graph-docs-contrib#2339, confirmed by the docs owner; Graph answers a
    mixed batch 400 as a whole). An item names at most one dependency (the page's items; stricter where silent)."""
    response = graph.post("/$batch", json={"requests": MIXED[case](guest)})

    assert error_of(response) == (400, "BadRequest", SHAPE)
    assert control.calls()["counts"] == {"POST /$batch": 1}
    assert control.user(guest)["accountEnabled"] is True


def test_an_item_whose_dependency_failed_answers_424_and_does_not_run(graph, control, guest):
    """json-batching.md: "If an individual request fails, any request that depends on that request fails with
    status code 424 (Failed Dependency)" — down a sequential chain, and for every item fanning out from it."""
    chain = answers(graph.post("/$batch", json={"requests": [
        disable("disable", UNKNOWN), revoke("revoke", UNKNOWN, dependsOn=["disable"]),
        revoke("then", guest, dependsOn=["revoke"])]}))
    fan_out = answers(graph.post("/$batch", json={"requests": [
        disable("disable", UNKNOWN), revoke("a", guest, dependsOn=["disable"]),
        revoke("b", guest, dependsOn=["disable"])]}))

    assert chain["disable"]["status"] == 404
    assert chain["disable"]["body"]["error"]["code"] == "Request_ResourceNotFound"
    assert chain["revoke"]["status"] == 424 and chain["revoke"]["body"]["error"]["code"] == "FailedDependency"
    assert chain["then"]["status"] == 424  # a 424 fails its own dependents too
    assert (fan_out["a"]["status"], fan_out["b"]["status"]) == (424, 424)
    assert control.count("POST /users/{id}/revokeSignInSessions") == 0


def test_ids_are_matched_without_regard_to_case(graph, guest):
    by_id = answers(graph.post("/$batch", json={"requests": [
        disable("Disable", guest), revoke("revoke", guest, dependsOn=["DISABLE"])]}))
    assert (by_id["Disable"]["status"], by_id["revoke"]["status"]) == (204, 200)


def test_an_item_is_throttled_on_its_own_with_its_own_retry_after(graph, control, guest, emu):
    """json-batching.md, "Batch size limitations": "Requests in a batch are evaluated individually against the
    applicable throttling limits and if any request exceeds the limits, it fails with a status of 429";
    throttling-limits.md: the 429 names its scope, application id before tenant id; throttling.md: Retry-After may
    be fractional ("2.128")."""
    control.configure(throttle={"enabled": True, "capacity": 2, "windowSeconds": 100})
    by_id = answers(graph.post("/$batch", json={"requests": [
        disable("1", guest), revoke("2", guest, dependsOn=["1"]), revoke("3", guest, dependsOn=["2"])]}))

    assert (by_id["1"]["status"], by_id["2"]["status"], by_id["3"]["status"]) == (204, 200, 429)
    assert by_id["3"]["body"]["error"]["code"] == "TooManyRequests"
    headers = by_id["3"]["headers"]
    assert re.fullmatch(r"\d+\.\d{3}", headers["Retry-After"]) and float(headers["Retry-After"]) > 0
    assert headers["x-ms-throttle-scope"] == (f"Tenant_Application/ReadWrite/{emu.identity.client_id}/"
                                              "9a3c2f4e-6b1d-4c8e-a5f7-0e2d4b6c8a10")
    assert headers["x-ms-throttle-information"] == "ResourceUnitLimitExceeded"
    assert control.calls()["throttled"] == 1


def test_a_fault_hits_an_item_not_the_batch(graph, control, guest):
    control.configure(faultRate=1.0, faultStatuses=[503], faultRetryAfter=2)
    by_id = answers(graph.post("/$batch", json={"requests": [disable("1", guest), revoke("2", guest)]}))
    assert by_id["1"]["status"] == by_id["2"]["status"] == 503
    assert by_id["1"]["headers"]["Retry-After"] == "2"
    assert control.calls()["faults"] == 2


def test_latency_applies_once_to_the_batch_not_to_each_item(graph, control, guest):
    control.configure(latencyMs=300)
    started = time.perf_counter()
    answers(graph.post("/$batch", json={"requests": [
        {"id": str(n), "method": "GET", "url": f"/users/{guest}"} for n in range(5)]}))
    elapsed = time.perf_counter() - started
    assert 0.3 <= elapsed < 0.9  # five items one by one would take 1.5 s or more


def test_no_header_lets_a_caller_pass_for_a_batch_item(graph, control, guest):
    control.configure(latencyMs=300)
    started = time.perf_counter()
    response = graph.get(f"/users/{guest}", headers={"graph_emulator.batch_item": "true", "X-Batch-Item": "1"})
    assert response.status_code == 200 and time.perf_counter() - started >= 0.3


def test_items_use_the_outer_token_and_a_batch_without_one_is_401(emu, control, guest):
    response = httpx.post(f"{emu.graph_url}/$batch", json={"requests": [
        disable("1", guest, headers={**JSON, "Authorization": "Bearer smuggled"})]})
    assert error_of(response)[:2] == (401, "InvalidAuthenticationToken")
    assert control.user(guest)["accountEnabled"] is True
    assert control.calls()["counts"] == {"POST /$batch": 1}


def test_an_item_url_with_the_version_segment_is_an_unknown_segment(graph):
    by_id = answers(graph.post("/$batch", json={"requests": [{"id": "1", "method": "GET", "url": "/v1.0/users"}]}))
    assert by_id["1"]["status"] == 400 and "'v1.0'" in by_id["1"]["body"]["error"]["message"]


def test_a_batch_inside_a_batch_is_refused_as_an_item(graph):
    by_id = answers(graph.post("/$batch", json={"requests": [
        {"id": "1", "method": "POST", "url": "/$batch", "headers": JSON, "body": {"requests": []}}]}))
    assert by_id["1"]["status"] == 400


def test_batch_takes_only_post(graph):
    assert graph.get("/$batch").status_code == 405


# --- malformed batches: 400 for the whole batch, nothing runs ------------------------------------
MALFORMED = {
    "not JSON": (b"{", "Invalid batch payload format."),
    "no requests": ({"value": []}, "Invalid batch payload format."),
    "empty": ({"requests": []}, "Invalid batch payload format."),
    "an item without url": ({"requests": [{"id": "1", "method": "GET"}]}, "Invalid batch payload format."),
    "an id that is not a string": ({"requests": [{"id": 1, "method": "GET", "url": "/users"}]},
                                   "Invalid batch payload format."),
    "an absolute url": ({"requests": [{"id": "1", "method": "GET", "url": "https://graph.microsoft.com/v1.0/users"}]},
                        "Invalid batch payload format."),
    "an unknown method": ({"requests": [{"id": "1", "method": "BREW", "url": "/users"}]},
                          "Invalid batch payload format."),
    "ids repeated in another case": ({"requests": [{"id": "a", "method": "GET", "url": "/users"},
                                                   {"id": "A", "method": "GET", "url": "/users"}]},
                                     "Request Id A has to be unique in a batch."),
    "a body without Content-Type": ({"requests": [{"id": "w", "method": "PATCH", "url": "/users/x", "body": {}}]},
                                    "Write request with id 'w' does not contain a Content-Type header."),
    "a write without body": ({"requests": [{"id": "w", "method": "POST", "url": "/users/x/revokeSignInSessions"}]},
                             "Write request id : w does not contain Content-Type header or body."),
}


@pytest.mark.parametrize("case", list(MALFORMED))
def test_a_malformed_batch_is_400_and_runs_nothing(graph, control, guest, case):
    payload, message = MALFORMED[case]
    content = payload if isinstance(payload, bytes) else None
    response = graph.post("/$batch", content=content, json=None if content else payload)
    assert error_of(response) == (400, "BadRequest", message)
    assert control.calls()["counts"] == {"POST /$batch": 1}


def test_more_than_20_requests_is_400(graph, control, guest):
    """json-batching.md, "Batch size limitations": JSON batch requests are limited to 20 individual requests."""
    requests = [{"id": str(n), "method": "GET", "url": f"/users/{guest}"} for n in range(21)]
    assert error_of(graph.post("/$batch", json={"requests": requests}))[:2] == (400, "BadRequest")
    assert answers(graph.post("/$batch", json={"requests": requests[:20]}))["19"]["status"] == 200


@pytest.mark.parametrize("depends_on", [["9"], ["2"]], ids=["unknown", "itself"])
def test_a_dependency_that_cannot_be_met_is_400(graph, control, guest, depends_on):
    """A dependsOn naming no request of the batch, or the item itself: 400 for the whole batch (json-batching.md:
    dependsOn "references the id of a different individual request"; the words are the emulator's)."""
    response = graph.post("/$batch", json={"requests": [
        disable("1", guest), revoke("2", guest, dependsOn=depends_on)]})
    assert error_of(response) == (400, "BadRequest", "Request Id 2 depends on a request that is not in the batch.")
    assert control.user(guest)["accountEnabled"] is True


# --- the app's Graph adapter ---------------------------------------------------------------------
@pytest.fixture
async def directory(emu):
    adapter = GraphDirectory(Settings.from_env(app_environment("UseDevelopmentStorage=true", emu.graph_url)))
    yield adapter
    await adapter.close()


async def test_the_adapter_blocks_sign_in_in_one_batch(directory, control, guest):
    await directory.block_sign_in(guest)

    assert control.user(guest)["accountEnabled"] is False
    assert control.calls()["counts"] == {"POST /$batch": 1, "PATCH /users/{id}": 1,
                                         "POST /users/{id}/revokeSignInSessions": 1}
    log = control.calls()["log"]  # the disable before the revoke; the envelope is logged once answered
    assert [(entry["method"], entry["route"], entry["status"]) for entry in log] == [
        ("PATCH", "/users/{id}", 204), ("POST", "/users/{id}/revokeSignInSessions", 200), ("POST", "/$batch", 200)]


async def test_the_adapter_sends_a_throttled_revoke_again_alone_honouring_retry_after(directory, control, guest):
    # Seed 30 at a fault rate of 0.5 draws: no fault, fault, no fault: the first revoke is throttled; the disable it
    # followed is done and is not sent again (each item of a batch is answered on its own: json-batching.md).
    control.configure(faultRate=0.5, faultStatuses=[429], faultRetryAfter=1, seed=30)
    started = time.perf_counter()
    await directory.block_sign_in(guest)

    assert time.perf_counter() - started >= 1.0  # the item's Retry-After
    assert control.user(guest)["accountEnabled"] is False
    assert control.calls()["counts"] == {"POST /$batch": 2, "PATCH /users/{id}": 1,
                                         "POST /users/{id}/revokeSignInSessions": 2}
    assert control.calls()["faults"] == 1


async def test_the_adapter_retries_after_a_503_that_followed_the_disable(directory, control, guest):
    # Seed 13 at a fault rate of 0.5, phase "after": the first disable is done and still answered 503 (its revoke
    # gets 424); the retried batch goes through.
    control.configure(faultRate=0.5, faultStatuses=[503], faultRetryAfter=1, faultPhase="after", seed=13)
    await directory.block_sign_in(guest)

    assert control.user(guest)["accountEnabled"] is False
    assert control.calls()["counts"] == {"POST /$batch": 2, "PATCH /users/{id}": 2,
                                         "POST /users/{id}/revokeSignInSessions": 1}


async def test_the_adapter_raises_not_found_for_an_unknown_user_and_revokes_nothing(directory, control):
    with pytest.raises(GraphNotFound) as raised:
        await directory.block_sign_in(UNKNOWN)

    assert raised.value.graph_status == 404 and raised.value.graph_code == "Request_ResourceNotFound"
    assert control.calls()["counts"] == {"POST /$batch": 1, "PATCH /users/{id}": 1}
