// Who may get a token for the API at all, when Microsoft Entra authentication is on. Without this any principal of
// the tenant can obtain a token for the API's app registration, and App Service authentication (with empty allow
// lists) lets it in. This module requires an app role assignment on the API's service principal
// (appRoleAssignmentRequired: Entra then issues tokens only to assigned users and applications) and assigns the app
// role the app itself requires (LIFECYCLE_HTTP_ROLES) to each allowed principal, e.g. a Logic App's managed identity.
// Deployed only when enableEntraAuth and entraAuthManageAccess are true: the deployer needs Application
// Administrator or Cloud Application Administrator, or to own the API's app registration. The README (Optional:
// Microsoft Entra authentication) gives the same steps as Azure CLI commands for an administrator to run instead.

extension microsoftGraphV1

@description('Client id (appId) of the API\'s app registration; it must define the app role `appRole`.')
@minLength(36)
param clientId string

@description('Value of the app role (defined on the API\'s app registration) assigned to each principal in principalIds.')
@minLength(1)
param appRole string

@description('Object ids of the service principals (e.g. managed identities) that receive the app role.')
param principalIds array = []

// The API's service principal, keyed by its appId: created if missing, else updated (only the properties given).
resource apiServicePrincipal 'Microsoft.Graph/servicePrincipals@v1.0' = {
  appId: clientId
  appRoleAssignmentRequired: true
}

// Role ids are looked up by value on the service principal, never hard-coded.
resource callers 'Microsoft.Graph/appRoleAssignedTo@v1.0' = [for principalId in principalIds: {
  principalId: principalId
  resourceId: apiServicePrincipal.id
  appRoleId: filter(apiServicePrincipal.appRoles, role => role.value == appRole)[0].id
}]

@description('Object id of the API\'s service principal (assignment required).')
output servicePrincipalId string = apiServicePrincipal.id

@description('Principals that were assigned the app role.')
output assignedPrincipalIds array = [for (principalId, i) in principalIds: callers[i].principalId]
