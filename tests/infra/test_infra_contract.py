"""What the infrastructure promises, asserted on the parsed Bicep: security properties, identities and roles,
the Graph permissions, and no drift between the settings lifecycle/config.py reads and the app settings deployed."""
from __future__ import annotations

import json
import re
from typing import Any

import pytest

from lifecycle.config import SETTING_DEFAULTS, AppRole
from tests.infra.bicep_model import (
    INFRA,
    MAIN,
    ROOT,
    azd_variable,
    bicep_files,
    body,
    condition,
    decorators,
    dotted,
    function_call,
    loop,
    main_parameters_json,
    module_file,
    parse,
    resource,
    resources_of_type,
    text,
)

EXCLUDED_PORTAL_PATHS = ["/api/portal", "/api/portal.js", "/api/portal.css"]
MICROSOFT_GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"
GRAPH_APP_ROLES = ["User.Invite.All", "User.ReadWrite.All", "GroupMember.ReadWrite.All"]
SIGN_IN_ACTIVITY_APP_ROLES = ["AuditLog.Read.All", "User.Read.All"]  # only when INACTIVITY_DAYS > 0
# Built-in Azure role definition ids (identical in every tenant).
ROLE_IDS = {
    "b7e6dc6d-f1e8-4753-8033-0f276bb0955b": "Storage Blob Data Owner",
    "0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3": "Storage Table Data Contributor",
    "974c5e8b-45b9-4653-ba55-5f855dd0fb88": "Storage Queue Data Contributor",
    "3913510d-42f4-4e42-8a64-420c390055eb": "Monitoring Metrics Publisher",
}
# Settings whose value comes from the deployment itself rather than from a parameter.
COMPUTED_SETTINGS = {
    "AZURE_CLIENT_ID": "identity.outputs.clientId",
    "LIFECYCLE_TABLES_ENDPOINT": "storage.outputs.tableEndpoint",
    "LIFECYCLE_QUEUES_ENDPOINT": "storage.outputs.queueEndpoint",
    "LIFECYCLE_HTTP_AUTH": "httpAuth",
}


@pytest.fixture(scope="module")
def main() -> dict[str, Any]:
    return parse(MAIN)


@pytest.fixture(scope="module")
def storage() -> dict[str, Any]:
    return parse(module_file("storage.bicep"))


@pytest.fixture(scope="module")
def function_app() -> dict[str, Any]:
    return parse(module_file("function-app.bicep"))


def _props(doc: dict[str, Any], symbol: str) -> dict[str, Any]:
    return body(resource(doc, symbol))["properties"]


def _module(main: dict[str, Any], path: str) -> tuple[str, dict[str, Any]]:
    found = [(symbol, module) for symbol, module in main["modules"].items() if module["detail"]["path"] == path]
    assert len(found) == 1, f"main.bicep deploys {path} {len(found)} times"
    return found[0]


# --- storage ------------------------------------------------------------------------------------------------------
def test_storage_account_is_keyless_and_private(storage: dict[str, Any]) -> None:
    (symbol,) = resources_of_type(storage, "Microsoft.Storage/storageAccounts")
    props = _props(storage, symbol)
    assert props["allowSharedKeyAccess"] is False
    assert props["defaultToOAuthAuthentication"] is True
    assert props["allowBlobPublicAccess"] is False
    assert props["minimumTlsVersion"] == "TLS1_2"
    assert props["supportsHttpsTrafficOnly"] is True


def test_blob_containers_are_private(storage: dict[str, Any]) -> None:
    containers = resources_of_type(storage, "Microsoft.Storage/storageAccounts/blobServices/containers")
    assert containers
    for symbol in containers:
        assert _props(storage, symbol)["publicAccess"] == "None"


def test_storage_creates_the_app_tables_and_queue(storage: dict[str, Any]) -> None:
    (tables,) = resources_of_type(storage, "Microsoft.Storage/storageAccounts/tableServices/tables").values()
    assert loop(tables)["detail"]["array_name"] == "tableSuffixes"
    assert storage["variables"]["tableSuffixes"]["value"] == ["guests", "audit", "idempotency", "runs"]
    assert re.search(r"name: '\$\{tablePrefix\}\$\{suffix\}'", text(module_file("storage.bicep")))
    (queue,) = resources_of_type(storage, "Microsoft.Storage/storageAccounts/queueServices/queues").values()
    assert body(queue)["name"] == "eventsQueueName"


