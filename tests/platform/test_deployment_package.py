"""The deployment package is what is tested: what Azure installs and runs, with nothing from development.

The package is the project directory less what .funcignore excludes (as `func azure functionapp publish` zips it);
its environment is a Python 3.13 virtual environment made from requirements.txt alone (as Azure's build installs it),
cached under .venv-package/ by the hash of requirements.txt. There, function_app is imported and every registered
function is called once, as the worker calls it, against Azurite and the Graph emulator. The same environment proves
the lock: requirements.txt pins every package that pip installs for it, and the development environment runs the
same versions."""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path
from typing import Any

import pathspec
import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from graph_emulator import EmulatorControl
from tests.support import GROUP_A, GROUP_B, ROOT, app_environment

pytestmark = pytest.mark.azurite

LOCK = ROOT / "requirements.txt"
SOURCES = ROOT / "requirements.in"
PACKAGE_VENVS = ROOT / ".venv-package"
READY = ".ready"
PYTHON = "3.13"
DEVELOPMENT_ONLY = ("starlette", "uvicorn", "pytest", "graph_emulator", "devserver", "hypothesis", "schemathesis")

DRIVER = r'''
import asyncio, json, sys

directory = sys.argv[1]
sys.path.insert(0, directory)
import azure.functions as func
from azure.functions.timer import TimerRequest

import function_app
from lifecycle.wiring import container

GROUP_A, GROUP_B = sys.argv[2], sys.argv[3]
BASE = "http://localhost:7071/api/"


def request(method, route, body=None, route_params=None, params=None):
    return func.HttpRequest(method=method, url=BASE + route, headers={"Content-Type": "application/json"},
                            params=params or {}, route_params=route_params or {},
                            body=json.dumps(body).encode() if body is not None else b"")


async def call(functions, name, method, route, body=None, **kwargs):
    response = await functions.pop(name).get_user_function()(request(method, route, body, **kwargs))
    payload = response.get_body()
    if response.mimetype != "application/json":  # the sponsor page's files
        return {"function": name, "status": response.status_code, "mimetype": response.mimetype,
                "size": len(payload), "csp": response.headers.get("Content-Security-Policy")}
    return {"function": name, "status": response.status_code, "mimetype": response.mimetype,
            "body": json.loads(payload) if payload else None}


async def main():
    functions = {f.get_function_name(): f for f in function_app.app.get_functions()}
    results = [await call(functions, "health", "GET", "health"),
               await call(functions, "openapi_document", "GET", "openapi.json")]
    invited = await call(functions, "invite_guest", "POST", "guests",
                         {"email": "package@fabrikam.com", "displayName": "Package", "groups": [GROUP_A]})
    results.append(invited)
    guest = {"id": invited["body"]["id"]}
    group = {**guest, "groupId": GROUP_B}
    results += [
        await call(functions, "list_guests", "GET", "guests", params={"email": "package@fabrikam.com"}),
        await call(functions, "get_guest", "GET", "guests/" + guest["id"], route_params=guest),
        await call(functions, "add_guest_to_group", "PUT", "guests/{id}/groups/{groupId}", route_params=group),
        await call(functions, "remove_guest_from_group", "DELETE", "guests/{id}/groups/{groupId}",
                   route_params=group),
        await call(functions, "disable_guest", "POST", "guests/{id}/disable", route_params=guest),
        await call(functions, "enable_guest", "POST", "guests/{id}/enable", route_params=guest),
        await call(functions, "extend_guest", "POST", "guests/{id}/extend", {"days": 30}, route_params=guest),
        await call(functions, "reinvite_guest", "POST", "guests/{id}/reinvite", {}, route_params=guest),
        await call(functions, "delete_guest", "DELETE", "guests/{id}", route_params=guest),
        await call(functions, "restore_guest", "POST", "guests/{id}/restore", route_params=guest),
        await call(functions, "adopt_guests", "POST", "adopt", {"dryRun": True}),
        await call(functions, "expiry_plan", "GET", "expiry/plan"),
    ]
    timer = functions.pop("expire_guests")
    outcome = await timer.get_user_function()(TimerRequest(past_due=False))
    results.append({"function": "expire_guests", "status": None, "returned": repr(outcome)})
    for name, function in sorted(functions.items()):  # registered after this test was written: called, not judged
        spec = json.loads(function.get_function_json())
        trigger = next(b for b in spec["bindings"] if b["type"] == "httpTrigger")
        route_params = {p: guest["id"] for p in ("id", "groupId") if "{" + p in trigger["route"]}
        result = await call(functions, name, trigger.get("methods", ["GET"])[0], trigger["route"], {},
                            route_params=route_params)
        results.append({**result, "unscripted": True})
    await container.close_current()
    print(json.dumps({"results": results,
                      "modules": sorted({m.split(".")[0] for m in sys.modules}),
                      "python": "%d.%d" % sys.version_info[:2]}))


asyncio.run(main())
'''

