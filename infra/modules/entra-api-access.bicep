// Who may get a token for the API, and which app role each caller holds, when Microsoft Entra authentication is on.
// The app requires one app role per route (lifecycle/http/roles.py; docs/roles.md): Guests.Read, Guests.Manage or
// Guests.Admin (Admin holds Manage, Manage holds Read); a signed-in user without a role is a sponsor, served the
// guests they sponsor only.
//
// This module
//   - declares the API's app registration with those three app roles, sign-in for the sponsor page
//     (https://<app>/.auth/login/aad/callback, ID tokens) and v2.0 access tokens, unless `clientId` names a
//     registration made elsewhere (then an administrator defines the roles on it: docs/roles.md);
//   - requires an app role assignment on its service principal (appRoleAssignmentRequired: Entra then issues tokens
//     only to assigned users and applications), unless `sponsorSignIn` opens sign-in to every user of the tenant so
//     that sponsors, who hold no role, reach the sponsor page (the app still refuses them everything but their own
//     guests, and refuses an application without a role);
//   - assigns `appRole` to each of `principalIds` and Guests.Manage to each of `managePrincipalIds`, e.g. the managed
//     identity of a Logic App that invites guests.
// Deployed only when enableEntraAuth and entraAuthManageAccess are true: the deployer needs Application
// Administrator or Cloud Application Administrator, or to own the API's app registration. docs/deploy.md (Optional:
// Microsoft Entra authentication) gives the same steps as Azure CLI commands for an administrator to run instead.

extension microsoftGraphV1

@description('Client id (appId) of an app registration made elsewhere that represents the API; it must define the app roles (docs/roles.md). Empty: this module declares the registration (appUniqueName).')
param clientId string = ''

@description('uniqueName of the API\'s app registration (the key Bicep finds it by). To bring a registration made elsewhere under this deployment, give it this uniqueName once (docs/roles.md) and leave clientId empty.')
@minLength(1)
param appUniqueName string

@description('Display name of the API\'s app registration when this module declares it.')
param appDisplayName string = 'Guest Lifecycle API'

@description('Where Microsoft Entra sends a browser back after sign-in: https://<function app host>/.auth/login/aad/callback.')
param signInRedirectUri string

@description('Value of the app role assigned to each principal in principalIds.')
@allowed([
  'Guests.Read'
  'Guests.Manage'
  'Guests.Admin'
])
param appRole string = 'Guests.Admin'

@description('Object ids of the service principals (e.g. managed identities) that receive appRole.')
param principalIds array = []

@description('Object ids of the service principals that receive Guests.Manage: what flows need (invite, groups, disable, enable, extend, re-invite), e.g. a Logic App\'s managed identity.')
param managePrincipalIds array = []

@description('Let every user of the tenant sign in (no app role assignment required), so that sponsors reach the sponsor page. false: only assigned users and applications get a token.')
param sponsorSignIn bool = false

// The app roles of docs/roles.md, "The app roles". Their ids never change: assignments made with them survive redeploys.
var appRoles = [
  {
    id: '3dce614f-8eb6-552e-b4fa-5891cb13e4a9'
    value: 'Guests.Read'
    displayName: 'Read guests'
    description: 'Read and list guests, their history, the next sweep\'s plan and past sweeps.'
    allowedMemberTypes: [
      'User'
      'Application'
    ]
    isEnabled: true
  }
  {
    id: 'fd2ef18c-1521-5001-a082-af6bf82649c2'
    value: 'Guests.Manage'
    displayName: 'Manage guests'
    description: 'Guests.Read, and invite guests, change their managed groups, disable, enable, extend and re-invite them.'
    allowedMemberTypes: [
      'User'
      'Application'
    ]
    isEnabled: true
  }
  {
    id: 'c5ecffd4-87be-534b-b4c0-cb64bf8349a7'
    value: 'Guests.Admin'
    displayName: 'Administer guests'
    description: 'Everything: Guests.Manage, and delete, restore and adopt guests, and approve an expiry plan.'
    allowedMemberTypes: [
      'User'
      'Application'
    ]
    isEnabled: true
  }
]

resource apiApplication 'Microsoft.Graph/applications@v1.0' = if (empty(clientId)) {
  uniqueName: appUniqueName
  displayName: appDisplayName
  signInAudience: 'AzureADMyOrg'
  appRoles: appRoles
  api: {
    requestedAccessTokenVersion: 2
  }
  web: {
    redirectUris: [
      signInRedirectUri
    ]
    implicitGrantSettings: {
      enableIdTokenIssuance: true
    }
  }
}

var apiClientId = empty(clientId) ? apiApplication.appId : clientId

// The API's service principal, keyed by its appId: created if missing, else updated (only the properties given).
resource apiServicePrincipal 'Microsoft.Graph/servicePrincipals@v1.0' = {
  appId: apiClientId
  appRoleAssignmentRequired: !sponsorSignIn
}

// Role ids are looked up by value on the service principal, never hard-coded.
resource callers 'Microsoft.Graph/appRoleAssignedTo@v1.0' = [for principalId in principalIds: {
  principalId: principalId
  resourceId: apiServicePrincipal.id
  appRoleId: filter(apiServicePrincipal.appRoles, role => role.value == appRole)[0].id
}]

// A Logic App's managed identity (say) granted what flows need.
resource flows 'Microsoft.Graph/appRoleAssignedTo@v1.0' = [for principalId in managePrincipalIds: {
  principalId: principalId
  resourceId: apiServicePrincipal.id
  appRoleId: filter(apiServicePrincipal.appRoles, role => role.value == 'Guests.Manage')[0].id
}]

@description('Client id (appId) of the API\'s app registration: the token audience App Service authentication checks.')
output clientId string = apiClientId

@description('Object id of the API\'s service principal.')
output servicePrincipalId string = apiServicePrincipal.id

@description('Whether an app role assignment is required to get a token for the API.')
output assignmentRequired bool = !sponsorSignIn

@description('Principals that were assigned appRole.')
output assignedPrincipalIds array = [for (principalId, i) in principalIds: callers[i].principalId]

@description('Principals that were assigned Guests.Manage.')
output managePrincipalIds array = [for (principalId, i) in managePrincipalIds: flows[i].principalId]
