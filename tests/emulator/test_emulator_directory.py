"""The directory's guests: listing with paging and $select, bulk seeding, sponsors (Graph v1.0 user-list.md,
user-list-sponsors.md; docs/directory-pass.md)."""

from __future__ import annotations

import time
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from kiota_abstractions.base_request_configuration import RequestConfiguration
from msgraph.generated.users.users_request_builder import UsersRequestBuilder

GUESTS = "userType eq 'Guest'"
DEFAULT_SET = {"businessPhones", "displayName", "givenName", "id", "jobTitle", "mail", "mobilePhone",
               "officeLocation", "preferredLanguage", "surname", "userPrincipalName"}


def read_all(graph, url: str, params: dict | None = None) -> tuple[list[dict], list[str]]:
    """Every item of a paged listing, and the next links followed."""
    body = graph.get(url, params=params).json()
    items, links = list(body["value"]), []
    while "@odata.nextLink" in body:
        links.append(body["@odata.nextLink"])
        body = graph.get(links[-1]).json()
        items += body["value"]
    return items, links


def test_guest_listing_pages_by_999_and_leaves_members_out(graph, control):
    guests = control.seed_users(count=2000, userType="Guest")
    control.seed_users(count=300, userType="Member")
    control.clear_calls()

    items, links = read_all(graph, "/users", {"$filter": GUESTS, "$select": "id,userType", "$top": "999"})

    assert [item["id"] for item in items] == guests
    assert {item["userType"] for item in items} == {"Guest"}
    assert len(links) == 2 and control.calls()["counts"] == {"GET /users": 3}
    assert control.calls()["resourceUnits"] == 3  # a list GET costs 2, 1 with $select


def test_default_page_is_100_and_next_link_is_absolute_with_an_opaque_skiptoken(graph, control, emu):
    control.seed_users(count=250, userType="Guest")

    first = graph.get("/users", params={"$filter": GUESTS})
    link = first.json()["@odata.nextLink"]
    query = parse_qs(urlsplit(link).query)

    assert len(first.json()["value"]) == 100
    assert link.startswith(emu.graph_url + "/users?")
    assert query["$filter"] == [GUESTS] and "$skiptoken" in query
    assert not query["$skiptoken"][0].isdigit()
    assert first.headers["x-ms-resource-unit"] == "2"
    assert len(read_all(graph, "/users", {"$filter": GUESTS})[0]) == 250


def test_top_above_999_is_refused(graph):
    response = graph.get("/users", params={"$filter": GUESTS, "$top": "1000"})

    assert response.status_code == 400
    assert "between 1 and 999" in response.json()["error"]["message"]


def test_select_is_honoured_exactly_and_without_it_only_the_default_set(graph, control):
    control.seed_users(count=3, userType="Guest", companyName="Fabrikam", externalUserState="Accepted")

    selected = graph.get("/users", params={"$filter": GUESTS, "$select": "id,externalUserState,createdDateTime,"
                                                                         "accountEnabled,otherMails"}).json()
    plain = graph.get("/users", params={"$filter": GUESTS}).json()

    assert [set(item) for item in selected["value"]] == [
        {"id", "externalUserState", "createdDateTime", "accountEnabled", "otherMails"}] * 3
    assert selected["value"][0]["externalUserState"] == "Accepted"
    assert selected["@odata.context"].endswith(
        "$metadata#users(id,externalUserState,createdDateTime,accountEnabled,otherMails)")
    assert [set(item) for item in plain["value"]] == [DEFAULT_SET] * 3


def test_combined_filters_go_through_the_strict_parser(graph, control):
    control.seed_users(users=[{"mail": "a@fabrikam.com", "accountEnabled": False},
                              {"mail": "b@fabrikam.com", "externalUserState": "Accepted"},
                              {"mail": "c@fabrikam.com"}], userType="Guest")
    control.seed_users(users=[{"mail": "m@contoso.com", "accountEnabled": False}])

    disabled = graph.get("/users", params={"$filter": f"{GUESTS} and accountEnabled eq false", "$select": "mail"})
    either = graph.get("/users", params={"$filter": f"{GUESTS} and (externalUserState eq 'Accepted' or "
                                                    "mail eq 'c@fabrikam.com')", "$select": "mail"})
    broken = graph.get("/users", params={"$filter": f"{GUESTS} and"})

    assert [user["mail"] for user in disabled.json()["value"]] == ["a@fabrikam.com"]
    assert [user["mail"] for user in either.json()["value"]] == ["b@fabrikam.com", "c@fabrikam.com"]
    assert broken.status_code == 400 and broken.json()["error"]["code"] == "BadRequest"