PAGES = {"portal_page": (200, "text/html"), "portal_script": (200, "text/javascript"),
         "portal_style": (200, "text/css")}
EXPECTED_STATUS = {
    "health": 200, "openapi_document": 200, "invite_guest": 201, "list_guests": 200, "get_guest": 200,
    "add_guest_to_group": 200, "remove_guest_from_group": 200, "disable_guest": 200, "enable_guest": 200,
    "extend_guest": 200, "reinvite_guest": 200, "delete_guest": 200, "restore_guest": 200,
    "adopt_guests": 200, "expiry_plan": 200,
}


def requirement_pins(path: Path) -> dict[str, str]:
    """name -> pinned version of every `name==version` line of a requirements file."""
    pins = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if not line or line.startswith("-"):
            continue
        requirement = Requirement(line)
        (specifier,) = requirement.specifier
        assert specifier.operator == "==", f"{path.name}: {line} is not pinned"
        pins[canonicalize_name(requirement.name)] = specifier.version
    return pins


def python_313() -> str:
    if sys.version_info[:2] == (3, 13):
        return sys.executable
    found = subprocess.run(["bash", str(ROOT / "scripts" / "find_python.sh")], capture_output=True, text=True)
    assert found.returncode == 0, found.stderr
    return found.stdout.strip()


def build_package_venv() -> Path:
    """The environment Azure's build makes: Python 3.13 and `pip install -r requirements.txt`, nothing else."""
    key = hashlib.sha256(LOCK.read_bytes() + PYTHON.encode()).hexdigest()[:16]
    venv = PACKAGE_VENVS / key
    if (venv / READY).exists():
        return venv
    shutil.rmtree(PACKAGE_VENVS, ignore_errors=True)
    subprocess.run([python_313(), "-m", "venv", str(venv)], check=True, timeout=300)
    installed = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet",
                                "--disable-pip-version-check", "--no-input", "-r", str(LOCK)],
                               capture_output=True, text=True, timeout=900)
    assert installed.returncode == 0, installed.stderr[-3000:]
    (venv / READY).write_text(key, encoding="utf-8")
    return venv


def package_files() -> list[Path]:
    """The files a publish zips: every file of the project that .funcignore does not exclude."""
    ignored = pathspec.GitIgnoreSpec.from_lines((ROOT / ".funcignore").read_text(encoding="utf-8").splitlines())
    found = []
    for directory, folders, files in os.walk(ROOT):
        relative = Path(directory).relative_to(ROOT)
        folders[:] = [f for f in folders if not ignored.match_file(f"{(relative / f).as_posix()}/")]
        found += [relative / f for f in files if not ignored.match_file((relative / f).as_posix())]
    return sorted(found)


@pytest.fixture(scope="module")
def package_venv() -> Path:
    return build_package_venv()


@pytest.fixture(scope="module")
def package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("package")
    for relative in package_files():
        (target / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / relative, target / relative)
    return target


@pytest.fixture(scope="module")
def package_emulator(emulator_server: Any) -> Iterator[EmulatorControl]:
    control = emulator_server.control
    control.reset()
    for group_id in (GROUP_A, GROUP_B):
        control.seed_group(id=group_id, displayName="group")
    yield control
    control.reset()


@pytest.fixture(scope="module")
def run_in_package(package_venv: Path, package: Path, azurite: Any,
                   package_emulator: EmulatorControl) -> Iterator[dict[str, Any]]:
    """The driver's report: each function's answer, the modules it imported, the Python version."""
    env = {"PATH": "/usr/bin:/bin", "HOME": str(package), "SSL_CERT_FILE": os.environ.get("SSL_CERT_FILE", ""),
           **app_environment(azurite.connection_string, package_emulator.graph_url)}
    result = subprocess.run([str(package_venv / "bin" / "python"), "-I", "-c", DRIVER, str(package), GROUP_A,
                             GROUP_B], cwd=package, env={k: v for k, v in env.items() if v}, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-4000:]
    yield json.loads(result.stdout.strip().splitlines()[-1])


def test_the_package_holds_the_app_and_none_of_the_development_files(package):
    top = {path.parts[0] for path in package_files()}
    assert {"function_app.py", "host.json", "requirements.txt", "lifecycle"} <= top
    assert not top & {"tests", "graph_emulator", "devserver", "bench", "infra", "node_modules", ".venv",
                      "requirements-dev.txt", ".git", "scripts"}
    assert not [path for path in package_files() if "__pycache__" in path.parts or path.name.startswith(".venv")]


