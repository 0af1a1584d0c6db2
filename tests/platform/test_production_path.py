"""The app as Azure runs it: `python -m lifecycle serve` and `python -m lifecycle expire` on the managed identity
(the App Service identity endpoint), a Graph that accepts only Graph tokens of that identity, and Azurite over HTTPS
that accepts only storage tokens (`--oauth basic`), with no connection string anywhere."""
from __future__ import annotations

import json
import ssl
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from azure.core.exceptions import ClientAuthenticationError
from azure.data.tables import TableServiceClient

from tests import support
from tests.platform.conftest import run_sweep
from tests.support import GROUP_A, GROUP_B

pytestmark = pytest.mark.azurite
GRAPH = "https://graph.microsoft.com"
STORAGE = "https://storage.azure.com"


def graph_tokens(identity_graph) -> set:
    """The tokens the Graph requests carried (aud, jti); None for a request without an identity token."""
    return {None if entry["token"] is None else (entry["token"]["aud"], entry["token"]["jti"])
            for entry in identity_graph.control.calls()["log"]}


def queued_events(azurite, queue_name: str) -> list[dict]:
    """The events on the app's queue, peeked with the account key (the test's own access, not the app's)."""
    return support.queued_events(azurite.connection_string, queue_name, connection_verify=azurite.ca_file)


def test_serve_and_sweep_run_on_the_managed_identity(identity_graph, oauth_azurite, production_env, served_app):
    api = served_app.api

    health = api.get("/health")
    assert health.status_code == 200, health.text
    checks = health.json()["checks"]
    assert checks["graph"]["auth"] == "managed-identity" and checks["storageAuth"]["mode"] == "managed-identity"
    assert checks["storage"] == "ok" and checks["graph"]["token"] == "ok"  # asked of the credential, not Graph
    assert checks["graph"]["baseUrl"] == "configured" and identity_graph.graph_url not in health.text
    assert checks["managedGroups"] == {"count": 2, "problems": []}
    # the managed groups are read once (GET /groups/{id}, reused for minutes); the token never costs a Graph call
    assert sorted(entry["route"] for entry in identity_graph.control.calls()["log"]) == ["/groups/{id}"] * 2
    assert api.get("/health").status_code == 200 and len(identity_graph.control.calls()["log"]) == 2

    invited = api.post("/guests", json={"email": "platform@fabrikam.com", "groups": [GROUP_A, GROUP_B]})
    assert invited.status_code == 201, invited.text
    guest = invited.json()
    assert sorted(guest["groups"]) == sorted([GROUP_A, GROUP_B])
    assert sorted(identity_graph.control.group_members(GROUP_A) + identity_graph.control.group_members(GROUP_B)) \
        == [guest["id"], guest["id"]]
    assert api.get(f"/guests/{guest['id']}").json()["email"] == "platform@fabrikam.com"
    assert [item["id"] for item in api.get("/guests").json()["value"]] == [guest["id"]]
    disabled = api.post(f"/guests/{guest['id']}/disable")
    assert disabled.status_code == 200 and disabled.json()["state"] == "disabled"
    assert identity_graph.control.user(guest["id"])["accountEnabled"] is False

    expires_at = datetime.now(UTC) + timedelta(seconds=2)
    short = api.post("/guests", json={"email": "short@fabrikam.com",
                                      "expiresAt": expires_at.isoformat().replace("+00:00", "Z")})
    assert short.status_code == 201, short.text
    other = api.post("/guests", json={"email": "short2@fabrikam.com",  # two due: their intents written together
                                      "expiresAt": expires_at.isoformat().replace("+00:00", "Z")})
    assert other.status_code == 201, other.text
    time.sleep(max(0.0, (expires_at - datetime.now(UTC)).total_seconds()) + 0.5)
    sweep = run_sweep(production_env)
    assert sweep.returncode == 0, sweep.stdout + sweep.stderr
    assert identity_graph.control.user(short.json()["id"])["accountEnabled"] is False
    assert api.get(f"/guests/{short.json()['id']}").json()["state"] == "disabled"
    assert identity_graph.control.user(other.json()["id"])["accountEnabled"] is False
    assert api.get(f"/guests/{other.json()['id']}").json()["state"] == "disabled"
    counts = identity_graph.control.calls()["counts"]
    # the HTTP disable in a $batch of its own, the sweep's two guests in one or two more, each item counted
    assert counts.get("POST /$batch", 0) >= 2 and counts.get("PATCH /users/{id}", 0) >= 3
    assert counts.get("POST /users/{id}/revokeSignInSessions", 0) >= 3

    events = {(event["type"], event["subject"]) for event in
              queued_events(oauth_azurite, production_env["LIFECYCLE_EVENTS_QUEUE"])}
    assert {("guest.invited", f"guests/{guest['id']}"), ("guest.disabled", f"guests/{guest['id']}"),
            ("guest.disabled", f"guests/{short.json()['id']}")} <= events  # the last one written by the sweep

    # the day-two and sponsor reads on the same wiring: the sweep's stored run, the guest's history, and the
    # guests with their last sign-ins read from Graph in bulk (the function key holds every role)
    runs = api.get("/expiry/runs")
    assert runs.status_code == 200 and runs.json()["value"], runs.text
    history = api.get(f"/guests/{short.json()['id']}/history")
    assert history.status_code == 200 and any(e["action"] == "guest.disable" for e in history.json()["value"])
    mine = api.get("/me/guests")
    assert mine.status_code == 200 and {g["id"] for g in mine.json()["value"]} >= {guest["id"], short.json()["id"]}

    # adoption on the same wiring: many writers at once, claims and records of one partition sharing transactions
    existing = identity_graph.control.seed_users(count=40, userType="Guest", mail="adopt{n}@fabrikam.com",
                                                 externalUserState="Accepted")
    adopted = api.post("/adopt", json={"expiresInDays": 30})
    assert adopted.status_code == 200, adopted.text
    assert adopted.json()["adopted"] == 40 and adopted.json()["skipped"] == []
    for user_id in existing[::13]:  # each found by its email: the claim linked to the record
        email = identity_graph.control.user(user_id)["mail"]
        found = api.get("/guests", params={"email": email}).json()["value"]
        assert [g["id"] for g in found] == [user_id] and found[0]["state"] == "active"
    assert api.post("/adopt", json={}).json()["alreadyTracked"] >= 40

    log = identity_graph.control.calls()["log"]
    assert log and all(entry["status"] < 400 for entry in log), [e for e in log if e["status"] >= 400]
    tokens = graph_tokens(identity_graph)
    assert None not in tokens and {aud for aud, _ in tokens} == {GRAPH}
    assert len(tokens) == 2  # one Graph token for the serving process, one for the sweep's process
    # Each process asked the identity endpoint once per resource, however many requests it made.
    assert identity_graph.control.identity()["issued"] == {GRAPH: 2, STORAGE: 2}


