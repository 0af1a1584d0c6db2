"""The app as Azure runs it (ManagedIdentityCredential on the platform's IDENTITY_ENDPOINT, Azurite over HTTPS with
OAuth) when the managed-identity endpoint is down: closed (connections refused) or silent (it accepts and never
answers). A guest route answers 503 IdentityUnavailable saying what to check, health says the token check fails and
answers within its check time, a sweep ends in a report, and a graceful stop ends the server: every token request is
bounded (Tuning.token_timeout_seconds)."""
from __future__ import annotations

import json
import subprocess
import threading
import time
from collections.abc import Iterator

import httpx
import pytest

from lifecycle.config import Tuning
from tests.identity_endpoints import closed_endpoint, silent_endpoint
from tests.platform.conftest import RunningApp, run_sweep

pytestmark = pytest.mark.azurite
TUNING = Tuning()
# A request that needs a token ends within the token bound; the test allows for the rest of the request.
REQUEST_BOUND = TUNING.token_timeout_seconds + 10
HEALTH_BOUND = TUNING.health_check_seconds + 3
CHECKS = ("managed identity", "AZURE_CLIENT_ID", "IDENTITY_ENDPOINT")


@pytest.fixture(params=["closed", "silent"])
def identity_endpoint(request: pytest.FixtureRequest) -> Iterator[str]:
    if request.param == "closed":
        yield closed_endpoint()
    else:
        with silent_endpoint() as url:
            yield url


@pytest.fixture
def production_env(production_env: dict[str, str], identity_endpoint: str) -> dict[str, str]:
    """Production's settings with the platform's IDENTITY_ENDPOINT naming an endpoint that is down."""
    return {**production_env, "IDENTITY_ENDPOINT": identity_endpoint}


def timed(call, *args, **kwargs) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    response = call(*args, **kwargs)
    return response, time.monotonic() - started


def assert_identity_unavailable(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    assert int(response.headers["Retry-After"]) > 0
    error = response.json()["error"]
    assert error["code"] == "IdentityUnavailable", error
    assert "no access token for" in error["message"] and all(name in error["message"] for name in CHECKS)


def test_a_guest_route_and_health_report_the_identity(served_app: RunningApp, identity_endpoint: str) -> None:
    health, took = timed(served_app.api.get, "/health", timeout=60)
    assert took < HEALTH_BOUND, took
    assert health.status_code == 503 and health.json()["status"] == "unhealthy", health.text
    checks = health.json()["checks"]
    token = checks["graph"]["token"]
    assert token.startswith("token check: no access token for Microsoft Graph") and all(n in token for n in CHECKS)
    assert checks["graph"]["auth"] == "managed-identity" and checks["graph"]["baseUrl"] == "configured"
    assert checks["storage"] != "ok" and identity_endpoint not in health.text  # statuses, never a setting's value

    invited, took = timed(served_app.api.post, "/guests", json={"email": "nobody@fabrikam.com"}, timeout=60)
    assert took < REQUEST_BOUND, took
    assert_identity_unavailable(invited)
    listed, took = timed(served_app.api.get, "/guests", timeout=60)
    assert took < REQUEST_BOUND, took
    assert_identity_unavailable(listed)
    output = served_app.output()
    assert "unhandled error" not in output and "Traceback" not in output, output


def test_a_sweep_reports_the_failed_directory_pass(production_env: dict[str, str], identity_graph) -> None:
    started = time.monotonic()
    sweep = run_sweep(production_env)
    assert time.monotonic() - started < REQUEST_BOUND + 20
    assert sweep.returncode == 1 and "Traceback" not in sweep.stderr, sweep.stderr
    report = json.loads(sweep.stdout)
    failure = report["failures"][0]
    assert failure["action"] == "directory pass" and "no access token for" in failure["reason"], report
    assert all(name in failure["reason"] for name in CHECKS) and report["finished_at"]
    assert identity_graph.control.calls()["log"] == []  # Graph was never asked


def test_a_graceful_stop_ends_the_server_with_a_token_request_under_way(served_app: RunningApp,
                                                                        identity_endpoint: str) -> None:
    answers: list[httpx.Response | Exception] = []

    def invite() -> None:
        try:
            answers.append(served_app.api.post("/guests", json={"email": "late@fabrikam.com"}, timeout=60))
        except httpx.HTTPError as exc:
            answers.append(exc)

    caller = threading.Thread(target=invite)
    caller.start()
    time.sleep(1)  # the request is waiting for its token (silent) or has its answer (closed)
    served_app.process.terminate()
    try:
        served_app.process.wait(REQUEST_BOUND)
    except subprocess.TimeoutExpired:
        pytest.fail(f"the server did not stop within {REQUEST_BOUND} s:\n{served_app.output()}")
    caller.join(10)
    assert answers and isinstance(answers[0], httpx.Response), answers
    assert_identity_unavailable(answers[0])
