"""One version in one place: lifecycle/__init__.py's __version__. Everything that reports a version reports it."""
from __future__ import annotations

import json
import re
import tomllib

import pytest
from click.testing import CliRunner

import function_app
from lifecycle import __version__
from lifecycle.cli import main
from lifecycle.http import openapi
from tests.api_client import call
from tests.support import ROOT

SEMVER = re.compile(r"^\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?$")


def test_the_version_is_semantic():
    assert SEMVER.match(__version__), __version__


def test_azure_yaml_names_the_version():
    template = re.search(r"^  template: guest-lifecycle@(\S+)", (ROOT / "azure.yaml").read_text(encoding="utf-8"),
                         re.MULTILINE)
    assert template is not None, "azure.yaml: metadata.template guest-lifecycle@<version> is missing"
    assert template[1] == __version__, "azure.yaml's template version differs from lifecycle/__init__.py"


@pytest.mark.parametrize("path", [openapi.OPENAPI_FILE, openapi.SWAGGER_FILE, openapi.CONNECTOR_FILE],
                         ids=lambda path: path.name)
def test_the_committed_api_documents_carry_the_version(path):
    document = json.loads(path.read_text(encoding="utf-8"))
    assert document["info"]["version"] == __version__, (
        f"{path.relative_to(ROOT)} says {document['info']['version']}: run python -m lifecycle.http.openapi --write")


def test_the_served_api_document_carries_the_version():
    assert openapi.build_openapi(function_app.app)["info"]["version"] == __version__


def test_pyproject_reads_the_version_from_the_package():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert "version" not in project["project"] and "version" in project["project"]["dynamic"]
    assert project["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "lifecycle.__version__"}


def test_the_changelog_has_an_entry_for_the_version():
    changelog = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    assert "## [Unreleased]" in changelog
    assert re.search(rf"^## \[{re.escape(__version__)}\] - \d{{4}}-\d{{2}}-\d{{2}}$", changelog, re.MULTILINE), (
        f"CHANGELOG.md has no '## [{__version__}] - YYYY-MM-DD' entry")


def test_the_command_line_reports_the_version():
    result = CliRunner().invoke(main, ["--version"])
    assert result.exit_code == 0 and __version__ in result.output


async def test_health_reports_the_version(fakes):
    status, body, _ = await call("health", "GET", "health")
    assert status == 200 and body["version"] == __version__
