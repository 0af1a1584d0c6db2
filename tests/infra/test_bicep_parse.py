"""Every Bicep file parses (pycep-parser 0.7.1 knows `extension` and lambdas) and the modules are wired right.

Without the Bicep CLI nothing else would notice a module that is passed a parameter it does not declare, misses a
required one, or reads an output that does not exist: these tests do.
"""
from __future__ import annotations

import re
from importlib.metadata import version
from pathlib import Path

import pytest

from tests.infra.bicep_model import INFRA, PYCEP_VERSION, bicep_files, body, decorators, parse, text

FILES = bicep_files()
IDS = [str(path.relative_to(INFRA)) for path in FILES]


def test_pycep_parser_is_the_pinned_version() -> None:
    assert version("pycep-parser") == PYCEP_VERSION, "the parse tests are written against pycep-parser 0.7.1"


def test_infra_has_the_expected_modules() -> None:
    names = {str(path.relative_to(INFRA)) for path in FILES}
    expected = {
        "main.bicep",
        "modules/identity.bicep",
        "modules/storage.bicep",
        "modules/monitoring.bicep",
        "modules/role-assignments.bicep",
        "modules/function-app.bicep",
        "modules/graph-permissions.bicep",
        "modules/entra-auth.bicep",
        "modules/samples.bicep",
    }
    assert expected <= names


@pytest.mark.parametrize("path", FILES, ids=IDS)
def test_file_parses(path: Path) -> None:
    doc = parse(path)
    assert doc.get("resources") or doc.get("modules") or doc.get("outputs"), f"{path} declares nothing"


@pytest.mark.parametrize("path", FILES, ids=IDS)
def test_every_parameter_is_described(path: Path) -> None:
    undocumented = [name for name, param in parse(path).get("parameters", {}).items()
                    if not decorators(param).get("description")]
    assert not undocumented, f"parameters without @description in {path.name}: {undocumented}"


@pytest.mark.parametrize("path", FILES, ids=IDS)
def test_no_registry_modules(path: Path) -> None:
    """Registry (br:/ts:) modules cannot be restored on these machines and hide their resources from the checks."""
    for name, module in parse(path).get("modules", {}).items():
        assert module["type"] == "local", f"{path.name}: module {name} is not a local file"


def _module_calls() -> list[tuple[Path, str, dict]]:
    calls = []
    for path in FILES:
        try:
            doc = parse(path)
        except Exception:  # noqa: BLE001, S112 - reported by test_file_parses, not at collection time
            continue
        for symbol, module in doc.get("modules", {}).items():
            calls.append((path, symbol, module))
    return calls


CALLS = _module_calls()


@pytest.mark.parametrize(("caller", "symbol", "module"), CALLS, ids=[f"{c.name}:{s}" for c, s, _ in CALLS])
def test_module_parameters_match(caller: Path, symbol: str, module: dict) -> None:
    target = (caller.parent / module["detail"]["path"]).resolve()
    assert target.is_file(), f"{caller.name}: module {symbol} points at a missing file {target}"
    declared = parse(target).get("parameters", {})
    passed = set(body(module).get("params", {}))
    unknown = passed - set(declared)
    assert not unknown, f"{caller.name}: module {symbol} is passed parameters {target.name} does not declare: {unknown}"
    required = {name for name, param in declared.items() if param.get("default") is None}
    missing = required - passed
    assert not missing, f"{caller.name}: module {symbol} misses required parameters of {target.name}: {missing}"


@pytest.mark.parametrize("path", FILES, ids=IDS)
def test_module_outputs_exist(path: Path) -> None:
    doc = parse(path)
    modules = {symbol: (path.parent / module["detail"]["path"]).resolve()
               for symbol, module in doc.get("modules", {}).items()}
    for symbol, output in re.findall(r"\b([A-Za-z_]\w*)\.outputs\.([A-Za-z_]\w*)", text(path)):
        assert symbol in modules, f"{path.name}: {symbol}.outputs.{output} reads an unknown module"
        outputs = parse(modules[symbol]).get("outputs", {})
        assert output in outputs, f"{path.name}: module {symbol} ({modules[symbol].name}) has no output {output}"


def test_every_module_file_is_used() -> None:
    used = {(path.parent / module["detail"]["path"]).resolve() for path, _, module in CALLS}
    modules = [path for path in FILES if path.parent == INFRA / "modules"]
    unused = [str(path.relative_to(INFRA)) for path in modules if path.resolve() not in used]
    assert not unused, f"module files nothing deploys: {unused}"
