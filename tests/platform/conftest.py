"""Fixtures of the platform tier: the app run as production runs it, on the managed identity.

Every fixture here is opt-in (none is autouse): the other tests of this folder do not start these services."""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from graph_emulator import EmulatorServer
from tests.support import GROUP_A, GROUP_B, ROOT, Azurite, free_port

FUNCTION_KEY = "platform-test-key"
# Only what a process needs to run; nothing of the developer's shell (connection strings, tokens) leaks in.
_INHERITED = ("PATH", "HOME", "LANG", "TMPDIR", "SYSTEMROOT", "PYENV_VERSION")


@pytest.fixture(scope="module")
def identity_graph() -> Iterator[EmulatorServer]:
    """The Graph emulator with strict auth: only tokens of its managed-identity endpoint for Graph pass."""
    with EmulatorServer(port=0, groups=[GROUP_A, GROUP_B], strictAuth=True) as server:
        yield server


@pytest.fixture(scope="module")
def oauth_azurite() -> Iterator[Azurite]:
    """Azurite over HTTPS with `--oauth basic`: storage requests must carry a storage-audience bearer token."""
    server = Azurite(oauth=True).start()
    yield server
    server.stop()


@pytest.fixture
def production_env(identity_graph: EmulatorServer, oauth_azurite: Azurite) -> dict[str, str]:
    """The settings of a deployed app (no connection string, the platform's identity variables), pointing at the
    local services; the local CA is trusted through SSL_CERT_FILE, as a system trust store would be. The Graph call
    log and the identity endpoint's counts start from zero."""
    identity_graph.control.clear_calls()
    identity_graph.control.clear_identity_counts()
    env = {name: os.environ[name] for name in _INHERITED if name in os.environ}
    env.update(identity_graph.identity_environment())
    env.update({
        "GRAPH_BASE_URL": identity_graph.graph_url,
        "GRAPH_AUTH": "managed-identity",
        "LIFECYCLE_TABLES_ENDPOINT": oauth_azurite.table_endpoint,
        "LIFECYCLE_QUEUES_ENDPOINT": oauth_azurite.queue_endpoint,
        "LIFECYCLE_TABLE_PREFIX": "p" + uuid.uuid4().hex[:12],
        "LIFECYCLE_EVENTS_QUEUE": "p" + uuid.uuid4().hex[:12],
        "MANAGED_GROUP_IDS": f"{GROUP_A},{GROUP_B}",
        "LIFECYCLE_FUNCTION_KEY": FUNCTION_KEY,
        "SSL_CERT_FILE": oauth_azurite.ca_file,
        "PYTHONUNBUFFERED": "1",
    })
    return env


@dataclass
class RunningApp:
    """`python -m lifecycle serve` in a subprocess; `api` is an HTTP client of its /api with the function key."""

    process: subprocess.Popen[str]
    api: httpx.Client
    log_path: Path

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")


def wait_until_serving(app: RunningApp, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if app.process.poll() is not None:
            raise RuntimeError(f"`lifecycle serve` exited:\n{app.output()}")
        try:
            app.api.get("/health")
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise RuntimeError(f"`lifecycle serve` did not answer within {timeout} s:\n{app.output()}")


@pytest.fixture
def served_app(production_env: dict[str, str]) -> Iterator[RunningApp]:
    """The app served by `python -m lifecycle serve` with the production environment."""
    port = free_port()
    log = Path(tempfile.mkstemp(prefix="lifecycle-serve-", suffix=".log")[1])
    with log.open("w") as sink:
        process = subprocess.Popen([sys.executable, "-m", "lifecycle", "serve", "--port", str(port)], cwd=ROOT,
                                   env=production_env, stdout=sink, stderr=subprocess.STDOUT, text=True)
    api = httpx.Client(base_url=f"http://127.0.0.1:{port}/api", headers={"x-functions-key": FUNCTION_KEY},
                       timeout=30)
    app = RunningApp(process, api, log)
    try:
        wait_until_serving(app)
        yield app
    finally:
        api.close()
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
        log.unlink(missing_ok=True)


def run_sweep(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """`python -m lifecycle expire --json` (one sweep, as the timer runs it) with `env`."""
    return subprocess.run([sys.executable, "-m", "lifecycle", "expire", "--json", *args], check=False,
                          cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