def test_no_keys_or_connection_strings_anywhere() -> None:
    forbidden = re.compile(
        r"listKeys|listAccountSas|listServiceSas|AccountKey=|SharedAccessSignature|InstrumentationKey=", re.IGNORECASE)
    samples_function_key = "listKeys('${site.id}/host/default', '2023-12-01').functionKeys.samples"
    for path in bicep_files():
        source = text(path)
        if path.name == "samples.bicep":
            source = source.replace(samples_function_key, "")  # the samples' own function key, not a storage key
        assert not forbidden.search(source), f"{path.name} reads or writes a storage/telemetry key"


# --- monitoring ---------------------------------------------------------------------------------------------------
def test_app_insights_is_workspace_based_with_local_auth_disabled() -> None:
    doc = parse(module_file("monitoring.bicep"))
    (workspace,) = resources_of_type(doc, "Microsoft.OperationalInsights/workspaces")
    (insights,) = resources_of_type(doc, "Microsoft.Insights/components")
    props = _props(doc, insights)
    assert props["DisableLocalAuth"] is True
    assert dotted(props["WorkspaceResourceId"]) == f"{workspace}.id"


# --- function app -------------------------------------------------------------------------------------------------
def test_plan_is_flex_consumption_linux(function_app: dict[str, Any]) -> None:
    (plan,) = resources_of_type(function_app, "Microsoft.Web/serverfarms").values()
    assert body(plan)["sku"] == {"tier": "FlexConsumption", "name": "FC1"}
    assert body(plan)["properties"]["reserved"] is True


def test_site_security_and_runtime(function_app: dict[str, Any]) -> None:
    (symbol,) = resources_of_type(function_app, "Microsoft.Web/sites")
    site = body(resource(function_app, symbol))
    assert site["kind"] == "functionapp,linux"
    assert site["identity"]["type"] == "UserAssigned"
    props = site["properties"]
    assert props["httpsOnly"] is True
    assert props["siteConfig"]["minTlsVersion"] == "1.2"
    assert props["siteConfig"]["ftpsState"] == "Disabled"
    config = props["functionAppConfig"]
    assert config["runtime"] == {"name": "python", "version": "3.13"}
    assert config["scaleAndConcurrency"] == {"maximumInstanceCount": "maximumInstanceCount",
                                             "instanceMemoryMB": "instanceMemoryMB"}
    deployment = config["deployment"]["storage"]
    assert deployment["type"] == "blobContainer"
    assert deployment["authentication"] == {"type": "UserAssignedIdentity",
                                            "userAssignedIdentityResourceId": "identityId"}


def test_scale_settings_are_parameters(main: dict[str, Any], function_app: dict[str, Any]) -> None:
    for name in ("maximumInstanceCount", "instanceMemoryMB"):
        assert name in main["parameters"] and name in function_app["parameters"]
    _, module = _module(main, "modules/function-app.bicep")
    params = body(module)["params"]
    assert params["maximumInstanceCount"] == "maximumInstanceCount"
    assert params["instanceMemoryMB"] == "instanceMemoryMB"


def test_basic_publishing_credentials_are_disabled(function_app: dict[str, Any]) -> None:
    policies = resources_of_type(function_app, "Microsoft.Web/sites/basicPublishingCredentialsPolicies")
    assert {body(res)["name"] for res in policies.values()} == {"ftp", "scm"}
    for res in policies.values():
        assert body(res)["properties"]["allow"] is False


def _platform_settings(function_app: dict[str, Any]) -> dict[str, Any]:
    return function_app["variables"]["platformSettings"]["value"]


