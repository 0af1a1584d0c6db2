"""`python -m lifecycle serve` as a real HTTP server: function keys, routes, and the Logic Apps 202 polling flow."""
from __future__ import annotations

import json
import select
import socket
import subprocess
import sys
import threading
import time

import httpx
import pytest
import uvicorn

import function_app
from devserver.asgi import build_asgi_app
from lifecycle.config import Settings
from lifecycle.http.schemas import MAX_BODY_BYTES
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
    assert emulator.group_members(GROUP_A) == [created.json()["id"]]


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


def _raw_request(port: int, head: str, chunks: int, chunk: bytes) -> tuple[bytes, int]:
    """Send `head`, then up to `chunks` chunked-encoding chunks until the server answers; the answer and bytes sent."""
    sent = 0
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(head.encode())
        for _ in range(chunks):
            if select.select([sock], [], [], 0)[0]:
                break
            frame = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"
            try:
                sock.sendall(frame)
            except OSError:
                break
            sent += len(chunk)
        sock.settimeout(30)
        answer = b""
        while b"\r\n\r\n" not in answer or not answer.rstrip().endswith(b"}"):
            data = sock.recv(65536)
            if not data:
                break
            answer += data
    return answer, sent


def _status_and_json(answer: bytes) -> tuple[int, str, dict]:
    head, _, body = answer.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:])
    return int(lines[0].split()[1]), headers.get("content-type", ""), json.loads(body)


def test_a_huge_streamed_body_is_refused_with_413_before_it_is_read(api):
    port = api.base_url.port
    head = (f"POST /api/guests HTTP/1.1\r\nHost: 127.0.0.1\r\nx-functions-key: {KEY}\r\n"
            "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
    answer, sent = _raw_request(port, head, chunks=200 * 16, chunk=b"x" * 65536)  # up to 200 MiB
    status, content_type, body = _status_and_json(answer)
    assert status == 413 and content_type == "application/json"
    assert body["error"]["code"] == "BodyTooLarge"
    assert sent < 50 * 1024 * 1024  # refused long before the 200 MiB were sent


def test_a_declared_huge_body_is_refused_with_413_without_reading_it(api):
    port = api.base_url.port
    head = (f"POST /api/guests HTTP/1.1\r\nHost: 127.0.0.1\r\nx-functions-key: {KEY}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {200 * 1024 * 1024}\r\n\r\n")
    answer, _ = _raw_request(port, head, chunks=0, chunk=b"")
    status, content_type, body = _status_and_json(answer)
    assert (status, content_type, body["error"]["code"]) == (413, "application/json", "BodyTooLarge")


def test_a_body_at_the_limit_reaches_the_function(api):
    padded = json.dumps({"email": "limit@fabrikam.com", "displayName": "x"}).encode()
    response = api.post("/guests", content=padded.ljust(MAX_BODY_BYTES), headers={"x-functions-key": KEY,
                                                                                   "Content-Type": "application/json"})
    assert response.status_code == 201, response.text


def test_unknown_routes_and_methods_answer_the_json_error_shape(api):
    missing = api.get("/nope", headers={"x-functions-key": KEY})
    assert missing.status_code == 404 and missing.headers["content-type"] == "application/json"
    assert missing.json()["error"]["code"] == "NotFound" and missing.json()["error"]["details"] == []
    wrong = api.patch("/guests", headers={"x-functions-key": KEY})
    assert wrong.status_code == 405 and wrong.headers["content-type"] == "application/json"
    assert wrong.json()["error"]["code"] == "MethodNotAllowed"
