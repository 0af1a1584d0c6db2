"""CKV_GL_1: a storage account refuses shared-key (account key and SAS) authorization.

Checkov has no Bicep check for allowSharedKeyAccess. Azure's default is true, so the property must be present
and literally false: every client of this app (host, deployment, tables, queue) uses Microsoft Entra ID.
"""
from __future__ import annotations

from typing import Any

# checkov puts this folder on sys.path while it loads the checks.
from _base import is_literal, lookup  # type: ignore[import-not-found]
from checkov.bicep.checks.resource.base_resource_check import BaseResourceCheck
from checkov.common.models.enums import CheckCategories, CheckResult


class StorageSharedKeyAccessDisabled(BaseResourceCheck):
    def __init__(self) -> None:
        super().__init__(
            name="Ensure storage accounts disallow shared key authorization (allowSharedKeyAccess = false)",
            id="CKV_GL_1",
            categories=(CheckCategories.IAM,),
            supported_resources=("Microsoft.Storage/storageAccounts",),
        )

    def scan_resource_conf(self, conf: dict[str, Any]) -> CheckResult:
        self.evaluated_keys = ["properties/allowSharedKeyAccess"]
        value = lookup(conf, "properties/allowSharedKeyAccess")
        return CheckResult.PASSED if is_literal(value, False) else CheckResult.FAILED


check = StorageSharedKeyAccessDisabled()
