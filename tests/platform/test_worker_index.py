"""Microsoft's Python worker (azure-functions-runtime, the version requirements.txt pins) indexes function_app.py.

The worker is driven through the entry points the Functions host calls: `worker_init_request` (which imports
function_app.py from the app directory and indexes it with `loader.index_function_app` and
`loader.process_indexed_function`) and then `functions_metadata_request`, whose `RpcFunctionMetadata` list is what the
host registers. The host's gRPC message classes are not on PyPI (the host injects them as `protos`), so plain records
with the field and enum values of FunctionRpc.proto stand in for them. The worker keeps its registry in module globals:
each indexing runs in its own process."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import pytest

from tests.support import ROOT

INDEX_SCRIPT = r'''
import asyncio, json, sys
from types import SimpleNamespace


class Message:
    """A protobuf message: keyword fields in, attributes out."""

    def __init__(self, **fields):
        self.__dict__.update(fields)


class BindingInfo(Message):
    # FunctionRpc.proto: enum Direction { in = 0; out = 1; inout = 2; }
    #                    enum DataType { undefined = 0; string = 1; binary = 2; stream = 3; }
    out, inout, undefined, string, binary, stream = 1, 2, 0, 1, 2, 3


setattr(BindingInfo, "in", 0)


class StatusResult(Message):
    # FunctionRpc.proto: enum Status { Failure = 0; Success = 1; Cancelled = 2; }
    Failure, Success, Cancelled = 0, 1, 2


protos = SimpleNamespace(BindingInfo=BindingInfo, StatusResult=StatusResult, RpcFunctionMetadata=Message,
                         RpcRetryOptions=Message, WorkerInitResponse=Message, FunctionMetadataResponse=Message,
                         WorkerMetadata=Message, RpcException=Message)
directory = sys.argv[1]
sys.path.insert(0, directory)
from azure_functions_runtime import handle_event

init = SimpleNamespace(
    request=SimpleNamespace(worker_init_request=SimpleNamespace(capabilities={}, function_app_directory=directory)),
    properties={"host": "127.0.0.1", "protos": protos})
started = asyncio.run(handle_event.worker_init_request(init))
if started.result.status != StatusResult.Success:
    sys.exit("worker init failed: " + repr(vars(getattr(started.result, "exception", None) or started.result)))
metadata = asyncio.run(handle_event.functions_metadata_request(SimpleNamespace()))
assert metadata.result.status == StatusResult.Success and metadata.use_default_metadata_indexing is False

from lifecycle.registry import http_functions
import function_app

print(json.dumps({
    "functions": [{
        "name": m.name, "entry_point": m.entry_point, "script_file": m.script_file, "directory": m.directory,
        "language": m.language, "properties": m.properties, "retry_options": m.retry_options,
        "bindings": {name: {"type": b.type, "direction": b.direction} for name, b in m.bindings.items()},
        "raw_bindings": [json.loads(raw) for raw in m.raw_bindings],
    } for m in metadata.function_metadata_results],
    "registry": [[f.name, f.route, list(f.methods), f.auth_level] for f in http_functions(function_app.app)],
}))
'''

IN, OUT = 0, 1
HTTP_FUNCTIONS = {  # name: (route, methods)
    "invite_guest": ("guests", ["POST"]),
    "list_guests": ("guests", ["GET"]),
    "get_guest": ("guests/{id}", ["GET"]),
    "add_guest_to_group": ("guests/{id}/groups/{groupId}", ["PUT"]),
    "remove_guest_from_group": ("guests/{id}/groups/{groupId}", ["DELETE"]),
    "disable_guest": ("guests/{id}/disable", ["POST"]),
    "enable_guest": ("guests/{id}/enable", ["POST"]),
    "extend_guest": ("guests/{id}/extend", ["POST"]),
    "reinvite_guest": ("guests/{id}/reinvite", ["POST"]),
    "delete_guest": ("guests/{id}", ["DELETE"]),
    "restore_guest": ("guests/{id}/restore", ["POST"]),
    "adopt_guests": ("adopt", ["POST"]),
    "expiry_plan": ("expiry/plan", ["GET"]),
    "approve_plan": ("expiry/plan/{planId}/approve", ["POST"]),
    "list_runs": ("expiry/runs", ["GET"]),
    "get_run": ("expiry/runs/{runId}", ["GET"]),
    "guest_history": ("guests/{id}/history", ["GET"]),
    "my_guests": ("me/guests", ["GET"]),
    "attest_guest": ("guests/{id}/attest", ["POST"]),
    "portal_page": ("portal", ["GET"]),
    "portal_script": ("portal.js", ["GET"]),
    "portal_style": ("portal.css", ["GET"]),
    "health": ("health", ["GET"]),
    "openapi_document": ("openapi.json", ["GET"]),
}
ANONYMOUS_ALWAYS = {"health", "openapi_document", "portal_page", "portal_script", "portal_style"}
TIMER = "expire_guests"


def index_with_the_worker(**environment: str) -> dict[str, Any]:
    """What the worker reports to the host, indexed in a fresh process with these settings."""
    env = {**os.environ, **environment}
    result = subprocess.run([sys.executable, "-c", INDEX_SCRIPT, str(ROOT)], cwd="/", env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def expected_http_metadata(name: str, auth_level: str) -> dict[str, Any]:
    route, methods = HTTP_FUNCTIONS[name]
    return {
        "name": name, "entry_point": name, "script_file": "function_app.py", "directory": str(ROOT),
        "language": "python", "properties": {"worker_indexed": "True"}, "retry_options": None,
        "bindings": {"req": {"type": "httpTrigger", "direction": IN}, "$return": {"type": "http", "direction": OUT}},
        "raw_bindings": [
            {"direction": "IN", "type": "httpTrigger", "name": "req", "methods": methods,
             "authLevel": "ANONYMOUS" if name in ANONYMOUS_ALWAYS else auth_level, "route": route},
            {"direction": "OUT", "type": "http", "name": "$return"},
        ],
    }


EXPECTED_TIMER = {
    "name": TIMER, "entry_point": TIMER, "script_file": "function_app.py", "directory": str(ROOT),
    "language": "python", "properties": {"worker_indexed": "True"}, "retry_options": None,
    "bindings": {"timer": {"type": "timerTrigger", "direction": IN}},
    "raw_bindings": [{"direction": "IN", "type": "timerTrigger", "name": "timer", "schedule": "%EXPIRY_SCHEDULE%",
                      "runOnStartup": False, "useMonitor": True}],
}


@pytest.fixture(scope="module")
def key_mode() -> dict[str, Any]:
    return index_with_the_worker(LIFECYCLE_HTTP_AUTH="function")


@pytest.fixture(scope="module")
def entra_mode() -> dict[str, Any]:
    return index_with_the_worker(LIFECYCLE_HTTP_AUTH="entra")


def by_name(indexed: dict[str, Any]) -> dict[str, dict[str, Any]]:
    names = [function["name"] for function in indexed["functions"]]
    assert len(names) == len(set(names)), names
    return {function["name"]: function for function in indexed["functions"]}


def test_the_worker_sees_exactly_the_api_and_the_timer(key_mode):
    assert set(by_name(key_mode)) == set(HTTP_FUNCTIONS) | {TIMER}


@pytest.mark.parametrize("name", sorted(HTTP_FUNCTIONS))
def test_each_http_function_with_function_keys(key_mode, name):
    assert by_name(key_mode)[name] == expected_http_metadata(name, "FUNCTION")


@pytest.mark.parametrize("name", sorted(HTTP_FUNCTIONS))
def test_each_http_function_with_entra_authentication_is_anonymous_for_the_platform_to_guard(entra_mode, name):
    assert by_name(entra_mode)[name] == expected_http_metadata(name, "ANONYMOUS")


@pytest.mark.parametrize("mode", ["key_mode", "entra_mode"])
def test_the_timer_reads_its_schedule_from_settings_and_never_runs_on_startup(mode, request):
    indexed = by_name(request.getfixturevalue(mode))
    assert indexed[TIMER] == EXPECTED_TIMER
    assert set(indexed) == set(HTTP_FUNCTIONS) | {TIMER}


@pytest.mark.parametrize("mode", ["key_mode", "entra_mode"])
def test_the_development_server_and_openapi_index_what_the_worker_indexes(mode, request):
    indexed = request.getfixturevalue(mode)
    from_worker = sorted([f["name"], b["route"], b["methods"], b["authLevel"]]
                         for f in indexed["functions"] for b in f["raw_bindings"] if b["type"] == "httpTrigger")
    assert sorted(indexed["registry"]) == from_worker
