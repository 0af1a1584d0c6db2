"""Reading the guests in ranges of userPrincipalName: what Graph serves without advanced query parameters and what it
refuses. Pages: aad-advanced-queries.md (its filter table, includes/filter-directory-objects.md, and "Query scenarios
that require advanced query capabilities"), filter-query-parameter.md, user.md, throttling-limits.md."""

from __future__ import annotations

from tests.emulator.test_emulator_directory import read_all

EVENTUAL = {"ConsistencyLevel": "eventual"}
ADVICE = "Try adding $count=true query parameter and ConsistencyLevel:eventual header"


def guest(control, local: str) -> str:
    return control.seed_user(mail=f"{local}@partner.example", userType="Guest")["id"]


def error_of(response) -> tuple[str, str]:
    error = response.json()["error"]
    return error["code"], error["message"]


def range_ids(graph, prefix: str, **params) -> list[str]:
    quoted = prefix.replace("'", "''")
    items, _ = read_all(graph, "/users",
                        {"$filter": f"userType eq 'Guest' and startswith(userPrincipalName,'{quoted}')",
                         "$select": "id,userPrincipalName", **params})
    return [item["id"] for item in items]


def test_a_upn_range_beside_user_type_works_by_default_and_ignores_case(graph, control):
    # The filter table of aad-advanced-queries.md: userType `eq` and userPrincipalName `startsWith` "Default";
    # filter-query-parameter.md shows `startswith(userPrincipalName, 'admin')` unmarked. Graph compares ignoring case.
    anna, bert = guest(control, "Anna"), guest(control, "bert")
    annex = guest(control, "annex")
    control.seed_user(mail="amy@contoso.com", userType="Member")  # a member in the range: not a guest
    assert sorted(range_ids(graph, "a")) == sorted(range_ids(graph, "A")) == sorted([anna, annex])
    assert range_ids(graph, "ANN") == range_ids(graph, "ann") and range_ids(graph, "b") == [bert]


def test_unusual_first_characters_each_have_their_range(graph, control):
    # user.md, userPrincipalName: "Only the following characters are allowed A - Z, a - z, 0 - 9, ' . - _ ! # ^ ~"
    ids = {first: guest(control, f"{first}x") for first in "'.-_!#^~7"}
    for first, user_id in ids.items():
        assert range_ids(graph, first) == [user_id], first


def test_a_range_is_paged_by_a_cursor_that_deletions_and_creations_do_not_shift(graph, control):
    ids = [guest(control, f"s{n:02d}") for n in range(5)]
    first = graph.get("/users", params={"$filter": "userType eq 'Guest' and startswith(userPrincipalName,'s')",
                                        "$select": "id", "$top": "2"}).json()
    graph.delete(f"/users/{ids[2]}")  # the next page's first user, deleted between pages
    late = guest(control, "s99")  # created in the range, after the cursor
    rest, _ = read_all(graph, first["@odata.nextLink"])
    assert [item["id"] for item in first["value"]] == ids[:2]
    assert [item["id"] for item in rest] == ids[3:] + [late]


def test_a_upn_range_costs_what_a_users_list_costs(graph, control):
    # throttling-limits.md: GET users 2 resource units, $select −1; a filter changes nothing.
    guest(control, "ann")
    response = graph.get("/users", params={"$filter": "userType eq 'Guest' and startswith(userPrincipalName,'a')",
                                           "$select": "id", "$top": "999"})
    assert response.status_code == 200 and response.headers["x-ms-resource-unit"] == "1"


def test_startswith_where_the_filter_table_has_no_cell_is_refused_even_as_an_advanced_query(graph, control):
    # aad-advanced-queries.md: blank cells "indicate that the query is not valid for that property"; "If a property
    # has not been indexed to support a query parameter, even if the advanced query parameters are specified, the
    # request returns an error" (Request_UnsupportedQuery, "Unsupported or invalid query filter clause ...").
    guest(control, "ann")
    for clause in ("startswith(userType,'G')", "startswith(id,'0')", "startswith(externalUserState,'P')"):
        plain = graph.get("/users", params={"$filter": clause})
        advanced = graph.get("/users", params={"$filter": clause, "$count": "true"}, headers=EVENTUAL)
        for response in (plain, advanced):
            assert response.status_code == 400, clause
            code, message = error_of(response)
            assert code == "Request_UnsupportedQuery" and "Unsupported or invalid query filter clause" in message