def test_host_storage_is_an_identity_based_connection(function_app: dict[str, Any]) -> None:
    settings = _platform_settings(function_app)
    assert settings["AzureWebJobsStorage__accountName"] == "storageAccountName"
    assert settings["AzureWebJobsStorage__credential"] == "managedidentity"
    assert settings["AzureWebJobsStorage__clientId"] == "identityClientId"
    assert settings["AzureWebJobsStorage__blobServiceUri"] == "blobEndpoint"
    assert settings["AzureWebJobsStorage__queueServiceUri"] == "queueEndpoint"
    assert settings["AzureWebJobsStorage__tableServiceUri"] == "tableEndpoint"
    assert "AzureWebJobsStorage" not in settings, "a plain AzureWebJobsStorage would be a connection string"
    # Flex Consumption refuses these: the runtime comes from functionAppConfig.runtime.
    assert "FUNCTIONS_WORKER_RUNTIME" not in settings and "FUNCTIONS_EXTENSION_VERSION" not in settings
    assert "Authorization=AAD" in text(module_file("function-app.bicep"))
    assert "APPLICATIONINSIGHTS_AUTHENTICATION_STRING" in settings


def test_app_settings_merge_lifecycle_and_platform_settings(function_app: dict[str, Any]) -> None:
    configs = resources_of_type(function_app, "Microsoft.Web/sites/config")
    (app_settings,) = [body(res) for res in configs.values() if body(res)["name"] == "appsettings"]
    call = function_call(app_settings["properties"])
    assert call is not None and call[0] == "union"
    assert set(call[1].values()) >= {"lifecycleSettings", "platformSettings"}


def test_main_passes_the_identity_and_storage_endpoints(main: dict[str, Any]) -> None:
    _, module = _module(main, "modules/function-app.bicep")
    params = body(module)["params"]
    assert dotted(params["identityId"]) == "identity.outputs.id"
    assert dotted(params["identityClientId"]) == "identity.outputs.clientId"
    assert dotted(params["tableEndpoint"]) == "storage.outputs.tableEndpoint"
    assert dotted(params["queueEndpoint"]) == "storage.outputs.queueEndpoint"
    assert dotted(params["blobEndpoint"]) == "storage.outputs.blobEndpoint"
    assert params["lifecycleSettings"] == "lifecycleSettings"
    # The host reads storage with the identity as soon as it starts: roles come first.
    assert "roles" in body(module).get("dependsOn", [])


# --- role assignments ---------------------------------------------------------------------------------------------
def test_role_assignments_grant_exactly_the_needed_roles() -> None:
    doc = parse(module_file("role-assignments.bicep"))
    roles = doc["variables"]["roles"]["value"]
    assert set(roles.values()) == set(ROLE_IDS), "role definition ids changed"
    assignments = resources_of_type(doc, "Microsoft.Authorization/roleAssignments")
    granted: set[str] = set()
    for res in assignments.values():
        props = body(res)["properties"]
        assert props["principalId"] == "principalId"
        assert props["principalType"] == "ServicePrincipal"
        role_ref = function_call(props["roleDefinitionId"])
        assert role_ref is not None and role_ref[0] == "subscription_resource_id"
        if loop(res):
            array = doc["variables"][loop(res)["detail"]["array_name"]]["value"]
            granted |= {roles[dotted(item).split(".")[1]] for item in array}
            assert body(res)["scope"] == "storage"
        else:
            granted.add(roles[dotted(role_ref[1]["resource_name_1"]).split(".")[1]])
            assert body(res)["scope"] == "appInsights"
    assert granted == set(ROLE_IDS)


def test_role_assignments_target_the_app_identity(main: dict[str, Any]) -> None:
    _, module = _module(main, "modules/role-assignments.bicep")
    assert dotted(body(module)["params"]["principalId"]) == "identity.outputs.principalId"


