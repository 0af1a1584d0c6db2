"""CKV_GL_6: a Flex Consumption app reaches its deployment package container with a managed identity.

functionAppConfig.deployment.storage.authentication.type must be UserAssignedIdentity or SystemAssignedIdentity,
never StorageAccountConnectionString. Sites without functionAppConfig (other plans) are reported UNKNOWN.
"""
from __future__ import annotations

from typing import Any

# checkov puts this folder on sys.path while it loads the checks.
from _base import lookup  # type: ignore[import-not-found]
from checkov.bicep.checks.resource.base_resource_check import BaseResourceCheck
from checkov.common.models.enums import CheckCategories, CheckResult


class FlexDeploymentStorageUsesIdentity(BaseResourceCheck):
    def __init__(self) -> None:
        super().__init__(
            name="Ensure a Flex Consumption app reads its deployment package with a managed identity",
            id="CKV_GL_6",
            categories=(CheckCategories.IAM,),
            supported_resources=("Microsoft.Web/sites",),
        )

    def scan_resource_conf(self, conf: dict[str, Any]) -> CheckResult:
        if lookup(conf, "properties/functionAppConfig") is None:
            return CheckResult.UNKNOWN
        self.evaluated_keys = ["properties/functionAppConfig/deployment/storage/authentication/type"]
        kind = lookup(conf, "properties/functionAppConfig/deployment/storage/authentication/type")
        if isinstance(kind, str) and kind.lower() in ("userassignedidentity", "systemassignedidentity"):
            return CheckResult.PASSED
        return CheckResult.FAILED


check = FlexDeploymentStorageUsesIdentity()
