"""CKV_GL_3: Application Insights accepts telemetry only from Microsoft Entra identities (DisableLocalAuth = true)."""
from __future__ import annotations

from typing import Any

# checkov puts this folder on sys.path while it loads the checks.
from _base import is_literal, lookup  # type: ignore[import-not-found]
from checkov.bicep.checks.resource.base_resource_check import BaseResourceCheck
from checkov.common.models.enums import CheckCategories, CheckResult


class AppInsightsLocalAuthDisabled(BaseResourceCheck):
    def __init__(self) -> None:
        super().__init__(
            name="Ensure Application Insights disables local (instrumentation key) authentication",
            id="CKV_GL_3",
            categories=(CheckCategories.IAM,),
            supported_resources=("Microsoft.Insights/components",),
        )

    def scan_resource_conf(self, conf: dict[str, Any]) -> CheckResult:
        self.evaluated_keys = ["properties/DisableLocalAuth"]
        value = lookup(conf, "properties/DisableLocalAuth")
        return CheckResult.PASSED if is_literal(value, True) else CheckResult.FAILED


check = AppInsightsLocalAuthDisabled()
