"""What reading Graph's answers costs: msgraph-sdk's generated models against the app's own JSON types.

Three figures, each measured in this one run:
1. CPU per parsed user: a page of N users (the directory pass's `$select`, with signInActivity) parsed by the SDK
   (`UserCollectionResponse` through kiota's JSON parse node) and by the adapter's `json_user` (after `json.loads`).
2. First-call cost in a fresh process: import the Graph adapter and parse one user, the SDK way and the app's way,
   each in its own new interpreter (what a cold start pays before its first answer).
3. Cold import of `function_app` (and of the adapters its first request builds) against its bare dependencies alone
   (azure.functions, azure.identity, azure.data.tables, msgraph's request builders), each in a new interpreter.

Fresh-process figures are the median of `--runs` interpreters (default 3).

    python -m bench.parse_cost [--users 200] [--runs 3]
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent

SDK_IMPORT = "import lifecycle.adapters.graph.directory"
SDK_PARSE = ("from kiota_serialization_json.json_parse_node_factory import JsonParseNodeFactory\n"
             "from msgraph.generated.models.user import User\n"
             "JsonParseNodeFactory().get_root_parse_node('application/json', RAW).get_object_value(User)")
OWN_PARSE = "import json\nlifecycle.adapters.graph.wire.json_user(json.loads(RAW))"
BARE_DEPENDENCIES = ("import azure.functions, azure.identity.aio, azure.data.tables.aio, msgraph_core, kiota_http, "
                     "msgraph.generated.users.users_request_builder")
APP_IMPORT = "import function_app"
APP_FIRST_REQUEST = "import function_app, lifecycle.adapters.graph.directory, lifecycle.adapters.tables.store"


def sample_user(number: int) -> dict[str, Any]:
    """A guest as the directory pass reads it ($select of its fields and signInActivity)."""
    return {
        "id": str(uuid.UUID(int=number)), "userType": "Guest", "displayName": f"Guest {number}",
        "mail": f"guest{number}@fabrikam.example", "otherMails": [f"guest{number}@fabrikam.example"],
        "externalUserState": "Accepted", "accountEnabled": True, "createdDateTime": "2026-06-01T08:00:00Z",
        "signInActivity": {"lastSignInDateTime": "2026-11-20T10:00:00Z",
                           "lastNonInteractiveSignInDateTime": "2026-11-21T10:00:00Z",
                           "lastSuccessfulSignInDateTime": "2026-11-20T10:00:00Z"}}


def cpu_per_user(users: int) -> tuple[float, float]:
    """CPU seconds per user parsed from one page, by the SDK's models and by the app's own mapping."""
    from kiota_serialization_json.json_parse_node_factory import JsonParseNodeFactory
    from msgraph.generated.models.user_collection_response import UserCollectionResponse

    from lifecycle.adapters.graph.wire import json_user

    raw = json.dumps({"value": [sample_user(n) for n in range(users)]}).encode()
    factory = JsonParseNodeFactory()
    factory.get_root_parse_node("application/json", raw).get_object_value(UserCollectionResponse)  # imports
    started = time.process_time()
    parsed = factory.get_root_parse_node("application/json", raw).get_object_value(UserCollectionResponse)
    sdk = (time.process_time() - started) / users
    started = time.process_time()
    own = [json_user(item) for item in json.loads(raw)["value"]]
    mine = (time.process_time() - started) / users
    if len(parsed.value or []) != users or len(own) != users:
        raise RuntimeError("a parser lost users")
    return sdk, mine


def fresh_process_seconds(setup: str, timed: str, runs: int) -> float:
    """Median wall seconds of `timed` in new interpreters (after `setup`, which is not timed)."""
    raw = json.dumps(sample_user(1))
    script = (f"import time\n{setup}\nRAW = {raw!r}.encode()\nstarted = time.perf_counter()\n"
              f"{timed}\nprint(time.perf_counter() - started)")
    return statistics.median(_run(script) for _ in range(runs))


def _run(script: str) -> float:
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True)
    return float(result.stdout.strip().splitlines()[-1])


def row(label: str, value: Any, unit: str = "") -> str:
    return f"  {label:<60} {value}{(' ' + unit) if unit else ''}"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.parse_cost", description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, default=200, help="users on the parsed page (default 200)")
    parser.add_argument("--runs", type=int, default=3, help="fresh interpreters per figure (default 3)")
    args = parser.parse_args()
    if args.users < 1 or args.runs < 1:
        parser.error("need --users ≥ 1 and --runs ≥ 1")
    return args


def main() -> int:
    args = parse_args()
    sdk, own = cpu_per_user(args.users)
    print("CPU per parsed user (one page, this process)")
    print(row("msgraph-sdk model (UserCollectionResponse)", f"{sdk * 1e6:.1f}", "µs"))
    print(row("own type (json_user after json.loads)", f"{own * 1e6:.1f}", "µs"))
    print(row("ratio SDK ÷ own", f"{sdk / own:.0f}×"))

    sdk_first = fresh_process_seconds("", f"{SDK_IMPORT}\n{SDK_PARSE}", args.runs)
    own_first = fresh_process_seconds("", f"{SDK_IMPORT}\n{OWN_PARSE}", args.runs)
    print(f"First call in a fresh process (import the Graph adapter + parse one user; median of {args.runs})")
    print(row("with msgraph-sdk's User model (before)", f"{sdk_first * 1000:.0f}", "ms"))
    print(row("with the app's own type (after)", f"{own_first * 1000:.0f}", "ms"))
    print(row("ratio before ÷ after", f"{sdk_first / own_first:.1f}×"))

    bare = fresh_process_seconds("", BARE_DEPENDENCIES, args.runs)
    app = fresh_process_seconds("", APP_IMPORT, args.runs)
    first_request = fresh_process_seconds("", APP_FIRST_REQUEST, args.runs)
    print(f"Cold import in a fresh process (median of {args.runs})")
    print(row("bare dependencies (functions, identity, tables, builders)", f"{bare * 1000:.0f}", "ms"))
    print(row("function_app (what the host indexes)", f"{app * 1000:.0f}", "ms"))
    print(row("function_app + Graph and Table adapters", f"{first_request * 1000:.0f}", "ms"))
    print(row("ratio function_app ÷ bare", f"{app / bare:.2f}"))
    print(row("ratio function_app + adapters ÷ bare", f"{first_request / bare:.2f}"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