def test_a_skiptoken_is_a_cursor_so_deleting_between_pages_skips_no_one(graph, control):
    guests = control.seed_users(count=10, userType="Guest")

    first = graph.get("/users", params={"$filter": GUESTS, "$select": "id", "$top": "4"}).json()
    for user_id in guests[:3]:
        assert graph.delete(f"/users/{user_id}").status_code == 204
    rest, _ = read_all(graph, first["@odata.nextLink"])

    assert [item["id"] for item in first["value"] + rest] == guests


def test_a_skiptoken_the_emulator_did_not_issue_is_refused(graph):
    response = graph.get("/users", params={"$skiptoken": "not-a-token"})

    assert response.status_code == 400 and response.json()["error"]["message"] == "Invalid $skiptoken."


def test_bulk_seeding_of_ten_thousand_guests_is_quick_and_numbered(control):
    started = time.perf_counter()
    ids = control.seed_users(count=10_000, userType="Guest", displayName="Guest {n}",
                             createdDateTime="2024-01-01T00:00:00Z")
    elapsed = time.perf_counter() - started
    first, last = control.user(ids[0]), control.user(ids[-1])

    assert len(set(ids)) == 10_000
    assert first["mail"] != last["mail"] and first["mail"].endswith("@fabrikam.example")
    assert last["displayName"] == "Guest " + last["mail"].split("@")[0].removeprefix("user")
    assert first["userType"] == "Guest" and first["externalUserState"] == "PendingAcceptance"
    assert first["createdDateTime"] == "2024-01-01T00:00:00Z"
    print(f"bulk seeding of 10,000 guests: {elapsed:.2f} s")


def test_bulk_seeding_takes_given_properties_memberships_and_sponsors(control):
    group = control.seed_group(displayName="Partners")
    sponsor = control.seed_user(mail="owner@contoso.com")
    ids = control.seed_users(users=[
        {"mail": "x@fabrikam.com", "externalUserState": "Accepted", "accountEnabled": False,
         "otherMails": ["x@fabrikam.com", "x2@fabrikam.com"]},
        {"id": "0a6b2c4d-1e3f-4a5b-9c7d-8e9f0a1b2c3d", "mail": "y@fabrikam.com"},
    ], userType="Guest", memberOf=[group["id"]], sponsors=[sponsor["id"]])

    x, y = control.user(ids[0]), control.user(ids[1])

    assert ids[1] == "0a6b2c4d-1e3f-4a5b-9c7d-8e9f0a1b2c3d"
    assert (x["externalUserState"], x["accountEnabled"], x["otherMails"]) == (
        "Accepted", False, ["x@fabrikam.com", "x2@fabrikam.com"])
    assert x["userPrincipalName"] == "x_fabrikam.com#EXT#@contoso.onmicrosoft.com"
    assert x["memberOf"] == y["memberOf"] == [group["id"]]
    assert x["sponsors"] == [sponsor["id"]]
    assert control.group_members(group["id"]) == ids


@pytest.mark.parametrize("body, status", [
    ({"count": -1}, 400), ({"count": "5"}, 400), ({"users": "x"}, 400), ({"template": {"nosuch": 1}, "count": 1}, 400),
    ({"users": [{"userType": "Robot"}]}, 400),
    ({"users": [{"memberOf": ["0a6b2c4d-1e3f-4a5b-9c7d-8e9f0a1b2c3d"]}]}, 400),
    ({"users": [{"sponsors": ["not-a-guid"]}]}, 400), ({"extra": True}, 400),
    ({"users": [{"id": "0a6b2c4d-1e3f-4a5b-9c7d-8e9f0a1b2c3d"}, {"id": "0a6b2c4d-1e3f-4a5b-9c7d-8e9f0a1b2c3d"}]}, 400),
])
def test_bulk_seeding_refuses_bad_bodies_and_creates_nothing(emu, control, body, status):
    response = httpx.post(f"{emu.url}/_emulator/users/bulk", json={"template": {"mail": "ok{n}@fabrikam.com"},
                                                                   "count": 2, **body})

    assert response.status_code == status
    assert response.json()["error"]["code"] == "ControlError"
    assert control.users() == []