# --- Microsoft Graph permissions ----------------------------------------------------------------------------------
def test_graph_module_grants_the_three_app_roles_on_microsoft_graph() -> None:
    path = module_file("graph-permissions.bicep")
    doc = parse(path)
    assert "microsoftGraphV1" in doc["extensions"]
    assert doc["variables"]["microsoftGraphAppId"]["value"] == MICROSOFT_GRAPH_APP_ID
    assert doc["variables"]["lifecycleAppRoles"]["value"] == GRAPH_APP_ROLES
    assert doc["variables"]["signInActivityAppRoles"]["value"] == SIGN_IN_ACTIVITY_APP_ROLES
    combined = doc["variables"]["graphAppRoles"]["value"]["function"]
    assert combined["type"] == "concat" and combined["parameters"]["arg_1"] == "lifecycleAppRoles"
    assert combined["parameters"]["arg_2"]["operator"]["operands"] == {
        "condition": "readSignInActivity", "true_value": "signInActivityAppRoles", "false_value": []}
    assert doc["parameters"]["readSignInActivity"]["default"] is False
    (sp_symbol,) = resources_of_type(doc, "Microsoft.Graph/servicePrincipals")
    sp = resource(doc, sp_symbol)
    assert sp["existing"] is True and sp["api_version"] == "v1.0"
    assert body(sp)["appId"] == "microsoftGraphAppId"
    (grants,) = resources_of_type(doc, "Microsoft.Graph/appRoleAssignedTo").values()
    assert grants["api_version"] == "v1.0"
    assert loop(grants)["detail"] == {"item_name": "role", "array_name": "graphAppRoles"}
    grant = body(grants)
    assert grant["principalId"] == "principalId"
    assert dotted(grant["resourceId"]) == f"{sp_symbol}.id"
    # Role ids are looked up by value on the Graph service principal, never hard-coded.
    assert re.search(rf"filter\({sp_symbol}\.appRoles, \w+ => \w+\.value == role", text(path))
    assert not re.search(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
                         text(path).replace(MICROSOFT_GRAPH_APP_ID, "")), "a hard-coded app role id"


def test_graph_extension_is_configured() -> None:
    config = json.loads(text(INFRA / "bicepconfig.json"))
    ref = config["extensions"]["microsoftGraphV1"]
    assert re.fullmatch(r"br:mcr\.microsoft\.com/bicep/extensions/microsoftgraph/v1\.0:\d+\.\d+\.\d+", ref)


def test_graph_module_is_behind_a_parameter(main: dict[str, Any]) -> None:
    _, module = _module(main, "modules/graph-permissions.bicep")
    assert condition(module) == "grantGraphPermissions"
    assert main["parameters"]["grantGraphPermissions"]["type"] == "bool"
    assert dotted(body(module)["params"]["principalId"]) == "identity.outputs.principalId"


def test_sign_in_activity_permissions_follow_the_inactivity_setting(main: dict[str, Any]) -> None:
    _, module = _module(main, "modules/graph-permissions.bicep")
    assert body(module)["params"]["readSignInActivity"]["operator"] == {
        "type": "greater_than", "operands": {"operand_1": "inactivityDays", "operand_2": 0}}
    assert main["parameters"]["inactivityDays"]["default"] == 0


# --- optional Entra authentication --------------------------------------------------------------------------------
def test_entra_auth_is_optional_and_requires_a_token(main: dict[str, Any]) -> None:
    _, module = _module(main, "modules/entra-auth.bicep")
    assert condition(module) == "enableEntraAuth"
    assert main["parameters"]["enableEntraAuth"]["default"] is False
    doc = parse(module_file("entra-auth.bicep"))
    (auth,) = resources_of_type(doc, "Microsoft.Web/sites/config").values()
    auth_body = body(auth)
    assert auth_body["name"] == "authsettingsV2"
    props = auth_body["properties"]
    assert props["platform"]["enabled"] is True
    assert props["globalValidation"]["requireAuthentication"] is True
    assert props["globalValidation"]["unauthenticatedClientAction"] == "Return401"
    assert props["globalValidation"]["excludedPaths"] == ["/api/health", *EXCLUDED_PORTAL_PATHS]
    aad = props["identityProviders"]["azureActiveDirectory"]
    assert aad["enabled"] is True
    assert aad["registration"]["clientId"] == "clientId"
    policy = function_call(aad["validation"]["defaultAuthorizationPolicy"])
    assert policy is not None and policy[0] == "union"
    variables = doc["variables"]
    assert "allowedClientApplications" in json.dumps(variables["clientRequirement"])
    assert "allowedApplications" in json.dumps(variables["clientRequirement"])
    assert "allowedPrincipals" in json.dumps(variables["principalRequirement"])
    assert "allowedPrincipalIds" in json.dumps(variables["principalRequirement"])


