"""Invite latency in Graph round trips: a new guest invited into 5 managed groups, Graph 50 ms away.

Each invite is the production HTTP function (`POST /api/guests`, as `function_app` registers it) called in this
process, against Azurite and the Graph emulator with `--latency-ms` (default 50) added to every Graph answer. Per
invite the benchmark prints the wall time, the Graph calls made, the rounds they came in (answers more than half a
latency apart start a new round), and the latency in Graph round trips (wall ÷ latency). The app's own work is
the wall time less one latency per round. `--profile` runs the measured invites under cProfile and prints where the
time goes. The first invite of the process (imports, first connections, tables created) is printed apart.

Beside it runs the peer: a plain httpx client making the same Graph calls in the same three rounds (look the email
up, send the invitation, add the new user to every group at once) and nothing else: no storage, no events, no
audit. One latency per round is what Graph's network costs; the peer's time over that is what Graph itself (here
the emulator) and a bare client cost per round. The ratio invite ÷ peer is the price of everything the app does
besides Graph (1.00 would be none).

    python -m bench.invite_latency [--invites 10] [--groups 5] [--latency-ms 50] [--profile]
"""
from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import itertools
import json
import pstats
import statistics
import time
import uuid
from datetime import datetime
from typing import Any

import azure.functions as func
import httpx

from bench.common import BenchError, Stack, row, run_benchmark
from lifecycle.adapters.credentials import DEVELOPMENT_TOKEN
from lifecycle.config import Settings
from lifecycle.wiring import build_services, container


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.invite_latency", description=__doc__.split("\n")[0])
    parser.add_argument("--invites", type=int, default=10, help="invites measured (default 10)")
    parser.add_argument("--groups", type=int, default=5, help="managed groups per invite (default 5)")
    parser.add_argument("--latency-ms", type=float, default=50, help="added to every Graph answer (default 50)")
    parser.add_argument("--profile", action="store_true", help="print a cProfile of the measured invites")
    parser.add_argument("--time-limit", type=float, default=170, help="stop the whole run after this (default 170 s)")
    args = parser.parse_args()
    if args.invites < 1 or not 0 <= args.groups <= 20 or args.latency_ms <= 0:
        parser.error("need --invites ≥ 1, 0 ≤ --groups ≤ 20, --latency-ms > 0")
    return args


def invite_handler() -> Any:
    import function_app

    return next(f for f in function_app.app.get_functions() if f.get_function_name() == "invite_guest")


async def one_invite(handler: Any, groups: list[str]) -> tuple[float, int]:
    email = f"lat-{uuid.uuid4().hex[:10]}@fabrikam.example"
    request = func.HttpRequest("POST", "http://127.0.0.1:7071/api/guests", headers={"content-type": "application/json"},
                               body=json.dumps({"email": email, "groups": groups}).encode())
    started = time.perf_counter()
    response = await handler.get_user_function()(request)
    seconds = time.perf_counter() - started
    return seconds, response.status_code


async def peer_invite(client: httpx.AsyncClient, groups: list[str]) -> float:
    """The invite's Graph calls from a plain client, round by round: lookup, invitation, every group add at once."""
    email = f"peer-{uuid.uuid4().hex[:10]}@fabrikam.example"
    started = time.perf_counter()
    found = await client.get("/users", params={"$filter": f"mail eq '{email}'", "$select": "id,userType", "$top": "5"})
    if found.raise_for_status().json()["value"]:
        raise BenchError("the peer's new email exists already")
    invited = await client.post("/invitations", json={"invitedUserEmailAddress": email, "sendInvitationMessage": False,
                                                      "inviteRedirectUrl": "https://myapps.microsoft.com"})
    user_id = invited.raise_for_status().json()["invitedUser"]["id"]
    reference = {"@odata.id": f"{client.base_url}/directoryObjects/{user_id}"}
    adds = await asyncio.gather(*(client.post(f"/groups/{group}/members/$ref", json=reference) for group in groups))
    for added in adds:
        added.raise_for_status()
    return time.perf_counter() - started


