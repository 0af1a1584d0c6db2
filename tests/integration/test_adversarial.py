"""The adversarial probe of issue 9, kept as regression tests on Azurite and the Graph emulator (real msgraph-sdk over
HTTP). Each reproduction gets a clear 4xx (or the documented behaviour) and, where a safety rule applies, no Graph
write at all."""
from __future__ import annotations

import asyncio
import json
import logging
import shutil
import subprocess
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import azure.functions as func
import pytest
from azure.data.tables.aio import TableServiceClient

from lifecycle.adapters.tables import codec
from lifecycle.adapters.tables.errors import storage_errors
from lifecycle.config import Settings
from lifecycle.domain.model import Guest, GuestState
from lifecycle.errors import InvalidRequest
from lifecycle.wiring import build_services, container
from tests.api_client import call, function
from tests.conftest import FAST
from tests.support import GROUP_A, GROUP_B, Azurite, app_environment, free_port, logged, wait_for_port

pytestmark = pytest.mark.azurite

FAR = "9999-12-31T23:59:59.999999Z"
AZURITE_AUTOSAVE_SECONDS = 5.5


def fields(body: dict) -> list[str]:
    return [d["field"] for d in body["error"]["details"]]


async def tracked_guest(emulator, email: str = "probe@fabrikam.com") -> str:
    status, body, _ = await call("invite_guest", "POST", "guests", {"email": email})
    assert status == 201, body
    return body["id"]


async def with_pending_work(live, guest_id: str, groups: tuple[str, ...] = (GROUP_A,),
                            attributes: dict[str, str] | None = None) -> Guest:
    """Record Graph work as wanted but not yet done (what a failed or lagging request leaves behind)."""
    guest = await live.records.load(guest_id)
    wanted = {"jobTitle": "Spy"} if attributes is None else attributes
    return await live.records.store.save(replace(guest, pending_groups=groups, pending_attributes=wanted))


# --- 1. a member is never written to ---------------------------------------------------------------
async def test_reinvite_of_a_guest_turned_member_is_403_and_writes_nothing(live, emulator):
    guest_id = await tracked_guest(emulator)
    emulator.update_user(guest_id, userType="Member")
    emulator.clear_calls()
    status, body, _ = await call("invite_guest", "POST", "guests", {
        "email": "probe@fabrikam.com", "groups": [GROUP_A], "attributes": {"jobTitle": "Spy"}})
    assert status == 403 and body["error"]["code"] == "NotAGuest"
    assert emulator.writes() == 0 and emulator.group_members(GROUP_A) == []
    record = await live.records.load(guest_id)
    assert record.pending_groups == () and record.pending_attributes == {}


async def test_a_poll_drops_pending_work_of_a_member_and_writes_nothing(live, emulator):
    guest_id = await tracked_guest(emulator)
    await with_pending_work(live, guest_id)
    emulator.update_user(guest_id, userType="Member")
    emulator.clear_calls()
    status, body, _ = await call("get_guest", "GET", f"guests/{guest_id}", route={"id": guest_id})
    assert status == 200 and emulator.writes() == 0
    assert emulator.group_members(GROUP_A) == [] and emulator.user(guest_id).get("jobTitle") in (None, "")
    assert body["pendingGroups"] == [] and "not a guest" in body["lastError"]
    audit = await live.audit.entries_for(guest_id)
    assert [e.outcome for e in audit if e.action == "guest.work.dropped"] == ["dropped"]


async def test_head_never_finishes_pending_work_even_for_a_guest(live, emulator):
    guest_id = await tracked_guest(emulator)
    await with_pending_work(live, guest_id)
    emulator.clear_calls()
    status, body, _ = await call("get_guest", "HEAD", f"guests/{guest_id}", route={"id": guest_id})
    assert status == 202 and body["pendingGroups"] == [GROUP_A]
    assert emulator.writes() == 0


async def test_the_sweeps_repair_never_writes_to_a_member(live, emulator):
    guest_id = await tracked_guest(emulator)
    await with_pending_work(live, guest_id)
    emulator.update_user(guest_id, userType="Member")
    emulator.clear_calls()
    report = await live.expiry.run()
    assert emulator.writes() == 0 and emulator.group_members(GROUP_A) == []
    assert (await live.records.load(guest_id)).pending_groups == () and not report.failures, report


