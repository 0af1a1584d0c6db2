"""Importing function_app is what the host does to index it: no network, no clients, no development modules.

The exact functions, bindings, routes, methods, auth levels and timer schedule the host sees are asserted by
tests/platform/test_worker_index.py, through Microsoft's own worker runtime."""
from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.support import ROOT

DEVELOPMENT_MODULES = ("starlette", "uvicorn", "graph_emulator", "devserver", "lifecycle.cli")


def run_python(script: str, **environment: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60,
                          env={**os.environ, **environment})


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
    result = run_python(script, GRAPH_BASE_URL="https://graph.microsoft.com/v1.0")
    assert result.returncode == 0, result.stderr
    assert int(result.stdout.strip()) > 0


def test_the_app_and_its_openapi_document_reach_no_development_module():
    script = (
        "import json, sys\n"
        "import function_app\n"
        "from lifecycle.http.openapi import build_openapi\n"
        "build_openapi(function_app.app)\n"
        f"dev = {DEVELOPMENT_MODULES!r}\n"
        "print(json.dumps(sorted(m for m in sys.modules if m in dev or m.startswith(tuple(d + '.' for d in dev)))))\n"
    )
    result = run_python(script)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == []
