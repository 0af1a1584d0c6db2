"""The app logs through one factory, lifecycle.logs.get_logger (structured JSON lines): no module of lifecycle/ takes a
standard-library logger of its own."""
from __future__ import annotations

import ast

from tests.support import ROOT

PACKAGE = ROOT / "lifecycle"
FACTORY = PACKAGE / "logs.py"


def standard_logger_calls(source: str) -> list[int]:
    """Lines calling logging.getLogger (also as `from logging import getLogger`)."""
    tree = ast.parse(source)
    imported = {alias.asname or alias.name for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
                and node.module == "logging" for alias in node.names if alias.name == "getLogger"}
    lines = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        called = node.func
        if (isinstance(called, ast.Attribute) and called.attr == "getLogger"
                and isinstance(called.value, ast.Name) and called.value.id == "logging") or \
                (isinstance(called, ast.Name) and called.id in imported):
            lines.append(node.lineno)
    return lines


def test_the_check_finds_both_spellings_of_a_standard_logger():
    assert standard_logger_calls("import logging\nlog = logging.getLogger('x')\n") == [2]
    assert standard_logger_calls("from logging import getLogger as g\n\nlog = g('x')\n") == [3]
    assert standard_logger_calls("from lifecycle.logs import get_logger\nlog = get_logger('x')\n") == []


def test_no_module_of_the_app_but_the_factory_takes_a_standard_library_logger():
    offenders = {f"{path.relative_to(ROOT)}:{line}" for path in PACKAGE.rglob("*.py")
                 if path != FACTORY
                 for line in standard_logger_calls(path.read_text(encoding="utf-8"))}
    assert offenders == set(), "log through lifecycle.logs.get_logger instead"
