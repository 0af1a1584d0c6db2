"""The exact functions, routes, methods and auth levels that function_app.app registers."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import function_app
from lifecycle.registry import http_functions, indexed_functions
from tests.support import ROOT

EXPECTED_HTTP = {
    ("invite_guest", "guests", ("POST",), "FUNCTION"),
    ("list_guests", "guests", ("GET",), "FUNCTION"),
    ("get_guest", "guests/{id}", ("GET",), "FUNCTION"),
    ("add_guest_to_group", "guests/{id}/groups/{groupId}", ("PUT",), "FUNCTION"),
    ("remove_guest_from_group", "guests/{id}/groups/{groupId}", ("DELETE",), "FUNCTION"),
    ("disable_guest", "guests/{id}/disable", ("POST",), "FUNCTION"),
    ("enable_guest", "guests/{id}/enable", ("POST",), "FUNCTION"),
    ("extend_guest", "guests/{id}/extend", ("POST",), "FUNCTION"),
    ("reinvite_guest", "guests/{id}/reinvite", ("POST",), "FUNCTION"),
    ("delete_guest", "guests/{id}", ("DELETE",), "FUNCTION"),
    ("restore_guest", "guests/{id}/restore", ("POST",), "FUNCTION"),
    ("health", "health", ("GET",), "ANONYMOUS"),
}


def test_http_functions_are_exactly_the_documented_api():
    registered = {(f.name, f.route, f.methods, f.auth_level) for f in http_functions(function_app.app)}
    assert {r for r in registered if r[0] != "openapi_document"} == EXPECTED_HTTP


def test_expiry_timer_reads_its_schedule_from_settings_and_never_runs_on_startup():
    timers = []
    for function in indexed_functions(function_app.app):
        for binding in json.loads(function.get_function_json())["bindings"]:
            if binding["type"] == "timerTrigger":
                timers.append((function.get_function_name(), binding))
    assert [name for name, _ in timers] == ["expire_guests"]
    binding = timers[0][1]
    assert binding["schedule"] == "%EXPIRY_SCHEDULE%" and binding["runOnStartup"] is False


def test_importing_the_app_touches_no_network_and_builds_no_clients():
    script = (
        "import socket\n"
        "def refuse(*a, **k): raise AssertionError('network touched at import')\n"
        "socket.socket.connect = refuse\n"
        "socket.create_connection = refuse\n"
        "import function_app\n"
        "from lifecycle.wiring import container\n"
        "assert container._by_loop == {}\n"
        "print(len(function_app.app.get_functions()))\n"
    )
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60,
                            env={**os.environ, "GRAPH_BASE_URL": "https://graph.microsoft.com/v1.0"})
    assert result.returncode == 0, result.stderr
    assert int(result.stdout.strip()) >= len(EXPECTED_HTTP) + 1


def test_entra_mode_makes_every_route_anonymous_for_the_platform_to_guard():
    script = (
        "import json, function_app\n"
        "from lifecycle.registry import http_functions\n"
        "print(json.dumps(sorted({f.auth_level for f in http_functions(function_app.app)})))\n"
    )
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60,
                            env={**os.environ, "LIFECYCLE_HTTP_AUTH": "entra"})
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == ["ANONYMOUS"]


def test_importing_the_app_reaches_no_development_module():
    script = (
        "import json, sys\n"
        "import function_app\n"
        "from lifecycle.openapi import build_openapi\n"
        "build_openapi()\n"
        "dev = ('starlette', 'uvicorn', 'graph_emulator', 'devserver', 'lifecycle.cli')\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in dev or m in dev)))\n"
    )
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == []
