"""Nested groups, GET /groups/{id}/transitiveMembers[/microsoft.graph.user] and /members/microsoft.graph.user (Graph
v1.0 group-list-transitivemembers.md, group-list-members.md). An OData cast is an
advanced query: header ConsistencyLevel: eventual and $count=true, on every page."""

from __future__ import annotations

import httpx
import pytest
from kiota_abstractions.base_request_configuration import RequestConfiguration
from msgraph.generated.groups.item.transitive_members.graph_user.graph_user_request_builder import (
    GraphUserRequestBuilder,
)
from msgraph.generated.models.o_data_errors.o_data_error import ODataError

EVENTUAL = {"ConsistencyLevel": "eventual"}
CAST = "/transitiveMembers/microsoft.graph.user"


def cast(graph: httpx.Client, group_id: str, path: str = CAST, **params: str) -> httpx.Response:
    """An OData cast read as Graph serves it: ConsistencyLevel: eventual and $count=true."""
    return graph.get(f"/groups/{group_id}{path}", params={"$count": "true", **params}, headers=EVENTUAL)


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
    users = cast(graph, nested["top"], **{"$select": "id"})
    from_inner = cast(graph, nested["inner"], **{"$select": "id"})

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


def test_transitive_users_page_with_next_links_and_cost_five_units(graph, control):
    """throttling-limits.md: GET groups/{id}/transitiveMembers costs 5 resource units ($select −1); query-parameters.md:
    the ConsistencyLevel header must be sent again on every next page."""
    guests = control.seed_users(count=250, userType="Guest")
    child = control.seed_group(displayName="Child", members=guests[100:])
    parent = control.seed_group(displayName="Parent", members=[*guests[:100], child["id"]])
    control.clear_calls()

    body = cast(graph, parent["id"], **{"$select": "id", "$top": "120"}).json()
    seen = [item["id"] for item in body["value"]]
    links = []
    while "@odata.nextLink" in body:
        links.append(body["@odata.nextLink"])
        body = graph.get(links[-1], headers=EVENTUAL).json()
        seen += [item["id"] for item in body["value"]]
    without_header = graph.get(links[0])

    assert seen == guests
    assert without_header.status_code == 400 and without_header.json()["error"]["code"] == "Request_UnsupportedQuery"
    assert control.calls()["counts"] == {"GET /groups/{id}/transitiveMembers/microsoft.graph.user": 4}
    assert control.calls()["resourceUnits"] == 4 * 4  # transitive members 5, $select −1


def test_deleted_users_leave_the_transitive_list_and_unknown_groups_are_404(graph, nested):
    assert graph.delete(f"/users/{nested['b']}").status_code == 204

    users = cast(graph, nested["top"], **{"$select": "id"})
    missing = cast(graph, "0a6b2c4d-1e3f-4a5b-9c7d-8e9f0a1b2c3d")
    not_guid = cast(graph, "nope")

    assert ids(users) == [nested["a"], nested["c"]]
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "Request_ResourceNotFound"
    assert not_guid.status_code == 400


@pytest.mark.parametrize("path", [CAST, "/members/microsoft.graph.user", "/members/graph.user"])
@pytest.mark.parametrize("params, headers", [({}, {}), ({"$count": "true"}, {}), ({}, EVENTUAL),
                                             ({"$count": "false"}, EVENTUAL), ({"$select": "id"}, {})],
                         ids=["neither", "count only", "header only", "count false", "select only"])
def test_an_odata_cast_without_the_advanced_query_parameters_is_refused(graph, nested, path, params, headers):
    """group-list-transitivemembers.md and group-list-members.md, request headers: "ConsistencyLevel: eventual. This
    header and $count are required when using ... OData cast query parameters"; transitivemembers: "To filter the
    results on the OData type, such as microsoft.graph.user ..., you must use the advanced query parameters". The
    pages quote no error: 400 Request_UnsupportedQuery, the advanced-query refusal's code."""
    response = graph.get(f"/groups/{nested['top']}{path}", params=params, headers=headers)

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "Request_UnsupportedQuery"
    assert "ConsistencyLevel" in response.json()["error"]["message"]


def test_direct_member_users_by_cast_and_plain_relationships_need_no_header(graph, nested, control):
    """group-list-members.md: OData cast gets just the users that are members (advanced query); a plain /members or
    /transitiveMembers read is a default query (only its $count needs the header)."""
    users = cast(graph, nested["middle"], "/members/microsoft.graph.user", **{"$select": "id"})
    plain_members = graph.get(f"/groups/{nested['middle']}/members", params={"$select": "id"})
    plain_transitive = graph.get(f"/groups/{nested['top']}/transitiveMembers", params={"$select": "id"})
    count_without_header = graph.get(f"/groups/{nested['top']}/transitiveMembers", params={"$count": "true"})
    control.clear_calls()
    cast(graph, nested["middle"], "/members/microsoft.graph.user")

    assert ids(users) == [nested["b"], nested["a"]] and users.json()["@odata.count"] == 2
    assert users.json()["@odata.context"].endswith("$metadata#users(id)")
    assert ids(plain_members) == [nested["b"], nested["inner"], nested["a"]]
    assert len(ids(plain_transitive)) == 5
    assert count_without_header.status_code == 400
    assert control.calls()["resourceUnits"] == 3  # GET groups/{id}/members costs 3, its cast too


def test_count_on_transitive_members_needs_an_advanced_query(graph, nested):
    plain = graph.get(f"/groups/{nested['top']}/transitiveMembers", params={"$count": "true"})
    advanced = cast(graph, nested["top"])

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
    """The SDK's cast request builder, with the advanced query parameters on every page (the header is not carried
    to next pages by itself: concepts/query-parameters.md)."""
    query = GraphUserRequestBuilder.GraphUserRequestBuilderGetQueryParameters(select=["id"], top=2, count=True)
    config = RequestConfiguration(query_parameters=query)
    config.headers.add("ConsistencyLevel", "eventual")

    builder = sdk.groups.by_group_id(nested["top"]).transitive_members.graph_user
    page = await builder.get(config)
    seen = [user.id for user in page.value]
    while page.odata_next_link:
        next_config = RequestConfiguration()
        next_config.headers.add("ConsistencyLevel", "eventual")
        page = await builder.with_url(page.odata_next_link).get(next_config)
        seen += [user.id for user in page.value]
    with pytest.raises(ODataError) as refused:
        await builder.get(RequestConfiguration(query_parameters=GraphUserRequestBuilder.
                                               GraphUserRequestBuilderGetQueryParameters(select=["id"])))

    assert seen == [nested["a"], nested["b"], nested["c"]]
    assert refused.value.response_status_code == 400 and refused.value.error.code == "Request_UnsupportedQuery"