async def test_a_guest_still_gets_its_pending_work_done(live, emulator):
    guest_id = await tracked_guest(emulator)
    await with_pending_work(live, guest_id)
    status, body, _ = await call("get_guest", "GET", f"guests/{guest_id}", route={"id": guest_id})
    assert status == 200 and body["groups"] == [GROUP_A] and body["attributes"] == {"jobTitle": "Spy"}
    assert emulator.group_members(GROUP_A) == [guest_id] and emulator.user(guest_id)["jobTitle"] == "Spy"


# --- 2. dates the store cannot hold ----------------------------------------------------------------
@pytest.mark.parametrize("expires_at", [FAR, "9999-12-31T23:59:59-01:00", "1999-12-31T23:59:59Z"])
async def test_an_absurd_expiry_on_invite_is_400_before_graph(live, emulator, expires_at):
    status, body, _ = await call("invite_guest", "POST", "guests", {"email": "far@fabrikam.com",
                                                                     "expiresAt": expires_at})
    assert status == 400 and fields(body) == ["expiresAt"]
    assert emulator.calls()["total"] == 0
    assert await live.records.store.get_claim("far@fabrikam.com") is None


async def test_an_absurd_expiry_on_extend_is_400_and_leaves_nothing_pending(live, emulator):
    guest_id = await tracked_guest(emulator)
    status, body, _ = await call("extend_guest", "POST", f"guests/{guest_id}/extend", {"expiresAt": FAR},
                                 route={"id": guest_id})
    assert status == 400 and fields(body) == ["expiresAt"]
    assert (await live.records.load(guest_id)).pending_action == ""
    status, _, _ = await call("extend_guest", "POST", f"guests/{guest_id}/extend", {"days": 30}, route={"id": guest_id})
    assert status == 200


@pytest.mark.parametrize("moment", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"])
async def test_an_out_of_range_list_filter_is_400(live, moment):
    status, body, _ = await call("list_guests", "GET", "guests", params={"expiringBefore": moment})
    assert status == 400 and fields(body) == ["expiringBefore"]


async def test_the_table_codec_keeps_every_microsecond_up_to_year_9999(live, emulator):
    guest_id = await tracked_guest(emulator)
    far = datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)
    guest = await live.records.load(guest_id)
    await live.records.store.save(replace(guest, expires_at=far, disabled_at=far - timedelta(microseconds=1)))
    stored = await live.records.load(guest_id)
    assert stored.expires_at == far and stored.disabled_at == far - timedelta(microseconds=1)


async def test_the_sweep_reports_a_bad_record_and_goes_on(live, emulator, live_settings):
    due = datetime.now(UTC) - timedelta(days=1)
    normal = emulator.seed_user(mail="due@fabrikam.com", userType="Guest")["id"]
    await live.records.store.create(Guest(id=normal, email="due@fabrikam.com", expires_at=due), None)
    broken, overflowing = str(uuid.uuid4()), emulator.seed_user(mail="far@fabrikam.com", userType="Guest")["id"]
    long_ago = datetime(2001, 1, 1, tzinfo=UTC)
    async with TableServiceClient.from_connection_string(live_settings.tables_connection_string) as service:
        table = service.get_table_client(live_settings.table_name("guests"))
        await table.create_entity({"PartitionKey": codec.guest_partition(broken), "RowKey": codec.guest_key(broken),
                                   "Id": broken, "Email": "broken@fabrikam.com", "State": "no-such-state",
                                   "InvitationState": "PendingAcceptance"})
        for kind in (codec.IndexKind.EXPIRES, codec.IndexKind.REPAIR):
            await table.create_entity(codec.index_entity(codec.index_key(kind, due, broken)))
    stuck = Guest(id=overflowing, email="far@fabrikam.com", state=GuestState.DISABLED,
                  disabled_at=datetime(9999, 12, 31, tzinfo=UTC), pending_action="extend:" + FAR,
                  pending_since=long_ago, updated_at=long_ago)
    await live.records.store.create(stuck, None)
    report = await live.expiry.run()
    assert report.done.get("disable") == 1 and (await live.records.load(normal)).state is GuestState.DISABLED
    assert {f["guestId"] for f in report.failures} >= {broken}, report
    assert report.finished_at