def test_every_function_answers_in_the_deployment_package_without_a_server_error(run_in_package):
    results = run_in_package["results"]
    assert run_in_package["python"] == PYTHON
    called = {result["function"]: result for result in results}
    assert len(called) == len(results), "a function was called twice"
    assert set(EXPECTED_STATUS) | {"expire_guests"} <= set(called)
    statuses = {name: called[name]["status"] for name in EXPECTED_STATUS}
    assert statuses == EXPECTED_STATUS, [r for r in results if r["status"] != EXPECTED_STATUS.get(r["function"])]
    assert called["expire_guests"]["returned"] == "None"
    assert all(result["status"] < 500 for result in results if result["status"] is not None), results
    assert all(result["mimetype"] == "application/json" for result in results
               if "mimetype" in result and result["function"] not in PAGES)


def test_the_sponsor_page_is_served_from_the_package(run_in_package):
    pages = {result["function"]: result for result in run_in_package["results"] if result["function"] in PAGES}
    assert {name: (page["status"], page["mimetype"]) for name, page in pages.items()} == PAGES
    assert all(page["size"] > 500 and "default-src 'none'" in page["csp"] for page in pages.values())


def test_the_openapi_document_is_served_from_the_package(run_in_package):
    document = next(r for r in run_in_package["results"] if r["function"] == "openapi_document")["body"]
    assert document["openapi"].startswith("3.") and "/guests" in document["paths"]
    assert document["servers"] == [{"url": "http://localhost:7071/api"}]


def test_the_package_imports_no_development_module(run_in_package):
    assert not set(run_in_package["modules"]) & set(DEVELOPMENT_ONLY)


def test_the_command_line_runs_in_the_package_and_leaves_the_development_commands_out(package_venv, package, azurite,
                                                                                     tmp_path):
    """`python -m lifecycle` on requirements.txt alone: the deployed commands run, a development command (loaded by
    name, never imported by the package) says in one line that it needs a clone."""
    env = {"PATH": "/usr/bin:/bin", "HOME": str(package),
           **app_environment(azurite.connection_string, "http://127.0.0.1:9/v1.0")}

    def lifecycle(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(package_venv / "bin" / "python"), "-E", "-s", "-m", "lifecycle", *args],
                              cwd=package, env=env, capture_output=True, text=True, timeout=120)

    listed = lifecycle("--help")
    assert listed.returncode == 0 and "export" in listed.stdout and "Development commands" in listed.stdout
    served = lifecycle("serve", "--emulate-graph")
    assert served.returncode == 1 and "Traceback" not in served.stderr, served.stderr
    assert served.stderr.strip().startswith("Error: serve is a development command")
    assert len(served.stderr.strip().splitlines()) == 1
    exported = lifecycle("export", "--output", str(tmp_path / "export.jsonl"))
    assert exported.returncode == 0, exported.stderr
    lines = (tmp_path / "export.jsonl").read_text(encoding="utf-8").splitlines()
    assert json.loads(lines[0])["export"] == "guest-lifecycle" and json.loads(lines[-1]) == {"end": True}


def test_the_package_environment_is_the_lock_exactly(package_venv):
    frozen = subprocess.run([str(package_venv / "bin" / "python"), "-m", "pip", "freeze", "--all",
                             "--exclude", "pip", "--disable-pip-version-check"],
                            capture_output=True, text=True, timeout=120, check=True)
    installed = {canonicalize_name(name): version for name, _, version in
                 (line.partition("==") for line in frozen.stdout.splitlines() if "==" in line)}
    assert installed == requirement_pins(LOCK)
    check = subprocess.run([str(package_venv / "bin" / "python"), "-m", "pip", "check"], capture_output=True,
                           text=True, timeout=120)
    assert check.returncode == 0, check.stdout


def test_the_lock_is_compiled_from_requirements_in():
    locked, direct = requirement_pins(LOCK), requirement_pins(SOURCES)
    assert {name: locked.get(name) for name in direct} == direct
    for line in LOCK.read_text(encoding="utf-8").splitlines():
        assert not line.startswith(("--find-links", "--index-url", "--extra-index-url", "-e ")), line


def test_the_development_environment_runs_the_locked_versions():
    installed = {name: metadata.version(name) for name in requirement_pins(LOCK)}
    assert installed == requirement_pins(LOCK)
    assert "-r requirements.txt" in (ROOT / "requirements-dev.txt").read_text(encoding="utf-8").splitlines()
