"""Nested groups and GET /groups/{id}/transitiveMembers[/microsoft.graph.user] (Graph v1.0
group-list-transitivemembers.md; REFERENCE.md "Nested membership")."""

from __future__ import annotations

import httpx
import pytest
from kiota_abstractions.base_request_configuration import RequestConfiguration
from msgraph.generated.groups.item.transitive_members.graph_user.graph_user_request_builder import (
    GraphUserRequestBuilder,
)


@pytest.fixture
def nested(control) -> dict:
    """top ⊃ {a, middle}; middle ⊃ {b, inner, a}; inner ⊃ {c, top} (a cycle back to top)."""
    a, b, c, outsider = control.seed_users(count=4, userType="Guest")
    inner = control.seed_group(displayName="Inner", members=[c])
    middle = control.seed_group(displayName="Middle", members=[b, inner["id"], a])
    top = control.seed_group(displayName="Top", members=[a, middle["id"]])
    control.add_members(inner["id"], [top["id"]])
    return {"a": a, "b": b, "c": c, "outsider": outsider, "top": top["id"], "middle": middle["id"],
            "inner": inner["id"]}


def ids(response: httpx.Response) -> list[str]:
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["value"]]


def test_transitive_users_resolve_nesting_once_each_and_survive_a_cycle(graph, nested):
    users = graph.get(f"/groups/{nested['top']}/transitiveMembers/microsoft.graph.user", params={"$select": "id"})
    from_inner = graph.get(f"/groups/{nested['inner']}/transitiveMembers/microsoft.graph.user",
                           params={"$select": "id"})

    assert ids(users) == [nested["a"], nested["b"], nested["c"]]
    assert [set(item) for item in users.json()["value"]] == [{"id"}] * 3
    assert users.json()["@odata.context"].endswith("$metadata#users(id)")
    assert ids(from_inner) == [nested["c"], nested["a"], nested["b"]]


def test_transitive_members_list_users_and_nested_groups_typed(graph, nested):
    members = graph.get(f"/groups/{nested['top']}/transitiveMembers").json()["value"]
    direct = graph.get(f"/groups/{nested['middle']}/members").json()["value"]

    assert [(item["@odata.type"], item["id"]) for item in members] == [
        ("#microsoft.graph.user", nested["a"]), ("#microsoft.graph.user", nested["b"]),
        ("#microsoft.graph.user", nested["c"]), ("#microsoft.graph.group", nested["middle"]),
        ("#microsoft.graph.group", nested["inner"])]
    assert [(item["@odata.type"], item["id"]) for item in direct] == [
        ("#microsoft.graph.user", nested["b"]), ("#microsoft.graph.group", nested["inner"]),
        ("#microsoft.graph.user", nested["a"])]
    assert members[3]["displayName"] == "Middle"


def test_transitive_users_page_with_next_links_and_cost_three_units(graph, control):
    guests = control.seed_users(count=250, userType="Guest")
    child = control.seed_group(displayName="Child", members=guests[100:])
    parent = control.seed_group(displayName="Parent", members=[*guests[:100], child["id"]])
    control.clear_calls()

    body = graph.get(f"/groups/{parent['id']}/transitiveMembers/microsoft.graph.user",
                     params={"$select": "id", "$top": "120"}).json()
    seen = [item["id"] for item in body["value"]]
    while "@odata.nextLink" in body:
        body = graph.get(body["@odata.nextLink"]).json()
        seen += [item["id"] for item in body["value"]]

    assert seen == guests
    assert control.calls()["counts"] == {"GET /groups/{id}/transitiveMembers/microsoft.graph.user": 3}
    assert control.calls()["resourceUnits"] == 3 * 2  # group members 3, $select −1


def test_deleted_users_leave_the_transitive_list_and_unknown_groups_are_404(graph, nested):
    assert graph.delete(f"/users/{nested['b']}").status_code == 204

    users = graph.get(f"/groups/{nested['top']}/transitiveMembers/microsoft.graph.user", params={"$select": "id"})
    missing = graph.get("/groups/0a6b2c4d-1e3f-4a5b-9c7d-8e9f0a1b2c3d/transitiveMembers/microsoft.graph.user")
    not_guid = graph.get("/groups/nope/transitiveMembers/microsoft.graph.user")

    assert ids(users) == [nested["a"], nested["c"]]
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "Request_ResourceNotFound"
    assert not_guid.status_code == 400


def test_count_on_transitive_members_needs_an_advanced_query(graph, nested):
    plain = graph.get(f"/groups/{nested['top']}/transitiveMembers/microsoft.graph.user", params={"$count": "true"})
    advanced = graph.get(f"/groups/{nested['top']}/transitiveMembers/microsoft.graph.user",
                         params={"$count": "true"}, headers={"ConsistencyLevel": "eventual"})

    assert plain.status_code == 400
    assert advanced.json()["@odata.count"] == 3


def test_group_nesting_is_seeded_through_the_control_api(emu, control, nested):
    self_member = httpx.post(f"{emu.url}/_emulator/groups/{nested['top']}/members", json={"ids": [nested["top"]]})
    unknown = httpx.post(f"{emu.url}/_emulator/groups/{nested['top']}/members",
                         json={"ids": ["0a6b2c4d-1e3f-4a5b-9c7d-8e9f0a1b2c3d"]})
    added = control.add_members(nested["top"], [nested["outsider"], nested["a"]])
    control.remove_group(nested["middle"])

    assert self_member.status_code == 400 and unknown.status_code == 400
    assert added == [nested["a"], nested["middle"], nested["outsider"]]
    assert control.group_members(nested["top"]) == [nested["a"], nested["outsider"]]


@pytest.mark.asyncio
async def test_transitive_users_through_the_sdk_request_builder(emu, nested, sdk):
    query = GraphUserRequestBuilder.GraphUserRequestBuilderGetQueryParameters(select=["id"], top=2)

    page = await sdk.groups.by_group_id(nested["top"]).transitive_members.graph_user.get(
        RequestConfiguration(query_parameters=query))
    seen = [user.id for user in page.value]
    while page.odata_next_link:
        page = await sdk.groups.by_group_id(nested["top"]).transitive_members.graph_user.with_url(
            page.odata_next_link).get()
        seen += [user.id for user in page.value]

    assert seen == [nested["a"], nested["b"], nested["c"]]
