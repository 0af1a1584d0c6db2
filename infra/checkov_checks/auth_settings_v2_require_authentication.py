"""CKV_GL_5: App Service authentication v2 (authsettingsV2) is on, requires authentication and answers 401/403.

Stands in for CKV_AZURE_13, which reads the v1 schema (properties.enabled) and so fails every authsettingsV2.
Other site config resources (appsettings, ...) are out of scope and reported UNKNOWN.
"""
from __future__ import annotations

from typing import Any

# checkov puts this folder on sys.path while it loads the checks.
from _base import is_literal, lookup  # type: ignore[import-not-found]
from checkov.bicep.checks.resource.base_resource_check import BaseResourceCheck
from checkov.common.models.enums import CheckCategories, CheckResult


class AuthSettingsV2RequireAuthentication(BaseResourceCheck):
    def __init__(self) -> None:
        super().__init__(
            name="Ensure App Service authentication v2 requires authentication and rejects anonymous calls",
            id="CKV_GL_5",
            categories=(CheckCategories.IAM,),
            supported_resources=("Microsoft.Web/sites/config",),
        )

    def scan_resource_conf(self, conf: dict[str, Any]) -> CheckResult:
        name = conf.get("name")
        if not isinstance(name, str) or not name.lower().endswith("authsettingsv2"):
            return CheckResult.UNKNOWN
        self.evaluated_keys = [
            "properties/platform/enabled",
            "properties/globalValidation/requireAuthentication",
            "properties/globalValidation/unauthenticatedClientAction",
        ]
        enabled = is_literal(lookup(conf, "properties/platform/enabled"), True)
        required = is_literal(lookup(conf, "properties/globalValidation/requireAuthentication"), True)
        action = lookup(conf, "properties/globalValidation/unauthenticatedClientAction")
        rejects = isinstance(action, str) and action.lower() in ("return401", "return403")
        return CheckResult.PASSED if enabled and required and rejects else CheckResult.FAILED


check = AuthSettingsV2RequireAuthentication()