# --- 3. internationalised domains ------------------------------------------------------------------
@pytest.fixture
def idn_blocked(live_env, azurite):
    async def build(blocked: str):
        settings = Settings.from_env({**live_env, "BLOCKED_EMAIL_DOMAINS": blocked})
        services = build_services(settings, tuning=FAST)
        container.use(lambda: services)
        return services
    return build


@pytest.mark.parametrize("blocked", ["xn--mnchen-3ya.de", "MÜNCHEN.de"])
@pytest.mark.parametrize("email", ["x@xn--mnchen-3ya.de", "y@MÜNCHEN.de", "z@sub.münchen.de"])
async def test_an_internationalised_domain_is_blocked_in_either_form(idn_blocked, emulator, blocked, email):
    services = await idn_blocked(blocked)
    try:
        status, body, _ = await call("invite_guest", "POST", "guests", {"email": email})
        assert status == 403 and body["error"]["code"] == "DomainNotAllowed"
        assert emulator.calls()["total"] == 0
    finally:
        await services.close()


@pytest.mark.parametrize("mail", ["m@xn--mnchen-3ya.de", "m@münchen.de"])
async def test_a_member_with_an_internationalised_mail_is_recognised(live, emulator, mail):
    emulator.configure(tenantDomains=["fabrikam.onmicrosoft.com"])
    emulator.seed_user(mail=mail, userType="Member")
    emulator.clear_calls()
    status, body, _ = await call("invite_guest", "POST", "guests", {"email": "M@MÜNCHEN.de"})
    assert status == 403 and body["error"]["code"] == "NotAGuest"
    assert emulator.writes() == 0


# --- 4. logs: no function key, no forged lines ------------------------------------------------------
async def test_a_5xx_logs_neither_the_key_nor_a_forged_line(stopped_storage, caplog):
    guest_id = str(uuid.uuid4())
    forged = '%0D%0A{"level":"critical","event":"forged"}'
    req = func.HttpRequest("GET", f"http://localhost:7071/api/guests/{guest_id}{forged}?code=SECRET-KEY",
                           headers={}, params={"code": "SECRET-KEY"}, route_params={"id": guest_id}, body=b"")
    with caplog.at_level(logging.WARNING):
        response = await function("get_guest")(req)
    assert response.status_code == 503
    lines = [record.getMessage() for record in caplog.records if record.name.startswith("lifecycle")]
    assert lines and all("SECRET-KEY" not in line and "\n" not in line and "\r" not in line for line in lines)
    entries = logged(caplog.records)  # one JSON object a line: the forged one stays text inside a field
    assert all(entry["event"] != "forged" for entry in entries)
    assert any("\\r\\n" in entry.get("request", "") for entry in entries), entries


# --- 5. a caller's mistake is a 400, never a 503 ---------------------------------------------------
@pytest.mark.parametrize(("field", "value"), [
    ("messageLanguage", "en-" + "abcdefgh-" * 4000 + "US"), ("message", "x" * 36_000),
    ("displayName", "d" * 36_000), ("sponsors", [str(uuid.uuid4()) for _ in range(6)]),
    ("groups", [str(uuid.uuid4()) for _ in range(51)]),
    ("ccRecipients", ["a@fabrikam.com", "b@fabrikam.com"]), ("attributes", {"jobTitle": "j" * 200}),
])
async def test_oversized_fields_are_400_naming_the_field(live, emulator, field, value):
    status, body, headers = await call("invite_guest", "POST", "guests", {"email": "big@fabrikam.com", field: value})
    assert status == 400 and "Retry-After" not in headers
    assert any(f == field or f.startswith(field + ".") for f in fields(body)), body
    assert emulator.calls()["total"] == 0


async def test_storage_refusing_a_large_entity_is_a_400_not_an_outage(live, live_settings):
    async with TableServiceClient.from_connection_string(live_settings.tables_connection_string) as service:
        name = live_settings.table_name("guests")
        await service.create_table_if_not_exists(name)
        table = service.get_table_client(name)
        with pytest.raises(InvalidRequest) as refused:
            async with storage_errors("probe"):
                await table.create_entity({"PartitionKey": "p", "RowKey": "r", "Big": "x" * 40_000})
    assert refused.value.status == 400 and refused.value.code == "RecordTooLarge"


