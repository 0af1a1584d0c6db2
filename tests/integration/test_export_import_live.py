"""`python -m lifecycle export` and `import` on Azurite: a deployment's rows, exported and imported into an empty one,
are the same rows (types and keys); an export goes on from a continuation point; an import refuses a deployment that
already holds rows unless told."""
from __future__ import annotations

import asyncio
import io
import json
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from azure.data.tables import EdmType, EntityProperty, TableServiceClient
from click.testing import CliRunner

from lifecycle.adapters.tables.client import build_service_client
from lifecycle.adapters.tables.export import Continuation, TableExport
from lifecycle.cli import main
from lifecycle.config import Settings
from lifecycle.wiring import build_services
from tests.api_client import call

pytestmark = pytest.mark.azurite

RUN_ROW = {"PartitionKey": "runs", "RowKey": "r1", "Count": EntityProperty(2**40, EdmType.INT64), "Share": 0.25,
           "Approved": True, "RunId": uuid.UUID(int=7), "Digest": b"\x01\x02", "Small": 3,
           "At": datetime(2026, 5, 1, 3, 0, 0, 123456, tzinfo=UTC)}


def rows(connection_string: str, prefix: str) -> dict[str, list[dict[str, Any]]]:
    """Every row of the exported tables under `prefix`, as stored (ETag and Timestamp apart)."""
    found: dict[str, list[dict[str, Any]]] = {}
    with TableServiceClient.from_connection_string(connection_string) as service:
        names = {table.name for table in service.list_tables()}
        for kind in ("guests", "audit", "runs"):
            if prefix + kind in names:
                found[kind] = [dict(row) for row in service.get_table_client(prefix + kind).list_entities()]
    return found


async def source_deployment(live: Any, connection_string: str) -> list[str]:
    """Guests invited, one disabled (records, claims, index rows, audit), and a runs table of every stored type."""
    ids = []
    for name in ("ann", "bob", "cy"):
        status, body, _ = await call("invite_guest", "POST", "guests", {"email": f"{name}@fabrikam.com"})
        assert status == 201, body
        ids.append(body["id"])
    status, _, _ = await call("disable_guest", "POST", "x", route={"id": ids[1]})
    assert status == 200
    with TableServiceClient.from_connection_string(connection_string) as service:
        service.create_table_if_not_exists(live.settings.table_name("runs")).create_entity(RUN_ROW)
    return ids


async def cli(monkeypatch: pytest.MonkeyPatch, env: dict[str, str], *args: str) -> Any:
    """The command line in a thread of its own (it runs its own event loop), with these settings."""
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return await asyncio.to_thread(CliRunner().invoke, main, list(args))


async def test_an_export_imported_into_an_empty_deployment_holds_the_same_rows(live, live_env, emulator, tmp_path,
                                                                              monkeypatch):
    connection = live_env["LIFECYCLE_TABLES_CONNECTION_STRING"]
    ids = await source_deployment(live, connection)
    exported = tmp_path / "export.jsonl"
    result = await cli(monkeypatch, live_env, "export", "--output", str(exported))
    assert result.exit_code == 0, result.output
    assert "continuation: " in result.stderr and "export complete: guests" in result.stderr
    lines = exported.read_text(encoding="utf-8").splitlines()
    assert json.loads(lines[0])["export"] == "guest-lifecycle" and json.loads(lines[-1]) == {"end": True}

    target = {**live_env, "LIFECYCLE_TABLE_PREFIX": "t" + uuid.uuid4().hex[:12]}
    result = await cli(monkeypatch, target, "import", str(exported))
    assert result.exit_code == 0, result.output
    assert "import complete: guests" in result.output
    source_rows, target_rows = rows(connection, live_env["LIFECYCLE_TABLE_PREFIX"]), rows(connection,
                                                                                          target["LIFECYCLE_TABLE_PREFIX"])
    assert set(target_rows) == {"guests", "audit", "runs"} and target_rows == source_rows
    assert target_rows["runs"] == [RUN_ROW]

    imported = build_services(Settings.from_env(target))
    try:
        for guest_id in ids:
            before, after = await live.records.store.get(guest_id), await imported.records.store.get(guest_id)
            assert after is not None and before is not None
            assert {**vars(after), "etag": None} == {**vars(before), "etag": None}
        assert (await imported.records.store.get(ids[1])).state.value == "disabled"  # type: ignore[union-attr]
    finally:
        await imported.close()

    again = await cli(monkeypatch, target, "import", str(exported))
    assert again.exit_code == 1 and "already holds rows" in again.output and "Traceback" not in again.output
    assert len(again.output.strip().splitlines()) == 1
    merged = await cli(monkeypatch, target, "import", "--into-non-empty", str(exported))
    assert merged.exit_code == 0, merged.output
    assert rows(connection, target["LIFECYCLE_TABLE_PREFIX"]) == source_rows


async def test_an_interrupted_export_goes_on_from_its_continuation_point(live, live_env, emulator, tmp_path,
                                                                         monkeypatch):
    await source_deployment(live, live_env["LIFECYCLE_TABLES_CONNECTION_STRING"])
    settings = Settings.from_env(live_env)
    service = build_service_client(settings, None)
    points: list[Continuation] = []
    whole = io.BytesIO()
    try:
        await TableExport(service, settings, page_size=2).write(whole, progress=points.append)
    finally:
        await service.close()
    assert len(points) >= 4, "a page of two rows at a time hands out a point after each page"
    cut = next(point for point in points if point.table == "guests" and point.page is not None)

    partial = tmp_path / "export.jsonl"
    partial.write_bytes(whole.getvalue()[:cut.offset] + b'{"table": "guests", "entity": {"PartitionKey": "half')
    result = await cli(monkeypatch, live_env, "export", "--output", str(partial), "--resume", cut.encode())
    assert result.exit_code == 0, result.output
    assert partial.read_bytes() == whole.getvalue()  # cut back to the point, then the same rows after it

    to_stdout = await cli(monkeypatch, live_env, "export", "--resume", cut.encode())
    assert to_stdout.exit_code == 0
    assert whole.getvalue()[:cut.offset] + to_stdout.stdout_bytes == whole.getvalue()


async def test_an_import_of_an_incomplete_export_says_so(live, live_env, emulator, tmp_path, monkeypatch):
    await source_deployment(live, live_env["LIFECYCLE_TABLES_CONNECTION_STRING"])
    exported = tmp_path / "export.jsonl"
    assert (await cli(monkeypatch, live_env, "export", "-o", str(exported))).exit_code == 0
    truncated = tmp_path / "truncated.jsonl"
    truncated.write_text("\n".join(exported.read_text(encoding="utf-8").splitlines()[:-1]), encoding="utf-8")
    target = {**live_env, "LIFECYCLE_TABLE_PREFIX": "t" + uuid.uuid4().hex[:12]}
    result = await cli(monkeypatch, target, "import", str(truncated))
    assert result.exit_code == 1 and "incomplete" in result.output


def test_a_missing_storage_setting_is_one_line(tmp_path: Path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("LIFECYCLE_TABLES_CONNECTION_STRING", raising=False)
    monkeypatch.delenv("LIFECYCLE_TABLES_ENDPOINT", raising=False)
    result = CliRunner().invoke(main, ["export"])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert result.output.strip().splitlines() == [result.output.strip()]
    assert "LIFECYCLE_TABLES_CONNECTION_STRING" in result.output and "local.settings.json" in result.output
