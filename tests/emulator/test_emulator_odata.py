"""The $filter parser on its own (no server)."""

from __future__ import annotations

import pytest

from graph_emulator.errors import GraphError
from graph_emulator.odata_filter import parse_filter, tokenize

ANN = {"mail": "Ann@Fabrikam.com", "otherMails": ["ann.private@gmail.com"], "userType": "Guest",
       "accountEnabled": True, "displayName": "Ann O'Neil", "proxyAddresses": ["SMTP:Ann@Fabrikam.com"],
       "department": None}


@pytest.mark.parametrize("clause, expected", [
    ("mail eq 'ann@fabrikam.com'", True),
    ("mail eq 'bob@fabrikam.com'", False),
    ("otherMails/any(m:m eq 'ANN.PRIVATE@gmail.com')", True),
    ("otherMails/any(m:startswith(m,'bob'))", False),
    ("displayName eq 'Ann O''Neil'", True),
    ("accountEnabled eq true and userType eq 'Guest'", True),
    ("accountEnabled eq false or (mail eq 'x@y.z' or department eq null)", True),
    ("not (userType eq 'Member')", True),
    ("proxyAddresses/any(x:x eq 'smtp:ann@fabrikam.com')", True),
    ("  mail   eq   'ann@fabrikam.com'  ", True),
])
def test_filter_matches(clause, expected):
    assert parse_filter(clause).matches(ANN) is expected


def test_advanced_operators_are_reported():
    assert parse_filter("userType ne 'Member'").advanced == ["ne"]
    assert parse_filter("not endswith(mail,'.com')").advanced == ["not", "endswith"]
    assert parse_filter("mail eq 'a@b.c'").advanced == []


def test_doubled_quote_is_one_quote():
    assert [t.value for t in tokenize("mail eq 'o''brien'")][:3] == ["mail", "eq", "o'brien"]


@pytest.mark.parametrize("clause", [
    "mail eq 'o'brien@x.com'", "mail eq 'unterminated", "mail eq", "eq 'x'", "mail eq 'x' or",
    "(mail eq 'x'", "mail eq 'x')", "otherMails/any(m:mail eq 'x')", "mail eq 5", "mail = 'x'",
    "startswith(mail)", "accountEnabled eq 'true'",
])
def test_invalid_filters_are_bad_requests(clause):
    with pytest.raises(GraphError) as raised:
        parse_filter(clause)
    assert raised.value.status == 400


def test_unsupported_property_and_operator():
    with pytest.raises(GraphError) as unsupported:
        parse_filter("createdDateTime gt '2026-01-01'")
    with pytest.raises(GraphError) as unknown:
        parse_filter("signInNames/any(x:x eq 'a@b.c')")
    with pytest.raises(GraphError) as function:
        parse_filter("contains(mail,'x')")
    assert unsupported.value.code == "Request_UnsupportedQuery"
    assert function.value.code == "Request_UnsupportedQuery"
    assert unknown.value.code == "BadRequest"


def test_in_takes_at_most_15_values_without_the_advanced_query_parameters(graph, control):
    # filter-query-parameter.md (operators table): with the in operator a request is by default limited to 15
    # expressions in the filter clause
    ids = control.seed_users(count=16, userType="Guest", mail="in{n}@partner.example")
    quoted = ",".join(f"'{user_id}'" for user_id in ids)
    fifteen = graph.get("/users", params={"$filter": f"id in ({quoted.rsplit(',', 1)[0]})", "$select": "id"})
    assert fifteen.status_code == 200 and len(fifteen.json()["value"]) == 15
    sixteen = graph.get("/users", params={"$filter": f"id in ({quoted})", "$select": "id"})
    assert sixteen.status_code == 400 and sixteen.json()["error"]["code"] == "Request_UnsupportedQuery"
    advanced = graph.get("/users", params={"$filter": f"id in ({quoted})", "$select": "id", "$count": "true"},
                         headers={"ConsistencyLevel": "eventual"})
    assert advanced.status_code == 200 and len(advanced.json()["value"]) == 16