async def test_a_record_too_large_for_the_store_is_refused_before_it_is_sent(live, emulator):
    guest_id = await tracked_guest(emulator)
    guest = await live.records.load(guest_id)
    with pytest.raises(InvalidRequest) as refused:
        await live.records.store.save(replace(guest, display_name="d" * 40_000))
    assert refused.value.code == "RecordTooLarge" and refused.value.details[0]["field"] == "DisplayName"


# --- 6. managed groups are checked where pending work is finished ----------------------------------
@pytest.fixture
async def narrowed(live, live_env):
    """The same tables, seen by an instance that manages only GROUP_A."""
    settings = Settings.from_env({**live_env, "MANAGED_GROUP_IDS": GROUP_A})
    services = build_services(settings, tuning=FAST)
    container.use(lambda: services)
    yield services
    await services.close()
    container.use(lambda: live)


async def test_pending_adds_to_groups_no_longer_managed_are_dropped_not_written(live, narrowed, emulator):
    guest_id = await tracked_guest(emulator)
    await with_pending_work(live, guest_id, groups=(GROUP_B,), attributes={})
    emulator.clear_calls()
    status, body, _ = await call("get_guest", "GET", f"guests/{guest_id}", route={"id": guest_id})
    assert status == 200 and body["pendingGroups"] == [] and body["groups"] == []
    assert emulator.writes() == 0 and emulator.group_members(GROUP_B) == []
    audit = await narrowed.audit.entries_for(guest_id)
    dropped = [e for e in audit if e.action == "group.dropped"]
    assert len(dropped) == 1 and dropped[0].details["groups"] == [GROUP_B]


async def test_the_sweep_drops_pending_adds_to_unmanaged_groups(live, narrowed, emulator):
    guest_id = await tracked_guest(emulator)
    await with_pending_work(live, guest_id, groups=(GROUP_A, GROUP_B), attributes={})
    emulator.clear_calls()
    await narrowed.expiry.run()
    assert emulator.group_members(GROUP_B) == [] and emulator.group_members(GROUP_A) == [guest_id]
    assert (await narrowed.records.load(guest_id)).groups == (GROUP_A,)


