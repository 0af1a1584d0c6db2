"""Nothing lost by accident: a CanNotDelete lock on the storage account (its tables hold every record and the audit
trail), on by default, a parameter of main.bicep and an azd variable, and the docs say how to lift it."""
from __future__ import annotations

from typing import Any

import pytest

from tests.infra.bicep_model import (
    MAIN,
    ROOT,
    azd_variable,
    body,
    condition,
    main_parameters_json,
    module_file,
    parse,
    resources_of_type,
)


@pytest.fixture(scope="module")
def storage() -> dict[str, Any]:
    return parse(module_file("storage.bicep"))


def test_the_storage_account_is_locked_against_deletion_by_default(storage: dict[str, Any]) -> None:
    (symbol,) = resources_of_type(storage, "Microsoft.Authorization/locks")
    lock = storage["resources"][symbol]
    (account,) = resources_of_type(storage, "Microsoft.Storage/storageAccounts")
    assert body(lock)["scope"] == account, "the lock is scoped to the storage account"
    assert body(lock)["properties"]["level"] == "CanNotDelete"
    assert "docs/operate.md" in body(lock)["properties"]["notes"], "the lock tells who meets it how to lift it"
    assert condition(lock) == "lockAccount"
    assert storage["parameters"]["lockAccount"] == {**storage["parameters"]["lockAccount"], "type": "bool",
                                                     "default": True}


def test_main_passes_the_lock_parameter_on_by_default_and_azd_can_turn_it_off() -> None:
    main = parse(MAIN)
    assert main["parameters"]["lockStorage"]["default"] is True
    (module,) = [m for m in main["modules"].values() if m["detail"]["path"] == "modules/storage.bicep"]
    assert body(module)["params"]["lockAccount"] == "lockStorage"
    assert azd_variable(main_parameters_json()["parameters"]["lockStorage"]["value"]) == ("LOCK_STORAGE", "true")


def test_the_docs_say_how_to_lift_the_lock() -> None:
    operate = (ROOT / "docs" / "operate.md").read_text(encoding="utf-8")
    assert "az lock delete" in operate and "LOCK_STORAGE" in operate
    assert "LOCK_STORAGE" in (ROOT / "docs" / "deploy.md").read_text(encoding="utf-8")
