"""GET /api/guests on Azurite: filters and continuation-token paging."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.api_client import call

pytestmark = pytest.mark.azurite


async def test_filters_and_paging(live, emulator):
    ids = {}
    for name, days in (("soon", 3), ("mid", 20), ("late", 200)):
        status, body, _ = await call("invite_guest", "POST", "guests", {"email": f"{name}@fabrikam.com",
                                                                        "expiresInDays": days})
        ids[name] = body["id"]
    await call("disable_guest", "POST", "x", route={"id": ids["mid"]})
    before = (datetime.now(UTC) + timedelta(days=30)).isoformat()
    status, page, _ = await call("list_guests", "GET", "guests", params={"expiringBefore": before})
    assert status == 200 and [g["email"] for g in page["value"]] == ["soon@fabrikam.com"]
    _, disabled, _ = await call("list_guests", "GET", "guests", params={"state": "disabled"})
    assert [g["id"] for g in disabled["value"]] == [ids["mid"]]
    _, by_mail, _ = await call("list_guests", "GET", "guests", params={"email": "LATE@fabrikam.com"})
    assert [g["id"] for g in by_mail["value"]] == [ids["late"]]
    seen, token = [], None
    while True:
        params = {"pageSize": "2", **({"continuationToken": token} if token else {})}
        _, page, _ = await call("list_guests", "GET", "guests", params=params)
        seen += [g["id"] for g in page["value"]]
        token = page["continuationToken"]
        if not token:
            break
    assert sorted(seen) == sorted(ids.values())
    status, body, _ = await call("list_guests", "GET", "guests", params={"continuationToken": "garbage!"})
    assert status == 400
