"""CKV_GL_4: a site's basic publishing credentials policy (ftp or scm) forbids user name/password publishing."""
from __future__ import annotations

from typing import Any

# checkov puts this folder on sys.path while it loads the checks.
from _base import is_literal, lookup  # type: ignore[import-not-found]
from checkov.bicep.checks.resource.base_resource_check import BaseResourceCheck
from checkov.common.models.enums import CheckCategories, CheckResult


class BasicPublishingCredentialsDisabled(BaseResourceCheck):
    def __init__(self) -> None:
        super().__init__(
            name="Ensure basic publishing credentials (FTP and SCM) are disabled",
            id="CKV_GL_4",
            categories=(CheckCategories.IAM,),
            supported_resources=("Microsoft.Web/sites/basicPublishingCredentialsPolicies",),
        )

    def scan_resource_conf(self, conf: dict[str, Any]) -> CheckResult:
        self.evaluated_keys = ["properties/allow"]
        value = lookup(conf, "properties/allow")
        return CheckResult.PASSED if is_literal(value, False) else CheckResult.FAILED


check = BasicPublishingCredentialsDisabled()
