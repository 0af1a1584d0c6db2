"""With Table Storage unreachable the API answers 503 JSON with Retry-After, and Graph is never written."""
from __future__ import annotations

import pytest

from tests.api_client import call
from tests.support import GROUP_A

pytestmark = pytest.mark.azurite


async def test_invite_with_storage_down_is_503_and_no_graph_write(stopped_storage, emulator):
    status, body, headers = await call("invite_guest", "POST", "guests",
                                       {"email": "down@fabrikam.com", "groups": [GROUP_A]})
    assert status == 503 and body["error"]["code"] == "StorageUnavailable"
    assert int(headers["Retry-After"]) > 0
    assert emulator.writes() == 0


async def test_health_reports_storage_down(stopped_storage, emulator, monkeypatch):
    monkeypatch.setenv("GRAPH_BASE_URL", emulator.graph_url)
    status, body, headers = await call("health", "GET", "health")
    assert status == 503 and body["status"] == "unhealthy" and body["checks"]["storage"] != "ok"
    assert "AccountKey" not in str(body)
