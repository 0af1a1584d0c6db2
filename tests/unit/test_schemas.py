from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from lifecycle.http.schemas import ExtendRequest, InviteRequest, ListQuery

GROUP = "6f1c1ef7-2b1e-4a3c-9d51-00000000000a"


def parse(body: dict) -> InviteRequest:
    return InviteRequest.model_validate_json(json.dumps(body))


def test_email_is_normalised_and_defaults_apply():
    request = parse({"email": "  Ann.O'Neil@Fabrikam.COM "})
    assert request.email == "ann.o'neil@fabrikam.com"
    assert (request.sendInvitationMessage, request.groups, request.sponsors) == (False, [], [])
    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert request.expiry(now, 90) == now + timedelta(days=90)


@pytest.mark.parametrize("body", [
    {"email": "not-an-email"}, {"email": "a@b.co", "groups": ["nope"]}, {"email": "a@b.co", "groups": [GROUP, GROUP]},
    {"email": "a@b.co", "sponsors": [f"6f1c1ef7-2b1e-4a3c-9d51-00000000000{i}" for i in range(6)]},
    {"email": "a@b.co", "expiresAt": "2001-01-01T00:00:00Z"}, {"email": "a@b.co", "expiresAt": "2099-01-01T00:00:00"},
    {"email": "a@b.co", "expiresAt": "2099-01-01T00:00:00Z", "expiresInDays": 3},
    {"email": "a@b.co", "expiresInDays": 0},
    {"email": "a@b.co", "redirectUrl": "http://x.example"}, {"email": "a@b.co", "sendInvitationMessage": "true"},
    {"email": "a@b.co", "ccRecipients": ["c@d.co", "e@f.co"]}, {"email": "a@b.co", "attributes": {"manager": "x"}},
    {"email": "a@b.co", "attributes": {"usageLocation": "usa"}}, {"email": "a@b.co", "displayName": ""},
    {"email": "a@b.co", "message": "x" * 2001}, {"email": "a@b.co", "unexpected": True}, {},
])
def test_invalid_invites_are_refused(body):
    with pytest.raises(ValidationError):
        parse(body)


def test_attributes_map_to_graph_names():
    request = parse({"email": "a@b.co", "attributes": {"companyName": "Fabrikam", "usageLocation": "NL"}})
    assert request.attributes.to_graph() == {"companyName": "Fabrikam", "usageLocation": "NL"}


def test_extend_needs_exactly_one_of_its_fields():
    assert ExtendRequest.model_validate_json('{"days": 5}').days == 5
    for body in ('{}', '{"days": 5, "expiresAt": "2099-01-01T00:00:00Z"}', '{"days": -1}'):
        with pytest.raises(ValidationError):
            ExtendRequest.model_validate_json(body)


def test_list_query_parses_strings_from_the_query_string():
    query = ListQuery.model_validate({"pageSize": "5", "state": "active", "expiringBefore": "2030-01-01T00:00:00Z"})
    assert query.pageSize == 5 and query.state == "active" and query.expiringBefore.year == 2030
    for bad in ({"state": "gone"}, {"pageSize": "0"}, {"expiringBefore": "tomorrow"}, {"other": "x"}):
        with pytest.raises(ValidationError):
            ListQuery.model_validate(bad)
