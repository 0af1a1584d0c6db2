"""CKV_GL_2: a storage account allows no anonymous (public) blob access.

Checkov has no Bicep check for allowBlobPublicAccess on the account (CKV_AZURE_34 looks at containers only).
The property must be present and literally false.
"""
from __future__ import annotations

from typing import Any

# checkov puts this folder on sys.path while it loads the checks.
from _base import is_literal, lookup  # type: ignore[import-not-found]
from checkov.bicep.checks.resource.base_resource_check import BaseResourceCheck
from checkov.common.models.enums import CheckCategories, CheckResult


class StorageBlobPublicAccessDisabled(BaseResourceCheck):
    def __init__(self) -> None:
        super().__init__(
            name="Ensure storage accounts disallow anonymous blob access (allowBlobPublicAccess = false)",
            id="CKV_GL_2",
            categories=(CheckCategories.GENERAL_SECURITY,),
            supported_resources=("Microsoft.Storage/storageAccounts",),
        )

    def scan_resource_conf(self, conf: dict[str, Any]) -> CheckResult:
        self.evaluated_keys = ["properties/allowBlobPublicAccess"]
        value = lookup(conf, "properties/allowBlobPublicAccess")
        return CheckResult.PASSED if is_literal(value, False) else CheckResult.FAILED


check = StorageBlobPublicAccessDisabled()
