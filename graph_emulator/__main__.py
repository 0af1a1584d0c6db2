"""`python -m graph_emulator`: serve the Graph emulator until killed."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from .app import create_app
from .config import LAG_REFERENCE_ERRORS, SIGN_IN_MODES
from .server import base_url, bind_socket, identity_environment, uvicorn_server


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line: address, start switches and start groups."""
    parser = argparse.ArgumentParser(prog="python -m graph_emulator", description="Microsoft Graph v1.0 emulator")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081, help="0 picks a free port")
    parser.add_argument("--lag", type=int, default=0, help="replicationLag: by-id references hidden per new guest")
    parser.add_argument("--lag-reference-error", choices=LAG_REFERENCE_ERRORS, default=LAG_REFERENCE_ERRORS[0],
                        help="what a reference write naming a lagging user gets")
    parser.add_argument("--fault-rate", type=float, default=0.0, help="share of Graph calls answered with a fault")
    parser.add_argument("--fault-statuses", default="429,503,504", help="comma-separated statuses to draw from")
    parser.add_argument("--fault-retry-after", type=int, default=1, help="Retry-After seconds on faults")
    parser.add_argument("--fault-phase", choices=["before", "after", "random"], default="before")
    parser.add_argument("--throttle", action="store_true", help="the resource-unit throttle (on unless --no-throttle)")
    parser.add_argument("--no-throttle", action="store_true", help="turn the resource-unit throttle off")
    parser.add_argument("--throttle-capacity", type=float, default=3500.0, help="resource units per window")
    parser.add_argument("--throttle-window", type=float, default=10.0, help="throttle window in seconds")
    parser.add_argument("--no-write-throttle", action="store_true", help="turn the write quota (3,000 per 150 s) off")
    parser.add_argument("--no-invitation-throttle", action="store_true",
                        help="turn the invitation limit (150 per 5 s) off")
    parser.add_argument("--blocked-invitation-domains", default="",
                        help="comma-separated domains invitations may not go to (deny list)")
    parser.add_argument("--allowed-invitation-domains", default=None,
                        help="comma-separated domains invitations may only go to (allow list)")
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--sign-in-activity", choices=SIGN_IN_MODES, default="available",
                        help="what signInActivity reads get: values, 403 (no Entra ID P1), 403 (no AuditLog.Read.All), "
                             "or nulls")
    parser.add_argument("--sign-in-throttle", action="store_true", help="enable the reports throttle (5 per 10 s)")
    parser.add_argument("--seed", type=int, help="seed of the fault RNG")
    parser.add_argument("--tenant-domains", default=None, help="comma-separated verified domains (first = default)")
    parser.add_argument("--seed-groups", type=int, default=0, help="create N groups with deterministic ids")
    parser.add_argument("--groups", default="", help="comma-separated group ids to create")
    parser.add_argument("--strict-auth", action="store_true",
                        help="accept only Graph tokens that this process's managed-identity endpoint issued")
    parser.add_argument("--log-level", default="warning")
    parser.add_argument("--access-log", action="store_true")
    return parser.parse_args(argv)


def switches_from(args: argparse.Namespace) -> dict[str, Any]:
    """Start switches from parsed arguments."""
    switches: dict[str, Any] = {
        "replicationLag": args.lag, "lagReferenceError": args.lag_reference_error, "faultRate": args.fault_rate,
        "faultStatuses": [int(status) for status in args.fault_statuses.split(",") if status.strip()],
        "faultRetryAfter": args.fault_retry_after, "faultPhase": args.fault_phase, "seed": args.seed,
        "latencyMs": args.latency_ms, "signInActivity": args.sign_in_activity,
        "signInThrottle": {"enabled": args.sign_in_throttle},
        "strictAuth": args.strict_auth,
        "throttle": {"enabled": not args.no_throttle, "capacity": args.throttle_capacity,
                     "windowSeconds": args.throttle_window},
        "writeThrottle": {"enabled": not args.no_write_throttle},
        "invitationThrottle": {"enabled": not args.no_invitation_throttle},
        "blockedInvitationDomains": args.blocked_invitation_domains,
    }
    if args.allowed_invitation_domains is not None:
        switches["allowedInvitationDomains"] = args.allowed_invitation_domains
    if args.tenant_domains:
        switches["tenantDomains"] = args.tenant_domains
    return switches


def main(argv: list[str] | None = None) -> int:
    """Bind, print the URLs, group ids and managed-identity variables (KEY=value lines), then serve until
    interrupted."""
    args = parse_args(argv)
    groups = [group.strip() for group in args.groups.split(",") if group.strip()]
    try:
        app = create_app(groups=groups, seed_groups=args.seed_groups, **switches_from(args))
        sock = bind_socket(args.host, args.port)
    except (ValueError, OSError) as error:
        print(f"graph_emulator: {error}", file=sys.stderr)
        return 2
    url = base_url(args.host, sock.getsockname()[1])
    group_ids = list(app.state.emulator.directory.groups)
    print(f"Graph emulator listening on {url}", flush=True)
    print(f"GRAPH_BASE_URL={url}/v1.0", flush=True)
    print(f"MANAGED_GROUP_IDS={','.join(group_ids)}", flush=True)
    for name, value in identity_environment(url, app.state.identity).items():
        print(f"{name}={value}", flush=True)
    uvicorn_server(app, args.log_level, args.access_log).run(sockets=[sock])
    return 0


if __name__ == "__main__":
    sys.exit(main())