def test_entra_auth_is_closed_by_default_an_app_role_assignment_is_required(main: dict[str, Any]) -> None:
    """Any principal of the tenant can get a token for an app registration unless assignment is required: with
    Entra authentication on, the deployment requires it (unless sponsors are to sign in) and assigns the roles."""
    _, module = _module(main, "modules/entra-api-access.bicep")
    assert condition(module)["operator"] == {
        "type": "and", "operands": {"operand_1": "enableEntraAuth", "operand_2": "entraAuthManageAccess"}}
    assert main["parameters"]["entraAuthManageAccess"]["default"] is True
    assert main["parameters"]["entraAuthSponsorSignIn"]["default"] is False
    params = body(module)["params"]
    assert params["clientId"] == "entraAuthClientId" and params["sponsorSignIn"] == "entraAuthSponsorSignIn"
    assert function_call(params["appRole"])[0] == "first" and "entraAuthRequiredRoles" in json.dumps(params["appRole"])
    assert "entraAuthAllowedPrincipalIds" in json.dumps(params["principalIds"])
    assert params["managePrincipalIds"] == "entraManagePrincipals"
    assert "entraAuthManagePrincipalIds" in json.dumps(main["variables"]["entraManagePrincipals"])
    assert "/.auth/login/aad/callback" in json.dumps(params["signInRedirectUri"])
    doc = parse(module_file("entra-api-access.bicep"))
    assert "microsoftGraphV1" in doc["extensions"]
    (sp_symbol,) = resources_of_type(doc, "Microsoft.Graph/servicePrincipals")
    sp = resource(doc, sp_symbol)
    assert sp["existing"] is False and body(sp)["appId"] == "apiClientId"
    assert body(sp)["appRoleAssignmentRequired"] == {"operator": {"type": "not",
                                                                  "operands": {"bool_value": "sponsorSignIn"}}}
    grants = resources_of_type(doc, "Microsoft.Graph/appRoleAssignedTo")
    assert {symbol: loop(grant)["detail"] for symbol, grant in grants.items()} == {
        "callers": {"item_name": "principalId", "array_name": "principalIds"},
        "flows": {"item_name": "principalId", "array_name": "managePrincipalIds"}}
    for grant in grants.values():
        assert body(grant)["principalId"] == "principalId" and dotted(body(grant)["resourceId"]) == f"{sp_symbol}.id"
    path = module_file("entra-api-access.bicep")
    assert re.search(rf"filter\({sp_symbol}\.appRoles, \w+ => \w+\.value == appRole\)", text(path))
    assert re.search(rf"filter\({sp_symbol}\.appRoles, \w+ => \w+\.value == 'Guests.Manage'\)", text(path))


def test_the_apis_app_registration_defines_the_three_app_roles_with_ids_that_never_change(main):
    """docs/roles.md, "The app roles": Guests.Read, Guests.Manage, Guests.Admin, for users and applications alike; the
    registration is declared (by uniqueName) unless entraAuthClientId names one made elsewhere."""
    doc = parse(module_file("entra-api-access.bicep"))
    ((symbol, application),) = resources_of_type(doc, "Microsoft.Graph/applications").items()
    assert function_call(condition(application)) == ("empty", {"item_to_test": "clientId"})
    config = body(application)
    assert config["uniqueName"] == "appUniqueName" and config["appRoles"] == "appRoles"
    assert config["api"] == {"requestedAccessTokenVersion": 2}
    assert config["web"]["redirectUris"] == ["signInRedirectUri"]
    assert config["web"]["implicitGrantSettings"] == {"enableIdTokenIssuance": True}
    roles = doc["variables"]["appRoles"]["value"]
    assert [role["value"] for role in roles] == [role.value for role in AppRole]
    assert all(role["allowedMemberTypes"] == ["User", "Application"] and role["isEnabled"] is True for role in roles)
    assert [role["id"] for role in roles] == [
        "3dce614f-8eb6-552e-b4fa-5891cb13e4a9", "fd2ef18c-1521-5001-a082-af6bf82649c2",
        "c5ecffd4-87be-534b-b4c0-cb64bf8349a7"]
    assert decorators(doc["parameters"]["appRole"])["allowed"] == [role.value for role in AppRole]
    _, auth = _module(main, "modules/entra-auth.bicep")
    client = json.dumps(body(auth)["params"]["clientId"])
    assert "entraAuthClientId" in client and "entraAccess" in client and "clientId" in client


