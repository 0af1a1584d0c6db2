"""`python -m lifecycle serve`: the development server's command. The deployed package never imports this module:
lifecycle/cli.py loads it by name when the command is called (DEVELOPMENT_COMMANDS)."""
from __future__ import annotations

import os
import secrets

import click
import uvicorn

from devserver.asgi import build_asgi_app
from devserver.emulated_graph import start_emulator


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=7071, show_default=True, type=int)
@click.option("--emulate-graph", is_flag=True, help="Start the Graph emulator in-process and point the app at it.")
@click.option("--emulator-port", default=0, type=int, help="Port of the emulator (0 = any free port).")
def serve(host: str, port: int, emulate_graph: bool, emulator_port: int) -> None:
    """Serve the functions that function_app.app registers, with function-key auth (development server); with
    LIFECYCLE_HTTP_AUTH=entra, behind emulated App Service authentication (devserver/easy_auth.py)."""
    from devserver.easy_auth import TRUST_SETTING
    from lifecycle.config import entra_authentication_enabled, is_loopback_host
    from lifecycle.logs import configure_logging

    if os.environ.get(TRUST_SETTING, "").strip().lower() == "true" and not is_loopback_host(host):
        raise click.ClickException(f"{TRUST_SETTING}=true lets a client choose who it is: it is honoured on a "
                                   "loopback address only (--host 127.0.0.1)")
    configure_logging()
    emulator = start_emulator(emulator_port) if emulate_graph else None
    if emulator is not None:
        click.echo(f"Graph emulator: {emulator.graph_url}  (control: {emulator.url}/_emulator)")
        click.echo(f"Managed groups: {os.environ['MANAGED_GROUP_IDS'].replace(',', ', ')}")
    import function_app

    key = os.environ.get("LIFECYCLE_FUNCTION_KEY") or secrets.token_urlsafe(32)
    click.echo(f"Guest Lifecycle API: http://{host}:{port}/api  (health: /api/health)")
    if entra_authentication_enabled():
        click.echo("Microsoft Entra mode: App Service authentication is emulated (no function key). Sign in at "
                   f"http://{host}:{port}/.auth/login/aad?user=<UPN, mail or object id of an emulated user>"
                   f"&post_login_redirect_uri=/api/portal  (sponsor page: http://{host}:{port}/api/portal)")
    else:
        click.echo(f"Function key (x-functions-key header or ?code=): {key}")
    try:
        uvicorn.run(build_asgi_app(function_app.app, key), host=host, port=port, log_level="warning")
    finally:
        if emulator is not None:
            emulator.stop()
