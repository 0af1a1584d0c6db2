"""Helpers shared by the custom checks (checkov loads every module of this folder; this one declares no check)."""
from __future__ import annotations

from typing import Any


def lookup(conf: dict[str, Any], path: str) -> Any:
    """Value at a '/'-separated path of a resource's Bicep body, or None when a step is missing."""
    node: Any = conf
    for step in path.split("/"):
        if not isinstance(node, dict) or step not in node:
            return None
        node = node[step]
    return node


def is_literal(value: Any, expected: Any) -> bool:
    """True only for the literal value itself (an expression or a parameter reference does not count)."""
    if isinstance(expected, bool):
        return value is expected
    if isinstance(expected, str) and isinstance(value, str):
        return value.lower() == expected.lower()
    return value == expected