def test_the_platform_lets_through_without_a_session_exactly_what_the_app_and_the_devserver_say():
    from devserver.easy_auth import EXCLUDED_PATHS
    from lifecycle.http.portal import PAGES

    props = body(next(iter(resources_of_type(parse(module_file("entra-auth.bicep")),
                                             "Microsoft.Web/sites/config").values())))["properties"]
    assert props["globalValidation"]["excludedPaths"] == ["/api/health", *(f"/api/{page}" for page in PAGES)]
    assert list(EXCLUDED_PATHS) == props["globalValidation"]["excludedPaths"]


def test_the_app_is_told_who_may_call_with_the_same_lists_the_platform_enforces(main: dict[str, Any]) -> None:
    deployed = main["variables"]["lifecycleSettings"]["value"]
    assert deployed["LIFECYCLE_HTTP_ROLES"] == "entraAuthRequiredRoles"
    assert deployed["LIFECYCLE_HTTP_ALLOWED_CLIENTS"] == "entraAuthAllowedClientApplications"
    assert deployed["LIFECYCLE_HTTP_ALLOWED_PRINCIPALS"] == "entraAuthAllowedPrincipalIds"
    _, auth = _module(main, "modules/entra-auth.bicep")
    passed = json.dumps(body(auth)["params"])
    assert "entraAuthAllowedClientApplications" in passed and "entraAuthAllowedPrincipalIds" in passed
    assert main["parameters"]["entraAuthRequiredRoles"]["default"] == SETTING_DEFAULTS["LIFECYCLE_HTTP_ROLES"] != ""


# --- samples ------------------------------------------------------------------------------------------------------
def test_samples_are_off_by_default(main: dict[str, Any]) -> None:
    _, module = _module(main, "modules/samples.bicep")
    assert condition(module) == "deploySamples"
    assert main["parameters"]["deploySamples"]["default"] is False


# --- settings drift between lifecycle/config.py and the app settings ------------------------------------------------
def _setting_default(main: dict[str, Any], expr: Any) -> str:
    """The default value an app-setting expression of main.bicep evaluates to (parameters at their defaults)."""
    params = main["parameters"]
    if isinstance(expr, str) and expr in params:
        default = params[expr]["default"]
        assert isinstance(default, str), f"parameter {expr} should be a string"
        return default
    call = function_call(expr)
    if call and call[0] == "string":
        (name,) = call[1].values()
        default = params[name]["default"]
        assert isinstance(default, int) and not isinstance(default, bool), f"string({name}) expects an int parameter"
        return str(default)
    if isinstance(expr, dict) and expr.get("operator", {}).get("type") == "conditional":
        operands = expr["operator"]["operands"]
        assert (operands["true_value"], operands["false_value"]) == ("true", "false")
        default = params[operands["condition"]]["default"]
        assert isinstance(default, bool)
        return "true" if default else "false"
    raise AssertionError(f"unexpected app setting expression {expr!r}")


def test_every_setting_of_the_app_is_deployed(main: dict[str, Any]) -> None:
    deployed = main["variables"]["lifecycleSettings"]["value"]
    missing = sorted(set(SETTING_DEFAULTS) - set(deployed))
    assert not missing, f"settings lifecycle/config.py reads but infra/main.bicep does not set: {missing}"


