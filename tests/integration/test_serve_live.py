"""`python -m lifecycle serve` as a real HTTP server: function keys, routes, and the Logic Apps 202 polling flow."""
from __future__ import annotations

import subprocess
import sys
import threading
import time

import httpx
import pytest
import uvicorn

import function_app
from lifecycle.config import Settings
from lifecycle.serve import build_asgi_app
from lifecycle.wiring import build_services, container
from tests.conftest import FAST
from tests.support import GROUP_A, ROOT, free_port, wait_for_port

pytestmark = pytest.mark.azurite
KEY = "serve-test-key"


@pytest.fixture
def api(live_env):
    settings = Settings.from_env(live_env)
    container.use(lambda: build_services(settings, tuning=FAST))
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(build_asgi_app(function_app.app, KEY), host="127.0.0.1", port=port,
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_for_port(port)
    with httpx.Client(base_url=f"http://127.0.0.1:{port}/api", timeout=30) as client:
        yield client
    server.should_exit = True
    thread.join(10)
    container.reset()


def test_function_key_is_required_except_for_health(api):
    assert api.get("/guests").status_code == 401
    assert api.get("/guests", headers={"x-functions-key": "wrong"}).status_code == 401
    assert api.get("/guests", params={"code": KEY}).status_code == 200
    health = api.get("/health")
    assert health.status_code == 200 and health.json()["checks"]["storage"] == "ok"


def test_unknown_route_and_wrong_method(api):
    assert api.get("/nope", headers={"x-functions-key": KEY}).status_code == 404
    assert api.patch("/guests", headers={"x-functions-key": KEY}).status_code == 405


def test_async_pattern_202_then_poll_until_groups_are_added(api, emulator):
    emulator.configure(replicationLag=10_000)
    headers = {"x-functions-key": KEY}
    created = api.post("/guests", json={"email": "poll@fabrikam.com", "groups": [GROUP_A]}, headers=headers)
    assert created.status_code == 202 and created.json()["pendingGroups"] == [GROUP_A]
    location, retry_after = created.headers["Location"], int(created.headers["Retry-After"])
    assert location.endswith(f"/api/guests/{created.json()['id']}") and retry_after > 0
    still = httpx.get(location, headers=headers, timeout=30)
    assert still.status_code == 202
    emulator.update_user(created.json()["id"], lagRemaining=0)  # Graph has caught up
    deadline = time.monotonic() + 30
    while True:
        polled = httpx.get(location, headers=headers, timeout=30)
        if polled.status_code != 202 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert polled.status_code == 200 and polled.json()["groups"] == [GROUP_A]
    assert emulator.members(GROUP_A) == [created.json()["id"]]


def test_cli_serve_and_expire_start(live_env, emulator):
    port = free_port()
    env = {**live_env, "LIFECYCLE_FUNCTION_KEY": KEY, "PATH": "/usr/bin:/bin"}
    process = subprocess.Popen([sys.executable, "-m", "lifecycle", "serve", "--port", str(port)], cwd=ROOT, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        wait_for_port(port, timeout=60)
        response = httpx.post(f"http://127.0.0.1:{port}/api/guests", json={"email": "cli@fabrikam.com"},
                              headers={"x-functions-key": KEY}, timeout=30)
        assert response.status_code == 201 and response.json()["email"] == "cli@fabrikam.com"
    finally:
        process.terminate()
        output = process.communicate(timeout=20)[0]
    assert KEY in output
    expire = subprocess.run([sys.executable, "-m", "lifecycle", "expire", "--dry-run", "--json"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=120)
    assert expire.returncode == 0, expire.stderr
    assert '"dry_run": true' in expire.stdout
