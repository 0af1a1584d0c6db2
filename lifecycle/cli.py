"""The `python -m lifecycle` command line."""
from __future__ import annotations

import os
import secrets
import sys
import uuid

import click
import httpx


@click.group()
def main() -> None:
    """Guest Lifecycle: run the HTTP API locally, or run one expiry sweep."""


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=7071, show_default=True, type=int)
@click.option("--emulate-graph", is_flag=True, help="Start the Graph emulator in-process and point the app at it.")
@click.option("--emulator-port", default=0, type=int, help="Port of the emulator (0 = any free port).")
def serve(host: str, port: int, emulate_graph: bool, emulator_port: int) -> None:
    """Serve the functions that function_app.app registers, with function-key auth."""
    import uvicorn

    from lifecycle.logs import configure_logging

    configure_logging()
    emulator = _start_emulator(emulator_port) if emulate_graph else None
    import function_app
    from lifecycle.serve import build_asgi_app

    key = os.environ.get("LIFECYCLE_FUNCTION_KEY") or secrets.token_urlsafe(32)
    click.echo(f"Guest Lifecycle API: http://{host}:{port}/api  (health: /api/health)")
    click.echo(f"Function key (x-functions-key header or ?code=): {key}")
    try:
        uvicorn.run(build_asgi_app(function_app.app, key), host=host, port=port, log_level="warning")
    finally:
        if emulator is not None:
            emulator.stop()


def _start_emulator(port: int):  # type: ignore[no-untyped-def]
    try:
        from graph_emulator.server import EmulatorServer
    except ImportError:
        raise click.ClickException("the Graph emulator is a development tool: install requirements-dev.txt") from None
    groups = [g for g in os.environ.get("MANAGED_GROUP_IDS", "").split(",") if g.strip()]
    if not groups:
        groups = [str(uuid.uuid5(uuid.NAMESPACE_URL, f"guest-lifecycle/demo-group/{n}")) for n in (1, 2)]
        os.environ["MANAGED_GROUP_IDS"] = ",".join(groups)
    server = EmulatorServer(port=port)
    server.start()
    for number, group_id in enumerate(groups, 1):
        httpx.post(f"{server.url}/_emulator/groups", json={"id": group_id.strip(), "displayName": f"Managed group {number}"})
    os.environ["GRAPH_BASE_URL"] = server.graph_url
    click.echo(f"Graph emulator: {server.graph_url}  (control: {server.url}/_emulator)")
    click.echo(f"Managed groups: {', '.join(groups)}")
    return server


@main.command()
@click.option("--dry-run", is_flag=True, help="Plan and report only; change nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option("--override-guard", is_flag=True, help="Enforce even when the mass-deletion guard trips.")
def expire(dry_run: bool, as_json: bool, override_guard: bool) -> None:
    """Run one expiry sweep and print what it did."""
    import asyncio

    from lifecycle.logs import configure_logging
    from lifecycle.timer.runner import run_sweep

    configure_logging()
    report = asyncio.run(run_sweep(dry_run=dry_run or None, override_guard=override_guard))
    click.echo(report.to_json() if as_json else report.to_text())
    sys.exit(1 if report.failed else 0)