@pytest.mark.parametrize("name", sorted(SETTING_DEFAULTS))
def test_setting_defaults_match_the_code(main: dict[str, Any], name: str) -> None:
    expr = main["variables"]["lifecycleSettings"]["value"][name]
    if name in COMPUTED_SETTINGS:
        assert dotted(expr) == COMPUTED_SETTINGS[name]
    elif name == "LIFECYCLE_TABLES_CONNECTION_STRING":
        assert expr == "", "no connection string (and so no key) is ever deployed"
    elif name == "GRAPH_AUTH":
        assert expr == "managed-identity", "a deployment always asks the managed identity for Graph tokens"
    else:
        assert _setting_default(main, expr) == SETTING_DEFAULTS[name]


def test_queue_endpoint_is_deployed(main: dict[str, Any]) -> None:
    deployed = main["variables"]["lifecycleSettings"]["value"]
    assert dotted(deployed["LIFECYCLE_QUEUES_ENDPOINT"]) == COMPUTED_SETTINGS["LIFECYCLE_QUEUES_ENDPOINT"]


def test_storage_names_follow_the_settings(main: dict[str, Any]) -> None:
    _, module = _module(main, "modules/storage.bicep")
    params = body(module)["params"]
    assert params["tablePrefix"] == "tablePrefix"
    assert params["eventsQueueName"] == "eventsQueueName"
    deployed = main["variables"]["lifecycleSettings"]["value"]
    assert deployed["LIFECYCLE_TABLE_PREFIX"] == "tablePrefix"
    assert deployed["LIFECYCLE_EVENTS_QUEUE"] == "eventsQueueName"


# --- main.parameters.json and azure.yaml --------------------------------------------------------------------------
def test_parameters_file_names_only_existing_parameters(main: dict[str, Any]) -> None:
    names = set(main_parameters_json()["parameters"])
    unknown = names - set(main["parameters"])
    assert not unknown, f"main.parameters.json names parameters main.bicep does not declare: {sorted(unknown)}"
    required = {name for name, param in main["parameters"].items() if param.get("default") is None}
    assert required <= names, f"azd would prompt for: {sorted(required - names)}"


def test_parameters_file_uses_azd_variables_with_the_code_defaults(main: dict[str, Any]) -> None:
    deployed = main["variables"]["lifecycleSettings"]["value"]
    setting_of_param = {expr: setting for setting, expr in deployed.items() if isinstance(expr, str) and expr}
    for name, entry in main_parameters_json()["parameters"].items():
        variable = azd_variable(entry["value"])
        assert variable is not None, f"{name}: expected an azd ${{VARIABLE}} reference, got {entry['value']!r}"
        setting = setting_of_param.get(name)
        if setting is not None and setting in SETTING_DEFAULTS:
            assert variable[1] == SETTING_DEFAULTS[setting], f"{name}: azd default differs from lifecycle/config.py"
        elif variable[1] is not None and name in main["parameters"]:
            default = main["parameters"][name]["default"]
            if isinstance(default, bool):
                default = "true" if default else "false"
            assert variable[1] == str(default), f"{name}: azd default differs from main.bicep"


def test_azure_yaml_deploys_the_function_app() -> None:
    azure_yaml = text(ROOT / "azure.yaml")
    assert re.search(r"^infra:\n(?:  .*\n)*?  path: infra$", azure_yaml, re.MULTILINE)
    service = re.search(r"^services:\n  (?P<name>[\w-]+):\n(?P<body>(?:    .*\n)+)", azure_yaml, re.MULTILINE)
    assert service is not None
    assert "    host: function\n" in service["body"]
    assert "    language: python\n" in service["body"]
    assert "    project: .\n" in service["body"]
    _, module = _module(parse(MAIN), "modules/function-app.bicep")
    assert body(module)["params"]["azdServiceName"] == service["name"]


def test_entra_authentication_replaces_function_keys_only_when_it_is_on() -> None:
    text = MAIN.read_text()
    assert "var httpAuth = enableEntraAuth ? 'entra' : 'function'" in text
    assert SETTING_DEFAULTS["LIFECYCLE_HTTP_AUTH"] == "function"