def test_operators_the_filter_table_marks_advanced_need_the_advanced_query_parameters(graph, control):
    # aad-advanced-queries.md's filter table: companyName `eq` and `startsWith` "Advanced" (and `in` "is supported
    # by default whenever eq operator is supported by default"); the error is the page's "Operator ... is not
    # supported because the required parameters might be missing".
    user_id = control.seed_user(mail="ann@partner.example", userType="Guest", companyName="Fabrikam")["id"]
    for clause in ("companyName eq 'Fabrikam'", "startswith(companyName,'Fab')", "companyName in ('Fabrikam')"):
        plain = graph.get("/users", params={"$filter": clause})
        advanced = graph.get("/users", params={"$filter": clause, "$count": "true", "$select": "id"},
                             headers=EVENTUAL)
        assert plain.status_code == 400 and error_of(plain)[0] == "Request_UnsupportedQuery", clause
        assert ADVICE in error_of(plain)[1], clause
        assert advanced.status_code == 200 and [u["id"] for u in advanced.json()["value"]] == [user_id], clause


def test_upn_bounds_with_ge_are_refused(graph, control):
    # user.md lists `ge` and `le` for userPrincipalName, but the filter table of aad-advanced-queries.md has no `ge`
    # cell for it (the query is not valid for that property): the emulator takes the stricter reading.
    guest(control, "ann")
    response = graph.get("/users", params={"$filter": "userType eq 'Guest' and userPrincipalName ge 'a'"})
    assert response.status_code == 400 and error_of(response)[0] == "Request_UnsupportedQuery"


def test_sign_in_activity_is_never_filtered_beside_another_property(graph, control):
    # user.md (v1.0), signInActivity: "Supports $filter (eq, ne, not, ge, le) but not with any other filterable
    # properties".
    guest(control, "ann")
    alone = graph.get("/users", params={"$filter": "signInActivity/lastSignInDateTime le 2026-01-01T00:00:00Z"})
    beside = graph.get("/users", params={"$filter": "signInActivity/lastSignInDateTime le 2026-01-01T00:00:00Z "
                                                    "and startswith(userPrincipalName,'a')"})
    assert alone.status_code == 200
    assert beside.status_code == 400 and error_of(beside)[0] == "Request_UnsupportedQuery"


def test_a_upn_range_sorted_is_an_advanced_query(graph, control):
    # aad-advanced-queries.md: "Using $filter and $orderby together is supported only with advanced queries".
    guest(control, "bob"), guest(control, "ann")
    params = {"$filter": "startswith(userPrincipalName,'a') or startswith(userPrincipalName,'b')",
              "$orderby": "userPrincipalName", "$select": "userPrincipalName"}
    plain = graph.get("/users", params=params)
    advanced = graph.get("/users", params={**params, "$count": "true"}, headers=EVENTUAL)
    assert plain.status_code == 400 and error_of(plain)[0] == "Request_UnsupportedQuery"
    assert [u["userPrincipalName"][:3] for u in advanced.json()["value"]] == ["ann", "bob"]


def test_sign_ins_read_with_the_advanced_query_parameters_come_back_empty(graph, control):
    # Reported, not documented (microsoftgraph/msgraph-sdk-powershell#1898: sign-in activity "EMPTY ... when the
    # request includes ConsistencyLevel: eventual + $count=true"). Reported for some users; the emulator takes the
    # stricter reading, every user, so a pass that adds those parameters to a signInActivity read is caught.
    control.seed_user(mail="ann@partner.example", userType="Guest",
                      signInActivity={"lastSignInDateTime": "2026-01-02T00:00:00Z"})
    params = {"$filter": "userType eq 'Guest'", "$select": "id,signInActivity"}
    plain = graph.get("/users", params=params).json()["value"]
    advanced = graph.get("/users", params={**params, "$count": "true"}, headers=EVENTUAL).json()["value"]
    assert plain[0]["signInActivity"]["lastSignInDateTime"] == "2026-01-02T00:00:00Z"
    assert advanced[0]["signInActivity"]["lastSignInDateTime"] is None
