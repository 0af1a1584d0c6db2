"""The command line's look back: `history <guest id or email>` (the guest's audit entries, newest first), `runs`
(the sweep's past runs, or one with its per-guest lines) and `key-fingerprint` (which key an audit entry's
`function-key:<fingerprint>` names). Registered on `python -m lifecycle` by lifecycle/cli.py."""
from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from typing import Any

import click


def _run[T](work: Callable[[Any], Awaitable[T]]) -> T:
    """`work(services)` on the services the settings build, closed after; an error of the app's own is one line."""
    from lifecycle.errors import LifecycleError
    from lifecycle.logs import configure_logging
    from lifecycle.wiring import container

    async def main() -> T:
        try:
            return await work(container.get())
        finally:
            await container.close_current()

    configure_logging()
    try:
        return asyncio.run(main())
    except LifecycleError as exc:
        raise click.ClickException(exc.message) from None


async def _all_entries(services: Any, target: str, limit: int) -> list[Any]:
    entries: list[Any] = []
    token = None
    while len(entries) < limit:
        page = await services.audit.history(target, min(200, limit - len(entries)), token)
        entries += page.entries
        token = page.continuation_token
        if not token:
            break
    return entries


async def guest_history(services: Any, who: str, limit: int) -> tuple[list[str], list[Any]]:
    """The targets `who` stands for (a guest id; for an email, the guest its claim names and the email itself, which
    an invitation that failed before a guest existed is audited under) and their entries, newest first."""
    from lifecycle.domain.policy import normal_email

    targets = [who]
    if "@" in who:
        email = normal_email(who)
        claim = await services.records.store.get_claim(email)
        targets = [claim.guest_id, email] if claim is not None and claim.is_linked else [email]
    found = [e for target in targets for e in await _all_entries(services, target, limit)]
    return targets, sorted(found, key=lambda e: e.at, reverse=True)[:limit]


def _entry_json(entry: Any) -> dict[str, Any]:
    return {"at": entry.at.isoformat(), "actor": entry.actor, "action": entry.action, "outcome": entry.outcome,
            "target": entry.target, "graphRequestIds": list(entry.graph_request_ids), "details": entry.details}


@click.command()
@click.argument("who")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@click.option("--limit", type=click.IntRange(1, 100_000), default=1000, show_default=True,
              help="The newest entries to show at most.")
def history(who: str, as_json: bool, limit: int) -> None:
    """A guest's history (WHO: its id or email): every audit entry, newest first."""
    targets, entries = _run(lambda services: guest_history(services, who, limit))
    if not entries:
        raise click.ClickException(f"no audit entry for {' or '.join(targets)}")
    for entry in entries:
        if as_json:
            click.echo(json.dumps(_entry_json(entry), default=str))
            continue
        ids = f" [graph {', '.join(entry.graph_request_ids)}]" if entry.graph_request_ids else ""
        click.echo(f"{entry.at.isoformat()}  {entry.actor}  {entry.action}  {entry.outcome}{ids}")
        if entry.details:
            click.echo(f"    {json.dumps(entry.details, default=str)}")


@click.command()
@click.argument("run_id", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--limit", type=click.IntRange(1, 1000), default=20, show_default=True, help="Runs to list.")
def runs(run_id: str | None, as_json: bool, limit: int) -> None:
    """The sweep's past runs, newest first; with RUN_ID, that run and what it did to each guest."""
    if run_id is not None:
        run = _run(lambda services: services.views.run(run_id))
        if as_json:
            click.echo(json.dumps({"runId": run.run_id, "trigger": run.trigger, "outcome": run.outcome,
                                   "startedAt": run.started_at.isoformat(), "report": run.report,
                                   "lines": list(run.lines)}, indent=2, default=str))
            return
        click.echo(f"run {run.run_id} ({run.trigger}) {run.outcome}, {run.started_at.isoformat()} by {run.actor}")
        for line in run.lines:
            detail = f": {line['detail']}" if line.get("detail") else ""
            click.echo(f"  {line['guestId']} <{line.get('email', '')}> {line['action']} ({line.get('reason', '')}) "
                       f"{line['outcome']}{detail}")
        return
    page = _run(lambda services: services.views.runs(limit))
    for run in page.runs:
        if as_json:
            click.echo(json.dumps({"runId": run.run_id, "trigger": run.trigger, "outcome": run.outcome,
                                   "startedAt": run.started_at.isoformat(), "dryRun": run.dry_run,
                                   "report": run.report}, default=str))
        else:
            done = ", ".join(f"{k} {v}" for k, v in sorted((run.report.get("done") or {}).items())) or "nothing done"
            click.echo(f"{run.run_id}  {run.trigger:<13} {run.outcome:<13} {done}")


@click.command("key-fingerprint")
def key_fingerprint() -> None:
    """Print the fingerprint of a function key read from standard input (as audit entries name it)."""
    from lifecycle.http.auth import key_fingerprint as fingerprint

    key = sys.stdin.readline().strip()
    if not key:
        raise click.ClickException("give the key on standard input")
    click.echo(f"function-key:{fingerprint(key)}")


COMMANDS = (history, runs, key_fingerprint)
