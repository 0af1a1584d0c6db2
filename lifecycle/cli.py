"""The `python -m lifecycle` command line."""
from __future__ import annotations

import os
import secrets
import sys
import uuid

import click


@click.group()
def main() -> None:
    """Guest Lifecycle: run the HTTP API locally, or run one expiry sweep."""


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=7071, show_default=True, type=int)
@click.option("--emulate-graph", is_flag=True, help="Start the Graph emulator in-process and point the app at it.")
@click.option("--emulator-port", default=0, type=int, help="Port of the emulator (0 = any free port).")
def serve(host: str, port: int, emulate_graph: bool, emulator_port: int) -> None:
    """Serve the functions that function_app.app registers, with function-key auth (development server)."""
    try:
        import uvicorn

        from devserver.asgi import build_asgi_app
        from devserver.emulated_graph import start_emulator
    except ImportError as missing:
        raise click.ClickException(f"the development server needs requirements-dev.txt ({missing})") from None
    from lifecycle.logs import configure_logging

    configure_logging()
    emulator = start_emulator(emulator_port) if emulate_graph else None
    if emulator is not None:
        click.echo(f"Graph emulator: {emulator.graph_url}  (control: {emulator.url}/_emulator)")
        click.echo(f"Managed groups: {os.environ['MANAGED_GROUP_IDS'].replace(',', ', ')}")
    import function_app

    key = os.environ.get("LIFECYCLE_FUNCTION_KEY") or secrets.token_urlsafe(32)
    click.echo(f"Guest Lifecycle API: http://{host}:{port}/api  (health: /api/health)")
    click.echo(f"Function key (x-functions-key header or ?code=): {key}")
    try:
        uvicorn.run(build_asgi_app(function_app.app, key), host=host, port=port, log_level="warning")
    finally:
        if emulator is not None:
            emulator.stop()


@main.command()
@click.option("--dry-run", is_flag=True, help="Plan and report only; change nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option("--override-guard", is_flag=True, help="Enforce even when the mass-deletion guard trips.")
def expire(dry_run: bool, as_json: bool, override_guard: bool) -> None:
    """Run one expiry sweep and print what it did."""
    import asyncio

    from lifecycle.logs import configure_logging
    from lifecycle.timer.expiry_timer import run_sweep

    configure_logging()
    report = asyncio.run(run_sweep(dry_run=dry_run or None, override_guard=override_guard))
    click.echo(report.to_json() if as_json else report.to_text())
    sys.exit(1 if report.failed else 0)


@main.command()
@click.option("--dry-run", is_flag=True, help="Report what would be adopted; change nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option("--expires-in-days", type=click.IntRange(1, 3650), default=None,
              help="Expiry of the adopted guests (default GUEST_DEFAULT_TTL_DAYS).")
@click.option("--group", "group_id", type=click.UUID, default=None,
              help="Adopt only the members (direct or nested) of this group.")
def adopt(dry_run: bool, as_json: bool, expires_in_days: int | None, group_id: uuid.UUID | None) -> None:
    """Start tracking the guests that already exist in the directory."""
    import asyncio
    import json

    from lifecycle.errors import LifecycleError
    from lifecycle.logs import configure_logging
    from lifecycle.wiring import container

    async def run() -> dict[str, object]:
        try:
            adoption = await container.get().adoption.adopt(
                actor="cli", dry_run=dry_run, expires_in_days=expires_in_days,
                group_id=str(group_id) if group_id else None)
            return adoption.to_body()
        finally:
            await container.close_current()

    configure_logging()
    try:
        body = asyncio.run(run())
    except LifecycleError as exc:
        raise click.ClickException(exc.message) from None
    if as_json:
        click.echo(json.dumps(body, indent=2))
        return
    click.echo(f"adoption {'(dry run) ' if dry_run else ''}found {body['found']}, "
               f"{'would adopt' if dry_run else 'adopted'} {body['adopted']}, already tracked {body['alreadyTracked']}")
    for skipped in body["skipped"]:  # type: ignore[attr-defined]
        click.echo(f"skipped {skipped['id']}: {skipped['reason']}")