async def peer_invites(graph_url: str, groups: list[str], count: int) -> list[float]:
    headers = {"Authorization": f"Bearer {DEVELOPMENT_TOKEN}"}
    async with httpx.AsyncClient(base_url=graph_url, headers=headers, timeout=30) as client:
        await peer_invite(client, groups)  # the first connection
        return [await peer_invite(client, groups) for _ in range(count)]


def graph_rounds(log: list[dict], latency: float) -> int:
    """Rounds of Graph calls: answers more than half a latency apart belong to different rounds."""
    times = sorted(datetime.fromisoformat(entry["at"]).timestamp() for entry in log)
    return 1 + sum(1 for a, b in itertools.pairwise(times) if b - a > latency / 2) if times else 0


async def measure(stack: Stack, args: argparse.Namespace) -> int:
    control = stack.control
    groups = [control.seed_group(displayName=f"Bench {n}")["id"] for n in range(args.groups)]
    settings = Settings.from_env(stack.environment("Invite", MANAGED_GROUP_IDS=",".join(groups)))
    container.use(lambda: build_services(settings))
    handler = invite_handler()
    latency = args.latency_ms / 1000
    control.configure(latencyMs=args.latency_ms)
    first, status = await one_invite(handler, groups)  # imports, first connections, tables created
    if status != 201:
        raise BenchError(f"the first invite answered {status}")
    profile = cProfile.Profile() if args.profile else None
    walls, calls, envelopes, rounds = [], [], [], []
    for _ in range(args.invites):
        control.clear_calls()
        if profile:
            profile.enable()
        seconds, status = await one_invite(handler, groups)
        if profile:
            profile.disable()
        if status != 201:
            raise BenchError(f"an invite answered {status}")
        log = control.calls()["log"]
        walls.append(seconds)
        batches = sum(1 for entry in log if entry["route"] == "/$batch")
        calls.append(len(log) - batches)  # the emulator logs a $batch envelope and each of its items
        envelopes.append(batches)
        rounds.append(graph_rounds(log, latency))
    peer = statistics.median(await peer_invites(stack.emulator.graph_url, groups, args.invites))
    control.configure(latencyMs=0)
    await container.close_current()

    wall = statistics.median(walls)
    round_count = statistics.median(rounds)
    print(f"invite of a new guest into {args.groups} groups, Graph latency {args.latency_ms:g} ms "
          f"({args.invites} invites, medians)")
    print(row("first invite in this process (cold)", f"{first * 1000:.0f}",
              f"ms ({first / latency:.1f} round trips; imports, connections, tables created)"))
    print(row("invite wall time", f"{wall * 1000:.0f}",
              f"ms (min {min(walls) * 1000:.0f}, max {max(walls) * 1000:.0f})"))
    print(row("Graph calls per invite", f"{statistics.median(calls):g}",
              f"({statistics.median(envelopes):g} $batch envelope(s) holding some of them)"))
    print(row("Graph rounds per invite", f"{round_count:g}"))
    print(row("invite latency in Graph round trips", f"{wall / latency:.1f}"))
    print(row("the app's own work (wall − rounds × latency)", f"{(wall - round_count * latency) * 1000:.0f}", "ms"))
    print(row("peer: the same Graph calls, plain client", f"{peer * 1000:.0f}",
              f"ms ({peer / latency:.1f} round trips; {(peer - 3 * latency) * 1000:.0f} ms over 3 latencies)"))
    print(row("ratio invite ÷ peer", f"{wall / peer:.2f}",
              f"(the app's work besides Graph: {(wall - peer) * 1000:.0f} ms)"))
    if profile:
        out = io.StringIO()
        pstats.Stats(profile, stream=out).sort_stats("cumulative").print_stats(40)
        print(out.getvalue())
    return 0


if __name__ == "__main__":
    run_benchmark(measure, parse_args())
