"""Auth, request ids, call counting, reset, the server runner and the command line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx

from graph_emulator import EmulatorServer, seed_group_ids

PROJECT = Path(__file__).resolve().parents[2]


def test_requests_without_a_bearer_token_are_401(emu, control):
    missing = httpx.get(f"{emu.graph_url}/users", headers={"client-request-id": "my-id"})
    empty = httpx.get(f"{emu.graph_url}/users", headers={"Authorization": "Bearer"})
    basic = httpx.get(f"{emu.graph_url}/users", headers={"Authorization": "Basic dTpw"})

    for response in (missing, empty, basic):
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "InvalidAuthenticationToken"
    inner = missing.json()["error"]["innerError"]
    assert inner["client-request-id"] == "my-id" == missing.headers["client-request-id"]
    assert inner["request-id"] == missing.headers["request-id"]
    assert len(inner["date"]) == 19 and not inner["date"].endswith("Z")
    assert control.calls()["counts"] == {"GET /users": 3}


def test_every_response_has_request_ids(graph):
    echoed = graph.get("/users", headers={"client-request-id": "abc-123"})
    generated = graph.get("/users")

    assert echoed.headers["client-request-id"] == "abc-123"
    assert len(generated.headers["client-request-id"]) == 36
    assert echoed.headers["request-id"] != generated.headers["request-id"]
    assert echoed.headers["content-type"].startswith("application/json")


def test_calls_are_counted_by_route_template(graph, control, invite, group):
    user_id = invite("ann@fabrikam.com").json()["invitedUser"]["id"]
    graph.get("/users", params={"$filter": "mail eq 'ann@fabrikam.com'"})
    graph.get(f"/users/{user_id}")
    graph.patch(f"/users/{user_id}", json={"accountEnabled": False})
    graph.post(f"/users/{user_id}/revokeSignInSessions")
    graph.post(f"/groups/{group['id']}/members/$ref",
               json={"@odata.id": f"https://graph.microsoft.com/v1.0/directoryObjects/{user_id}"})
    graph.delete(f"/groups/{group['id']}/members/{user_id}/$ref")
    graph.delete(f"/users/{user_id}")
    control.health()

    calls = control.calls()

    assert calls["counts"] == {
        "POST /invitations": 1, "GET /users": 1, "GET /users/{id}": 1, "PATCH /users/{id}": 1,
        "POST /users/{id}/revokeSignInSessions": 1, "POST /groups/{id}/members/$ref": 1,
        "DELETE /groups/{id}/members/{id}/$ref": 1, "DELETE /users/{id}": 1}
    assert calls["total"] == 8
    assert calls["writes"] == 6
    assert calls["resourceUnits"] == 9
    assert [entry["status"] for entry in calls["log"]] == [201, 200, 200, 204, 200, 204, 204, 204]
    assert calls["log"][2]["route"] == "/users/{id}"
    control.clear_calls()
    assert control.calls()["total"] == 0


def test_reset_clears_state_and_restores_start_switches(control, invite, group):
    invite("ann@fabrikam.com")
    control.configure(replicationLag=3, faultRate=0.2)

    control.reset()

    assert control.users() == []
    assert control.groups() == []
    assert control.calls()["total"] == 0
    config = control.config()
    assert config["replicationLag"] == 0 and config["faultRate"] == 0 and config["seed"] == 7


def test_servers_on_port_zero_get_distinct_real_ports():
    with EmulatorServer(port=0, seedGroups=2, replicationLag=1) as one, EmulatorServer() as two:
        assert one.port != 0 and two.port != 0 and one.port != two.port
        assert one.graph_url == f"http://127.0.0.1:{one.port}/v1.0"
        assert one.control.config()["replicationLag"] == 1
        assert [group["id"] for group in one.control.groups()] == seed_group_ids(2)
        one.control.reset()
        assert [group["id"] for group in one.control.groups()] == seed_group_ids(2)
    try:
        httpx.get(f"{one.url}/_emulator/health", timeout=0.5)
        still_serving = True
    except httpx.TransportError:
        still_serving = False
    assert not still_serving


def test_command_line_prints_urls_and_group_ids_and_serves():
    env = {**os.environ, "PYTHONPATH": str(PROJECT)}
    command = [sys.executable, "-m", "graph_emulator", "--port", "0", "--seed-groups", "2", "--lag", "1",
               "--groups", "11111111-2222-4333-8444-555555555555"]
    process = subprocess.Popen(command, cwd=PROJECT, env=env, stdout=subprocess.PIPE, text=True)
    try:
        lines = dict(line.strip().split("=", 1) for line in (process.stdout.readline() for _ in range(3))
                     if "=" in line)
        graph_url = lines["GRAPH_BASE_URL"]
        health = httpx.get(graph_url.replace("/v1.0", "/_emulator/health"), timeout=5)
        config = httpx.get(graph_url.replace("/v1.0", "/_emulator/config"), timeout=5).json()
    finally:
        process.terminate()
        process.wait(timeout=10)

    assert lines["MANAGED_GROUP_IDS"].split(",") == ["11111111-2222-4333-8444-555555555555", *seed_group_ids(2)]
    assert health.status_code == 200 and health.json()["groups"] == 3
    assert config["replicationLag"] == 1


def test_control_changes_behind_the_apps_back(graph, control, group):
    user = control.seed_user(mail="ann@fabrikam.com", userType="Guest", memberOf=[group["id"]])

    changed = control.update_user(user["id"], userType="Member", lagRemaining=1)
    hidden = graph.get(f"/users/{user['id']}")
    visible = graph.get(f"/users/{user['id']}", params={"$select": "userType"})
    control.remove_group(group["id"])
    gone = graph.get(f"/groups/{group['id']}")

    assert changed["userType"] == "Member" and changed["lagRemaining"] == 1
    assert hidden.status_code == 404
    assert visible.json()["userType"] == "Member"
    assert gone.status_code == 404
    assert control.user(user["id"])["memberOf"] == []


def test_resource_units_are_reported_per_response(graph, control, group):
    listing = graph.get("/users")
    selected = graph.get("/users", params={"$select": "id", "$top": "5"})
    members = graph.get(f"/groups/{group['id']}/members")

    assert [r.headers["x-ms-resource-unit"] for r in (listing, selected, members)] == ["2", "1", "3"]


def test_the_emulator_imports_nothing_from_the_app():
    code = ("import sys, graph_emulator.__main__; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'lifecycle'))")
    result = subprocess.run([sys.executable, "-c", code], cwd=PROJECT, capture_output=True, text=True, check=True,
                            env={**os.environ, "PYTHONPATH": str(PROJECT)})

    assert result.stdout.strip() == "[]"
