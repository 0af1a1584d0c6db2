// Microsoft Graph application permissions (app role assignments) for the function app's managed identity.
// Deployed only when grantGraphPermissions is true: the deployer needs an Entra role that may grant Microsoft Graph
// app roles (Privileged Role Administrator or Global Administrator). docs/deploy.md gives the same grant as
// Azure CLI commands for an administrator to run instead.

extension microsoftGraphV1

@description('Object id of the managed identity\'s service principal that receives the app roles.')
param principalId string

@description('Also grant what reading signInActivity needs (AuditLog.Read.All, User.Read.All): only when inactivity is enforced.')
param readSignInActivity bool = false

// Microsoft Graph's service principal: its appId is the same in every tenant.
var microsoftGraphAppId = '00000003-0000-0000-c000-000000000000'

// Application permissions the app needs, by value: invite guests, read/update/disable/delete/restore users,
// add and remove group members. Role ids are looked up on the Graph service principal, never hard-coded.
var lifecycleAppRoles = [
  'User.Invite.All'
  'User.ReadWrite.All'
  'GroupMember.ReadWrite.All'
]

// Reading signInActivity (the inactivity rule): Graph requires both, besides Entra ID P1.
var signInActivityAppRoles = [
  'AuditLog.Read.All'
  'User.Read.All'
]

var graphAppRoles = concat(lifecycleAppRoles, readSignInActivity ? signInActivityAppRoles : [])

resource microsoftGraph 'Microsoft.Graph/servicePrincipals@v1.0' existing = {
  appId: microsoftGraphAppId
}

resource grants 'Microsoft.Graph/appRoleAssignedTo@v1.0' = [for role in graphAppRoles: {
  principalId: principalId
  resourceId: microsoftGraph.id
  appRoleId: filter(microsoftGraph.appRoles, appRole => appRole.value == role && contains(appRole.allowedMemberTypes, 'Application'))[0].id
}]

@description('Application permissions granted to the identity.')
output grantedAppRoles array = [for (role, i) in graphAppRoles: {
  value: role
  appRoleId: grants[i].appRoleId
}]