def test_sponsors_of_a_guest_are_typed_directory_objects(graph, control):
    group = control.seed_group(displayName="Sponsors", mail="sponsors@contoso.com")
    owner = control.seed_user(mail="owner@contoso.com", displayName="Owner", jobTitle="Lead")
    gone = control.seed_user(mail="gone@contoso.com")
    guest = control.seed_user(mail="g@fabrikam.com", userType="Guest", sponsors=[owner["id"], group["id"], gone["id"]])
    graph.delete(f"/users/{gone['id']}")

    listed = graph.get(f"/users/{guest['id']}/sponsors").json()
    selected = graph.get(f"/users/{guest['id']}/sponsors", params={"$select": "id,mail"}).json()
    none = graph.get(f"/users/{owner['id']}/sponsors").json()

    assert listed["@odata.context"].endswith("$metadata#directoryObjects")
    assert [(item["@odata.type"], item["id"]) for item in listed["value"]] == [
        ("#microsoft.graph.user", owner["id"]), ("#microsoft.graph.group", group["id"])]
    assert listed["value"][0]["jobTitle"] == "Lead" and listed["value"][1]["mail"] == "sponsors@contoso.com"
    assert [set(item) for item in selected["value"]] == [{"@odata.type", "id", "mail"}] * 2
    assert none["value"] == []
    assert graph.get("/users/0a6b2c4d-1e3f-4a5b-9c7d-8e9f0a1b2c3d/sponsors").status_code == 404


@pytest.mark.asyncio
async def test_guest_listing_through_the_sdk_request_builders(emu, control, sdk):
    guests = control.seed_users(count=250, userType="Guest", externalUserState="Accepted")
    control.seed_users(count=5, userType="Member")
    query = UsersRequestBuilder.UsersRequestBuilderGetQueryParameters(
        filter=GUESTS, select=["id", "userType", "externalUserState", "createdDateTime"], top=100)

    page = await sdk.users.get(RequestConfiguration(query_parameters=query))
    seen = [user.id for user in page.value]
    while page.odata_next_link:
        page = await sdk.users.with_url(page.odata_next_link).get()
        seen += [user.id for user in page.value]

    assert seen == guests
    assert {user.external_user_state for user in page.value} == {"Accepted"}
    assert page.value[0].created_date_time is not None and page.value[0].mail is None


def test_expand_sponsors_on_the_guest_list_and_on_one_user(graph, control):
    owners = control.seed_users(count=22, displayName="Owner {n}")
    group = control.seed_group(displayName="Sponsor group")
    guest, lone = control.seed_users(users=[{"sponsors": [*owners, group["id"]]}, {}], userType="Guest")

    listed = graph.get("/users", params={"$filter": GUESTS, "$select": "id",
                                         "$expand": "sponsors($select=id,displayName)"}).json()["value"]
    single = graph.get(f"/users/{guest}", params={"$expand": "sponsors"}).json()

    assert [set(item) for item in listed] == [{"id", "sponsors"}] * 2
    assert len(listed[0]["sponsors"]) == 20  # $expand on directory objects returns at most 20
    assert listed[0]["sponsors"][0] == {"@odata.type": "#microsoft.graph.user", "id": owners[0],
                                        "displayName": control.user(owners[0])["displayName"]}
    assert listed[1] == {"id": lone, "sponsors": []}
    assert set(single) >= DEFAULT_SET | {"sponsors"} and single["sponsors"][0]["id"] == owners[0]


def test_expand_refuses_what_the_emulator_does_not_serve_and_advanced_queries(graph, control):
    other = graph.get("/users", params={"$expand": "memberOf"})
    bad_select = graph.get("/users", params={"$expand": "sponsors($select=nosuch)"})
    advanced = graph.get("/users", params={"$expand": "sponsors", "$count": "true"},
                         headers={"ConsistencyLevel": "eventual"})

    assert other.status_code == 400 and bad_select.status_code == 400
    assert advanced.status_code == 400 and advanced.json()["error"]["code"] == "Request_UnsupportedQuery"


def test_a_user_list_with_expand_is_served_in_pages_of_at_most_100(graph, control):
    """With $expand a user list pages by at most 100 users, a larger $top is served as 100 (Graph's pages are silent
    on this size: the stricter reading); each expansion holds at most 20 objects and no next link
    (concepts/query-parameters.md, "expand parameter"); throttling-limits.md: $expand costs one unit more."""
    owners = control.seed_users(count=25, displayName="Owner {n}")
    guests = control.seed_users(count=230, userType="Guest", sponsors=owners)

    first = graph.get("/users", params={"$filter": GUESTS, "$select": "id", "$top": "999",
                                        "$expand": "sponsors($select=id)"})
    pages = [first.json()]
    while "@odata.nextLink" in pages[-1]:
        pages.append(graph.get(pages[-1]["@odata.nextLink"]).json())
    items = [item for page in pages for item in page["value"]]

    assert [len(page["value"]) for page in pages] == [100, 100, 30]
    assert [item["id"] for item in items] == guests
    assert all(len(item["sponsors"]) == 20 and set(item) == {"id", "sponsors"} for item in items)
    assert first.headers["x-ms-resource-unit"] == "2"  # users 2, $select −1, $expand +1
