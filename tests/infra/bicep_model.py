"""Reads the Bicep in infra/ with pycep-parser (the Bicep CLI cannot be installed here) for the infra tests.

pycep turns a file into JSON: parameters, variables, resources, modules, outputs. Identifiers and string literals
both come out as plain strings, and `a.b.c` comes out as nested property accessors; `dotted()` flattens those.
"""
from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
INFRA = ROOT / "infra"
MAIN = INFRA / "main.bicep"
PYCEP_VERSION = "0.7.1"


def bicep_files() -> list[Path]:
    """Every .bicep file under infra/ (samples included), sorted."""
    return sorted(INFRA.rglob("*.bicep"))


def _parser() -> Any:
    try:
        from pycep import BicepParser
    except ImportError as exc:  # pragma: no cover - a setup error, reported as such
        raise RuntimeError(
            "pycep-parser is not installed in this virtual environment: "
            "pip install -r requirements-iac-parse.txt"
        ) from exc
    return BicepParser()


@cache
def parse(path: Path) -> dict[str, Any]:
    """The pycep JSON of one Bicep file (cached)."""
    return _parser().parse(file_path=path)


def module_file(name: str) -> Path:
    return INFRA / "modules" / name


def text(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def dotted(expr: Any) -> str | None:
    """`a.b.c` (nested property accessors) as the string 'a.b.c'; a plain identifier as itself; else None."""
    if isinstance(expr, str):
        return expr
    if isinstance(expr, dict) and "operator" in expr:
        operator = expr["operator"]
        if operator.get("type") == "property_accessor":
            left = dotted(operator["operands"]["operand_1"])
            right = dotted(operator["operands"]["operand_2"])
            if left is not None and right is not None:
                return f"{left}.{right}"
    return None


def function_call(expr: Any) -> tuple[str, dict[str, Any]] | None:
    """(function name, its parameters) when expr is a function call."""
    if isinstance(expr, dict) and "function" in expr:
        return expr["function"]["type"], expr["function"]["parameters"]
    return None


def resource(doc: dict[str, Any], symbol: str) -> dict[str, Any]:
    return doc["resources"][symbol]


def body(entry: dict[str, Any]) -> dict[str, Any]:
    """The object body of a resource or module, through a loop (`[for ...]`) or a condition (`if (...)`)."""
    config = entry["config"]
    while isinstance(config, dict) and "config" in config and ("loop_type" in config or "condition" in config):
        config = config["config"]
    return config


def condition(entry: dict[str, Any]) -> Any:
    """The deploy condition of a resource or module (`if (cond)`), or None."""
    config = entry["config"]
    return config.get("condition") if isinstance(config, dict) else None


def loop(entry: dict[str, Any]) -> dict[str, Any] | None:
    config = entry["config"]
    return config.get("loop_type") if isinstance(config, dict) else None


def resources_of_type(doc: dict[str, Any], type_: str) -> dict[str, dict[str, Any]]:
    return {name: res for name, res in doc.get("resources", {}).items() if res["type"] == type_}


def decorators(entry: dict[str, Any]) -> dict[str, Any]:
    return {d["type"]: d.get("argument") for d in entry.get("decorators", [])}


def main_parameters_json() -> dict[str, Any]:
    return json.loads(text(INFRA / "main.parameters.json"))


_AZD_VARIABLE = re.compile(r"^\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:=(?P<default>[^}]*))?\}$")


def azd_variable(value: Any) -> tuple[str, str | None] | None:
    """('NAME', default or None) for an azd substitution '${NAME}' / '${NAME=default}', else None."""
    if not isinstance(value, str):
        return None
    match = _AZD_VARIABLE.match(value)
    return (match["name"], match["default"]) if match else None
