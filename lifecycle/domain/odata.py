"""OData literal escaping (Graph `$filter`)."""
from __future__ import annotations


def odata_string(value: str) -> str:
    """A single-quoted OData string literal; a quote inside is doubled (`o'brien` -> `'o''brien'`)."""
    return "'" + value.replace("'", "''") + "'"