def test_storage_refuses_a_token_for_another_audience(identity_graph, oauth_azurite):
    anonymous = httpx.get(f"{oauth_azurite.table_endpoint}/Tables", timeout=10,
                          verify=ssl.create_default_context(cafile=oauth_azurite.ca_file))
    assert anonymous.status_code == 403
    for audience, allowed in ((GRAPH, False), (STORAGE, True)):
        token = identity_graph.identity.issue(audience)["access_token"]
        service = TableServiceClient(oauth_azurite.table_endpoint, credential=_Fixed(token),
                                     connection_verify=oauth_azurite.ca_file)
        with service:
            if allowed:
                assert list(service.list_tables()) is not None
            else:
                with pytest.raises(ClientAuthenticationError):
                    list(service.list_tables())


def test_graph_refuses_the_storage_token(identity_graph):
    token = identity_graph.identity.issue(STORAGE)["access_token"]
    answer = httpx.get(f"{identity_graph.graph_url}/users", headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert answer.status_code == 401 and answer.json()["error"]["code"] == "InvalidAuthenticationToken"


class _Fixed:
    """A credential handing out one given token (the sync clients' TokenCredential protocol)."""

    def __init__(self, token: str) -> None:
        self._token = token

    def get_token(self, *scopes: str, **kwargs: object):
        from azure.core.credentials import AccessToken

        return AccessToken(self._token, int(time.time()) + 3600)


_GROUP_COMMIT_SCRIPT = """
import asyncio, json, uuid
from datetime import datetime, timedelta, timezone
from lifecycle.adapters.tables import codec
from lifecycle.adapters.credentials import azure_credential
from lifecycle.adapters.tables.client import LifecycleTables, build_service_client
from lifecycle.adapters.tables.store import TableGuestStore
from lifecycle.config import Settings
from lifecycle.domain.model import DisabledReason, Guest
from lifecycle.ports import Event


class Counting(TableGuestStore):
    def __init__(self, tables):
        super().__init__(tables)
        self.transactions = []

    async def _transact(self, operations):
        self.transactions.append(len(operations))
        return await super()._transact(operations)


async def main():
    settings = Settings.from_env()
    credential = azure_credential(settings)
    tables = LifecycleTables(build_service_client(settings, credential), settings)
    store, now = Counting(tables), datetime.now(timezone.utc)
    ids = []  # guests of one partition: only their writes can share a transaction
    while len(ids) < 12:
        candidate = str(uuid.uuid4())
        if codec.guest_partition(candidate) == codec.PARTITIONS[0]:
            ids.append(candidate)
    guests = [await store.create(Guest(id=guest_id, email=f"gc{n}@fabrikam.com", expires_at=now + timedelta(days=9),
                                       invited_at=now, created_at=now, updated_at=now), None)
              for n, guest_id in enumerate(ids)]
    store.transactions.clear()
    saved = await asyncio.gather(*(
        store.save(g.disable(now, DisabledReason.EXPIRY),
                   [Event(type="guest.disabled", guest_id=g.id, data={}, id=f"e{n}", time=now)])
        for n, g in enumerate(guests)))
    read = [await store.get(g.id) for g in saved]
    print(json.dumps({"transactions": store.transactions, "landed": sum(r == s for r, s in zip(read, saved)),
                      "states": sorted({r.state.value for r in read}),
                      "credential": f"{type(credential).__name__}({type(credential.inner).__name__})"}))
    await tables.close()
    await credential.close()


asyncio.run(main())
"""


def test_concurrent_record_writes_share_transactions_on_the_managed_identity(production_env, identity_graph):
    """Group commit in the Table store as Azure runs it: the managed identity's storage token, Azurite over HTTPS."""
    done = subprocess.run([sys.executable, "-c", _GROUP_COMMIT_SCRIPT], cwd=support.ROOT, env=production_env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["credential"] == "BoundedCredential(ManagedIdentityCredential)"  # its token requests bounded
    assert result["landed"] == 12 and result["states"] == ["disabled"]
    each = result["transactions"][0]  # the first save went alone: record, index rows moved, outbox row
    assert sum(result["transactions"]) == 12 * each and len(result["transactions"]) < 12  # the others shared
    assert identity_graph.control.identity()["issued"] == {STORAGE: 1}
