"""The `python -m lifecycle` command line.

Settings are found as `func start` finds them: the `Values` of local.settings.json in the current directory fill the
settings the environment leaves empty (a value set in the environment wins). A setting missing or invalid is said in
one line that names what to set, never with a traceback.

The deployed package holds this module; the development commands (DEVELOPMENT_COMMANDS) live in modules it never
imports, loaded by name only when one of them is called."""
from __future__ import annotations

import asyncio
import importlib
import json
import os
import sys
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import IO, Any

import click

from lifecycle import __version__

LOCAL_SETTINGS = "local.settings.json"
DEVELOPMENT_COMMANDS = {
    "serve": ("devserver.cli", "serve", "Serve the API locally with function-key auth (development server)."),
}
"""name -> (module, attribute, summary) of the commands that need a clone with requirements-dev.txt."""


class Commands(click.Group):
    """The deployed commands, and the development ones, imported by name only when called."""

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in DEVELOPMENT_COMMANDS:
            return development_command(cmd_name)
        return super().get_command(ctx, cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        super().format_commands(ctx, formatter)
        with formatter.section("Development commands (a clone with requirements-dev.txt installed)"):
            formatter.write_dl([(name, summary) for name, (_, _, summary) in DEVELOPMENT_COMMANDS.items()])


def development_command(name: str) -> click.Command:
    module, attribute, _ = DEVELOPMENT_COMMANDS[name]
    try:
        command = getattr(importlib.import_module(module), attribute)
        assert isinstance(command, click.Command)
        return command
    except ImportError as missing:
        reason = f"{name} is a development command: it needs a clone of the repository with requirements-dev.txt " \
                 f"installed (`make run`); here {missing}"

        @click.command(name, context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
                       add_help_option=False)
        def unavailable() -> None:
            raise click.ClickException(reason)

        return unavailable


def load_local_settings(path: Path) -> Callable[[], None]:
    """Put the `Values` of local.settings.json into the environment where it has no value (as `func start` does);
    returns what takes them out again."""
    if not path.is_file():
        return lambda: None
    try:
        values = json.loads(path.read_text(encoding="utf-8")).get("Values") or {}
    except (OSError, ValueError, AttributeError) as exc:
        raise click.ClickException(f"{path} cannot be read as local settings: {exc}") from None
    if not isinstance(values, dict):
        raise click.ClickException(f"{path}: Values must be an object of setting names and values")
    added = []
    for name, value in values.items():
        if not os.environ.get(name) and value not in (None, ""):
            os.environ[name] = value if isinstance(value, str) else json.dumps(value)
            added.append(name)

    def restore() -> None:
        for name in added:
            os.environ.pop(name, None)

    return restore


def one_line(exc: Exception) -> click.ClickException:
    """A ClickException of one line: what went wrong and, for a setting, where to set it."""
    from lifecycle.errors import ConfigurationError, LifecycleError

    message = exc.message if isinstance(exc, LifecycleError) else str(exc)
    if isinstance(exc, ConfigurationError):
        message += (f" (in the Values of {LOCAL_SETTINGS} in this directory, or the environment; `make run` prints "
                    "the settings of its local stack)")
    return click.ClickException(" ".join(message.split()))


def run[T](work: Callable[[], Awaitable[T]]) -> T:
    """Run `work` to its end; an error of the app's own is one line."""
    from lifecycle.errors import LifecycleError

    try:
        return asyncio.run(work())  # type: ignore[arg-type]
    except LifecycleError as exc:
        raise one_line(exc) from None


@click.group(cls=Commands)
@click.version_option(__version__, prog_name="Guest Lifecycle")
@click.pass_context
def main(ctx: click.Context) -> None:
    """Guest Lifecycle: run one expiry sweep, adopt the guests a tenant has, export and import the records.

    Settings: the environment, then the Values of local.settings.json in the current directory."""
    ctx.call_on_close(load_local_settings(Path.cwd() / LOCAL_SETTINGS))


@main.command()
@click.option("--dry-run", is_flag=True, help="Plan and report only; change nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option("--override-guard", is_flag=True, help="Enforce even when the mass-deletion guard trips.")
def expire(dry_run: bool, as_json: bool, override_guard: bool) -> None:
    """Run one expiry sweep and print what it did."""
    from lifecycle.logs import configure_logging
    from lifecycle.timer.expiry_timer import run_sweep
    from lifecycle.wiring import container

    async def sweep() -> Any:
        container.get()  # the services, built from the settings: a setting missing is said before anything runs
        return await run_sweep(dry_run=dry_run or None, override_guard=override_guard)

    configure_logging()
    report = run(sweep)
    click.echo(report.to_json() if as_json else report.to_text())
    sys.exit(1 if report.failed else 0)


@main.command()
@click.option("--dry-run", is_flag=True, help="Report what would be adopted; change nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option("--expires-in-days", type=click.IntRange(1, 3650), default=None,
              help="Expiry of the adopted guests (default GUEST_DEFAULT_TTL_DAYS).")
@click.option("--group", "group_id", type=click.UUID, default=None,
              help="Adopt only the members (direct or nested) of this group.")
@click.option("--progress-seconds", type=click.FloatRange(0), default=10.0, show_default=True,
              help="Seconds between progress lines on stderr (0: one a page).")
def adopt(dry_run: bool, as_json: bool, expires_in_days: int | None, group_id: uuid.UUID | None,
          progress_seconds: float) -> None:
    """Start tracking the guests that already exist in the directory.

    A first pass counts (all a dry run does), a second writes; progress goes to stderr. Interrupted (Ctrl-C), the
    run stops after the guests in hand: run it again to adopt the rest."""
    from lifecycle.cli_progress import ProgressLines
    from lifecycle.logs import configure_logging
    from lifecycle.wiring import container

    progress = ProgressLines(progress_seconds)

    async def adoption() -> dict[str, Any]:
        try:
            result = await container.get().adoption.adopt(
                actor="cli", dry_run=dry_run, expires_in_days=expires_in_days,
                group_id=str(group_id) if group_id else None, on_progress=progress.show)
            return result.to_body()
        finally:
            await container.close_current()

    configure_logging()
    try:
        body = run(adoption)
    except KeyboardInterrupt:
        progress.interrupted()
        sys.exit(130)
    progress.done()
    if as_json:
        click.echo(json.dumps(body, indent=2))
        return
    click.echo(f"adoption {'(dry run) ' if dry_run else ''}found {body['found']}, "
               f"{'would adopt' if dry_run else 'adopted'} {body['adopted']}, already tracked {body['alreadyTracked']}")
    for skipped in body["skipped"]:
        click.echo(f"skipped {skipped['id']}: {skipped['reason']}")


# --- export and import ----------------------------------------------------------------------------------------------
async def _with_storage[T](work: Callable[[Any, Any], Awaitable[T]]) -> T:
    """`work(service, settings)` on the app's Table Storage (the connection string, else the endpoint with the
    identity: in a shell, the signed-in Azure CLI user's); closed after."""
    from lifecycle.adapters.credentials import azure_credential
    from lifecycle.adapters.tables.client import build_service_client, no_storage
    from lifecycle.config import Settings

    settings = Settings.from_env()
    if not settings.tables_connection_string and not settings.tables_endpoint:
        raise no_storage()
    credential = azure_credential(settings) if settings.storage_uses_identity else None
    service = build_service_client(settings, credential)
    try:
        return await work(service, settings)
    finally:
        await service.close()
        if credential is not None:
            await credential.close()


def _export_target(output: Path | None, resume_from: Any) -> IO[bytes]:
    if output is None:
        return sys.stdout.buffer
    if resume_from is None:
        return output.open("wb")
    if not output.is_file() or output.stat().st_size < resume_from.offset:
        raise click.ClickException(f"{output} holds less than the continuation point: export again from the start")
    target = output.open("r+b")
    target.truncate(resume_from.offset)
    target.seek(resume_from.offset)
    return target


@main.command()
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="The file to write (default: standard output).")
@click.option("--resume", "resume_from", metavar="POINT", default=None,
              help="Go on from a continuation point an earlier export printed; with --output the file is cut back "
                   "to that point and continued.")
def export(output: Path | None, resume_from: str | None) -> None:
    """Export the records, the audit and the runs as JSON lines, streamed.

    After each page it prints a continuation point to standard error; `--resume POINT` goes on from there."""
    from lifecycle.adapters.tables.export import Continuation, TableExport
    from lifecycle.errors import LifecycleError

    start = None
    if resume_from is not None:
        try:
            start = Continuation.decode(resume_from)
        except LifecycleError as exc:
            raise one_line(exc) from None
    last: list[Continuation] = [start] if start else []

    def progress(point: Continuation) -> None:
        last[:] = [point]
        click.echo(f"continuation: {point.encode()}", err=True)

    async def work(service: Any, settings: Any) -> dict[str, int]:
        target = _export_target(output, start)
        try:
            return await TableExport(service, settings).write(target, start=start, progress=progress)
        finally:
            if output is not None:
                target.close()

    try:
        counts = run(lambda: _with_storage(work))
    except click.ClickException:
        if last:
            where = f" --output {output}" if output else " >> FILE"
            click.echo(f"export stopped; go on with: python -m lifecycle export{where} --resume {last[0].encode()}",
                       err=True)
        raise
    rows = ", ".join(f"{kind} {count}" for kind, count in counts.items()) or "no table"
    click.echo(f"export complete: {rows}{f' in {output}' if output else ''}", err=True)


@main.command("import")
@click.argument("file", type=click.File("rb"))
@click.option("--into-non-empty", is_flag=True,
              help="Import into a deployment that already holds rows (a row with the same keys is replaced).")
def import_(file: IO[bytes], into_non_empty: bool) -> None:
    """Import an export (FILE, or - for standard input) into an empty deployment."""
    from lifecycle.adapters.tables.export import ImportReport, TableImport

    async def work(service: Any, settings: Any) -> ImportReport:
        importer = TableImport(service, settings)
        try:
            if not into_non_empty:
                await importer.ensure_empty()
            return await importer.load(file)
        finally:
            await importer.close()

    report = run(lambda: _with_storage(work))
    rows = ", ".join(f"{kind} {count}" for kind, count in report.rows.items()) or "no row"
    if not report.complete:
        raise click.ClickException(f"imported {rows}, but the file ends before the export's end line: it is "
                                   "incomplete (resume the export, then import again with --into-non-empty)")
    click.echo(f"import complete: {rows}")


@main.command()
@click.option("--apply", "apply_", is_flag=True, help="Move the rows (without it: a dry run that counts them).")
def migrate(apply_: bool) -> None:
    """Move the guests table to the partitioned storage layout (layout 2).

    Without --apply it prints what it would move: records, email claims, index rows and outbox rows. With --apply it
    moves them (stop the app first: it refuses to run until the migration is done). It can be stopped and run again
    at any point: it goes on with what is left, and loses nothing."""
    from lifecycle.adapters.tables.migration import Migration, MigrationReport, table_exists

    async def work(service: Any, settings: Any) -> MigrationReport | None:
        name = settings.table_name("guests")
        if not await table_exists(service, name):
            return None
        async with service.get_table_client(name) as client:
            progress = (lambda line: click.echo(line, err=True)) if apply_ else (lambda line: None)
            return await Migration(client, progress).run(apply=apply_)

    report = run(lambda: _with_storage(work))
    if report is None:
        click.echo("migrate: there is no guests table yet; a new deployment starts in the partitioned layout")
        return
    click.echo(report.to_text())
    if apply_ and report.state != "done":
        sys.exit(1)


def _review_commands() -> None:
    """history, runs, key-fingerprint: lifecycle/cli_review.py."""
    from lifecycle.cli_review import COMMANDS

    for command in COMMANDS:
        main.add_command(command)


_review_commands()