# --- 7. an acknowledged request is never contradicted ----------------------------------------------
class PersistentAzurite(Azurite):
    """Azurite that keeps its data on disk, so it can be stopped and started again on the same ports."""

    def start(self) -> PersistentAzurite:
        binary = Path(__file__).resolve().parents[2] / "node_modules" / ".bin" / "azurite"
        self.process = subprocess.Popen(
            [str(binary if binary.exists() else shutil.which("azurite")), "--silent", "--skipApiVersionCheck",
             "--loose", "--location", self._workdir, "--blobPort", str(self.blob_port),
             "--queuePort", str(self.queue_port), "--tablePort", str(self.table_port)],
            cwd=self._workdir, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for_port(self.table_port)
        wait_for_port(self.queue_port)
        return self

    async def outage(self) -> None:
        """Stop it abruptly, once what was written has reached the disk (Azurite saves every 5 s)."""
        await asyncio.sleep(AZURITE_AUTOSAVE_SECONDS)
        self.pause()

    def pause(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)

    def stop(self) -> None:
        self.pause()
        shutil.rmtree(self._workdir, ignore_errors=True)


@pytest.fixture
async def outage(emulator):
    storage = PersistentAzurite()
    storage.table_port, storage.queue_port, storage.blob_port = free_port(), free_port(), free_port()
    storage.start()
    settings = Settings.from_env(app_environment(storage.connection_string, emulator.graph_url))
    services = build_services(settings, tuning=replace(FAST, action_stale_seconds=3600))
    container.use(lambda: services)
    yield storage, services
    await services.close()
    container.reset()
    storage.stop()


async def test_enable_while_a_disable_is_pending_resumes_it_and_answers_409(outage, emulator):
    storage, services = outage
    guest_id = await tracked_guest(emulator)
    directory = services.directory
    block = directory.block_sign_in

    async def block_then_storage_fails(user_id: str) -> None:
        await block(user_id)
        await storage.outage()  # Graph has the disable; the record cannot say so

    directory.block_sign_in = block_then_storage_fails
    status, body, _ = await call("disable_guest", "POST", f"guests/{guest_id}/disable", route={"id": guest_id})
    assert status == 503 and emulator.user(guest_id)["accountEnabled"] is False
    directory.block_sign_in = block
    storage.start()
    assert (await services.records.load(guest_id)).pending_action == "disable:manual"

    status, body, _ = await call("enable_guest", "POST", f"guests/{guest_id}/enable", route={"id": guest_id})
    assert status == 409 and body["error"]["code"] == "OperationInProgress"
    assert body["error"]["details"] == [{"pendingAction": "disable:manual", "resumed": True}]
    record = await services.records.load(guest_id)
    assert record.state is GuestState.DISABLED and record.pending_action == ""
    assert emulator.user(guest_id)["accountEnabled"] is False

    status, body, _ = await call("enable_guest", "POST", f"guests/{guest_id}/enable", route={"id": guest_id})
    assert status == 200 and body["state"] == "invited" and emulator.user(guest_id)["accountEnabled"] is True


async def test_repeating_the_pending_operation_finishes_it(live, emulator):
    guest_id = await tracked_guest(emulator)
    guest = await live.records.load(guest_id)
    await live.records.store.save(guest.begin("disable:manual", datetime.now(UTC)))
    status, body, _ = await call("disable_guest", "POST", f"guests/{guest_id}/disable", route={"id": guest_id})
    assert status == 200 and body["state"] == "disabled" and emulator.user(guest_id)["accountEnabled"] is False


# --- 8. smaller holes ------------------------------------------------------------------------------
async def test_cc_recipients_pass_the_domain_lists(live_env, emulator, azurite):
    services = build_services(Settings.from_env({**live_env, "BLOCKED_EMAIL_DOMAINS": "contoso.com"}), tuning=FAST)
    container.use(lambda: services)
    try:
        status, body, _ = await call("invite_guest", "POST", "guests", {
            "email": "ok@fabrikam.com", "sendInvitationMessage": True, "ccRecipients": ["spy@CONTOSO.com"]})
        assert status == 403 and body["error"]["code"] == "DomainNotAllowed"
        assert emulator.calls()["total"] == 0
    finally:
        await services.close()


async def test_a_forged_host_never_reaches_location_or_servers(live, emulator):
    headers = {"Host": "evil.example"}
    req = func.HttpRequest("POST", "http://evil.example/api/guests", headers=headers, params={},
                           body=json.dumps({"email": "host@fabrikam.com", "groups": [GROUP_A]}).encode())
    emulator.configure(replicationLag=10_000)  # the group add stays pending: 202 with Location
    response = await function("invite_guest")(req)
    body = json.loads(response.get_body())
    assert response.status_code == 202 and response.headers["Location"] == f"/api/guests/{body['id']}"
    docs = await function("openapi_document")(func.HttpRequest("GET", "http://evil.example/api/openapi.json",
                                                               headers=headers, body=b""))
    assert json.loads(docs.get_body())["servers"] == [{"url": "/api"}]


async def test_a_principal_name_with_newlines_is_audited_escaped(live, emulator, monkeypatch):
    monkeypatch.setenv("WEBSITE_AUTH_ENABLED", "true")
    guest_id = await tracked_guest(emulator)
    status, _, _ = await call("disable_guest", "POST", f"guests/{guest_id}/disable", route={"id": guest_id},
                              headers={"x-ms-client-principal-name": "alice\r\nactor=admin",
                                       "x-ms-client-principal-id": "p1"})
    assert status == 200
    actors = {e.actor for e in await live.audit.entries_for(guest_id) if e.action == "guest.disable"}
    assert actors == {"principal:alice\\r\\nactor=admin/p1"}


async def test_the_idempotency_table_never_keeps_a_redemption_link(live, emulator, live_settings):
    status, body, _ = await call("invite_guest", "POST", "guests", {"email": "ticket@fabrikam.com"},
                                 headers={"Idempotency-Key": "ticket-1"})
    assert status == 201 and body["inviteRedeemUrl"]
    async with TableServiceClient.from_connection_string(live_settings.tables_connection_string) as service:
        table = service.get_table_client(live_settings.table_name("idempotency"))
        stored = [row async for row in table.list_entities()]
    assert len(stored) == 1 and stored[0]["Status"] == "completed"
    assert body["inviteRedeemUrl"] not in json.dumps(dict(stored[0]), default=str)
    replayed = await call("invite_guest", "POST", "guests", {"email": "ticket@fabrikam.com"},
                          headers={"Idempotency-Key": "ticket-1"})
    assert replayed[0] == 201 and "inviteRedeemUrl" not in replayed[1] and replayed[1]["id"] == body["id"]

