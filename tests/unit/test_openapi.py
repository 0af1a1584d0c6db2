"""The API descriptions (OpenAPI 3, Swagger 2, the Power Automate connector) match the code and are valid."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import azure.functions as func
import pytest
from openapi_spec_validator import validate

import function_app
from lifecycle.http import openapi
from lifecycle.http.idempotency import HEADER as IDEMPOTENCY_HEADER
from lifecycle.registry import HttpFunction, http_functions
from tests.api_client import call
from tests.support import ROOT

METHODS = {"get", "put", "post", "delete", "patch"}
CONNECTOR = ROOT / "connector"


def load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def operations(document: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(path, method): operation for path, item in document["paths"].items()
            for method, operation in item.items() if method in METHODS}


def registered() -> dict[tuple[str, str], HttpFunction]:
    """The API's functions (the sponsor page's files are not API operations: openapi.NOT_API)."""
    return {("/" + function.route, method.lower()): function
            for function in http_functions(function_app.app) for method in function.methods
            if function.name not in openapi.NOT_API}


def walk(node: Any) -> Any:
    yield node
    children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else ()
    for child in children:
        yield from walk(child)


@pytest.fixture(scope="module")
def oas3() -> dict[str, Any]:
    return openapi.build_openapi(function_app.app)


@pytest.fixture(scope="module")
def swagger(oas3: dict[str, Any]) -> dict[str, Any]:
    return openapi.build_swagger(oas3)


def test_committed_files_are_what_the_code_generates() -> None:
    stale = [str(path.relative_to(ROOT)) for path in openapi.stale_files(function_app.app)]
    assert not stale, f"run `python -m lifecycle.http.openapi --write`: {stale} are out of date"


@pytest.mark.parametrize("mode", ["function", "entra"])
def test_check_command_passes_on_the_committed_files_in_either_auth_mode(mode: str) -> None:
    result = subprocess.run([sys.executable, "-m", "lifecycle.http.openapi", "--check"], cwd=ROOT, capture_output=True,
                            text=True, timeout=120, check=False, env={**os.environ, "LIFECYCLE_HTTP_AUTH": mode})
    assert result.returncode == 0, result.stderr


def test_check_command_fails_on_a_stale_file(tmp_path: Path) -> None:
    copy = tmp_path / "app"
    shutil.copytree(ROOT, copy, ignore=shutil.ignore_patterns("node_modules", ".git", ".venv*", ".azurite", "bench"))
    stale = copy / "openapi" / "openapi.json"
    stale.write_text(stale.read_text(encoding="utf-8").replace("Guest Lifecycle", "Guest Lifecycle!"), encoding="utf-8")
    result = subprocess.run([sys.executable, "-m", "lifecycle.http.openapi", "--check"], cwd=copy,
                            capture_output=True, text=True, timeout=120, check=False,
                            env={**os.environ, "PYTHONPATH": str(copy)})
    assert result.returncode == 1 and "out of date: openapi/openapi.json" in result.stderr, result.stderr


@pytest.mark.parametrize("document", ["oas3", "swagger"])
def test_documented_operations_are_exactly_the_registered_functions(document: str, request: Any) -> None:
    assert set(operations(request.getfixturevalue(document))) == set(registered())


def test_every_operation_has_an_id_a_summary_and_a_description(oas3: dict[str, Any]) -> None:
    found = operations(oas3).values()
    for operation in found:
        assert operation["operationId"] and operation["summary"] and operation["description"], operation
        assert len(operation["summary"]) <= 80 and not operation["summary"].endswith(".")
    assert len({operation["operationId"] for operation in found}) == len(found)


@pytest.mark.parametrize("path", [openapi.OPENAPI_FILE, openapi.SWAGGER_FILE, openapi.CONNECTOR_FILE],
                         ids=lambda path: str(path.relative_to(ROOT)))
def test_documents_are_valid(path: Path) -> None:
    validate(load(path))


def test_function_key_is_required_exactly_on_function_level_routes(oas3: dict[str, Any]) -> None:
    functions = registered()
    for key, operation in operations(oas3).items():
        expected = [] if functions[key].auth_level == "ANONYMOUS" else [{openapi.SECURITY_SCHEME: []}]
        assert operation["security"] == expected, key
    scheme = oas3["components"]["securitySchemes"][openapi.SECURITY_SCHEME]
    assert scheme == {**scheme, "type": "apiKey", "in": "header", "name": "x-functions-key"}


def test_health_and_the_document_itself_are_anonymous(oas3: dict[str, Any]) -> None:
    assert oas3["paths"]["/health"]["get"]["security"] == []
    assert oas3["paths"]["/openapi.json"]["get"]["security"] == []


def test_mutating_operations_take_an_idempotency_key_and_say_when_they_replay(oas3: dict[str, Any]) -> None:
    for (path, method), operation in operations(oas3).items():
        headers = [p for p in operation["parameters"] if p["in"] == "header"]
        if method in {"post", "put", "delete"}:
            assert [p["name"] for p in headers] == [IDEMPOTENCY_HEADER] and not headers[0]["required"]
            success = [r for status, r in operation["responses"].items() if status.startswith("2")]
            assert all("Idempotent-Replay" in r["headers"] for r in success), (path, method)
        else:
            assert headers == [], (path, method)


def test_202_answers_carry_location_and_retry_after(oas3: dict[str, Any]) -> None:
    accepted = {key for key, operation in operations(oas3).items() if "202" in operation["responses"]}
    assert {("/guests", "post"), ("/guests/{id}", "get"), ("/guests/{id}/groups/{groupId}", "put")} <= accepted
    for key in accepted:
        headers = operations(oas3)[key]["responses"]["202"]["headers"]
        assert headers["Location"]["required"] and headers["Retry-After"]["required"], key


def test_errors_use_the_error_schema_and_503_says_when_to_retry(oas3: dict[str, Any]) -> None:
    for key, operation in operations(oas3).items():
        for status, response in operation["responses"].items():
            if int(status) >= 400:
                schema = response["content"]["application/json"]["schema"]["$ref"]
                expected = "HealthReport" if key == ("/health", "get") else "ErrorResponse"
                assert schema.endswith("/" + expected), (key, status)
            if status == "503":
                assert "Retry-After" in response["headers"], key


def test_body_and_query_come_from_the_pydantic_models(oas3: dict[str, Any]) -> None:
    invite = oas3["paths"]["/guests"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert invite == {"$ref": "#/components/schemas/InviteRequest"}
    model = oas3["components"]["schemas"]["InviteRequest"]
    assert model["required"] == ["email"] and model["properties"]["email"]["x-ms-visibility"] == "important"
    assert model["properties"]["expiresInDays"] == {**model["properties"]["expiresInDays"], "nullable": True,
                                                    "x-ms-summary": "Expires in days"}
    query = {p["name"] for p in oas3["paths"]["/guests"]["get"]["parameters"]}
    assert query == {"email", "state", "expiringBefore", "pageSize", "continuationToken"}


def test_every_field_and_parameter_has_a_power_automate_label(oas3: dict[str, Any]) -> None:
    for schema in oas3["components"]["schemas"].values():
        for name, prop in schema.get("properties", {}).items():
            assert prop.get("x-ms-summary"), name
    for operation in operations(oas3).values():
        assert all(parameter.get("x-ms-summary") for parameter in operation["parameters"])


def test_oas3_has_no_json_schema_nulls(oas3: dict[str, Any]) -> None:
    assert not [node for node in walk(oas3) if isinstance(node, dict) and node.get("type") == "null"]


def test_swagger_has_only_swagger_constructs(swagger: dict[str, Any]) -> None:
    nodes = [node for node in walk(swagger) if isinstance(node, dict)]
    assert not [node for node in nodes if {"anyOf", "oneOf", "nullable", "$defs"} & set(node)]
    refs = [node["$ref"] for node in nodes if "$ref" in node]
    assert refs and all(ref.startswith("#/definitions/") for ref in refs)
    assert swagger["definitions"]["InviteRequest"]["properties"]["displayName"]["x-nullable"] is True
    assert swagger["securityDefinitions"][openapi.SECURITY_SCHEME]["name"] == "x-functions-key"


def test_connector_definition_is_the_swagger_document_with_a_host() -> None:
    connector = load(openapi.CONNECTOR_FILE)
    assert connector.pop("host") == openapi.CONNECTOR_HOST
    assert connector == load(openapi.SWAGGER_FILE)
    assert (connector["basePath"], connector["schemes"]) == ("/api", ["https"])
    assert len(connector["info"]["title"]) <= 30 and len(connector["info"]["description"]) <= 500


def test_connector_properties_declare_the_function_key_connection() -> None:
    properties = load(CONNECTOR / "apiProperties.json")["properties"]
    assert {"connectionParameters", "iconBrandColor", "capabilities", "publisher", "stackOwner"} <= set(properties)
    assert properties["connectionParameters"]["api_key"]["type"] == "securestring"
    assert properties["iconBrandColor"].startswith("#")


def test_a_registered_function_without_documentation_fails_loudly() -> None:
    stranger = HttpFunction("mystery", "mystery", ("GET",), "FUNCTION", lambda req: None)  # type: ignore[arg-type]
    with pytest.raises(KeyError, match="mystery"):
        openapi.describe([*http_functions(function_app.app), stranger])


def test_documentation_of_a_function_that_is_gone_fails_loudly() -> None:
    with pytest.raises(KeyError, match="not registered"):
        openapi.describe([f for f in http_functions(function_app.app) if f.name != "health"])


@pytest.mark.parametrize(("name", "label"), [("expiresInDays", "Expires in days"), ("groupId", "Group ID"),
                                             ("redirectUrl", "Redirect URL"), ("email", "Email")])
def test_labels_are_readable(name: str, label: str) -> None:
    assert openapi.humanize(name) == label


async def test_the_docs_route_serves_the_document_with_the_callers_server() -> None:
    status, body, _ = await call("openapi_document", "GET", "openapi.json")
    assert status == 200 and body["servers"] == [{"url": "http://localhost:7071/api"}]
    assert {**body, "servers": openapi.SERVERS} == load(openapi.OPENAPI_FILE)


def test_the_docs_route_works_after_the_functions_host_indexed_the_app() -> None:
    script = (
        "import asyncio, json\n"
        "import azure.functions as func\n"
        "import function_app\n"
        "functions = function_app.app.get_functions()\n"
        "handler = next(f for f in functions if f.get_function_name() == 'openapi_document').get_user_function()\n"
        "request = func.HttpRequest('GET', 'https://app.example/api/openapi.json', headers={}, body=b'')\n"
        "response = asyncio.run(handler(request))\n"
        "print(response.status_code)\n"
    )
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120,
                            env={**os.environ, "PYTHONPATH": str(ROOT)}, check=False)
    assert result.stdout.strip() == "200", result.stderr[-2000:]


def without_security(document: dict[str, Any]) -> dict[str, Any]:
    """The document less what the auth mode changes: the scheme, each operation's requirement, the 401 text and
    the sentence of `info` that says how to authenticate."""
    copy = json.loads(json.dumps(document))
    copy["components"].pop("securitySchemes")
    for operation in operations(copy).values():
        operation.pop("security")
        operation["responses"].get("401", {}).pop("description", None)
    for scheme in openapi.AUTH_SCHEMES.values():
        copy["info"]["description"] = copy["info"]["description"].replace(scheme.how, "")
    return copy


@pytest.fixture(scope="module")
def entra() -> dict[str, Any]:
    return openapi.describe(http_functions(function_app.app), "entra")


def test_the_auth_mode_changes_only_the_security_scheme(oas3: dict[str, Any], entra: dict[str, Any]) -> None:
    assert entra != oas3
    assert without_security(entra) == without_security(oas3)


def test_entra_mode_documents_a_bearer_token_and_no_function_key(entra: dict[str, Any]) -> None:
    validate(entra)
    assert entra["components"]["securitySchemes"] == {
        openapi.ENTRA_SCHEME: {**entra["components"]["securitySchemes"][openapi.ENTRA_SCHEME],
                               "type": "http", "scheme": "bearer"}}
    for (path, _), operation in operations(entra).items():
        public = path in {"/health", "/openapi.json"}
        assert operation["security"] == ([] if public else [{openapi.ENTRA_SCHEME: []}]), path
        if "401" in operation["responses"]:
            assert "Entra" in operation["responses"]["401"]["description"]
    text = json.dumps(entra)
    assert "x-functions-key" not in text and "function key" not in text


def test_entra_mode_swagger_sends_the_token_in_the_authorization_header(entra: dict[str, Any]) -> None:
    swagger = openapi.build_swagger(entra)
    validate(swagger)
    scheme = swagger["securityDefinitions"][openapi.ENTRA_SCHEME]
    assert (scheme["type"], scheme["in"], scheme["name"]) == ("apiKey", "header", "Authorization")


def test_an_entra_app_documents_entra_and_still_checks_as_the_committed_files(entra: dict[str, Any]) -> None:
    """In a shell with LIFECYCLE_HTTP_AUTH=entra, the app `function_app` creates documents the bearer scheme, serves
    it, and its function-key documents are the committed ones."""
    script = (
        "import asyncio, json\n"
        "import azure.functions as func\n"
        "import function_app\n"
        "from lifecycle.http import openapi\n"
        "from lifecycle.registry import indexed_functions\n"
        "handler = next(f for f in indexed_functions(function_app.app)\n"
        "               if f.get_function_name() == 'openapi_document').get_user_function()\n"
        "request = func.HttpRequest('GET', 'http://localhost:7071/api/openapi.json', headers={}, body=b'')\n"
        "served = json.loads(asyncio.run(handler(request)).get_body())\n"
        "print(json.dumps({'built': openapi.build_openapi(function_app.app), 'served': served,\n"
        "                  'stale': [str(p) for p in openapi.stale_files(function_app.app)]}))\n"
    )
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120,
                            env={**os.environ, "PYTHONPATH": str(ROOT), "LIFECYCLE_HTTP_AUTH": "entra"}, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    found = json.loads(result.stdout)
    assert found["built"] == entra and found["stale"] == []
    assert {**found["served"], "servers": openapi.SERVERS} == entra


def test_an_auth_level_that_contradicts_the_pipeline_fails_loudly() -> None:
    from lifecycle.http.pipeline import api

    app = func.FunctionApp(http_auth_level=func.AuthLevel.FUNCTION)
    blueprint = func.Blueprint()

    async def exposed(req: func.HttpRequest, services: Any) -> func.HttpResponse:
        return func.HttpResponse("{}")

    blueprint.route(route="exposed", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)(api(exposed))
    app.register_functions(blueprint)
    with pytest.raises(ValueError, match="exposed"):
        openapi.build_openapi(app)
