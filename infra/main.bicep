// Guest Lifecycle: everything the function app needs in one resource group.
//   azd up                                   (azure.yaml; parameters from main.parameters.json)
//   az deployment group create -g <rg> -f infra/main.bicep -p environmentName=<name>
// See docs/deploy.md.

targetScope = 'resourceGroup'

// ---------------------------------------------------------------------------------------------------------------
// Deployment
// ---------------------------------------------------------------------------------------------------------------

@description('Name of the environment (azd environment name); seeds the unique suffix of every resource name.')
@minLength(1)
@maxLength(64)
param environmentName string

@description('Azure region of every resource. It must offer the Flex Consumption plan (az functionapp list-flexconsumption-locations).')
@minLength(1)
param location string = resourceGroup().location

@description('Name of the function app. Empty: func-<unique suffix>.')
param functionAppName string = ''

@description('Name of the storage account. Empty: st<unique suffix>.')
param storageAccountName string = ''

@description('Replication of the storage account. Geo-redundant by default: the tables hold the guests\' records and the audit trail.')
@allowed([
  'Standard_LRS'
  'Standard_ZRS'
  'Standard_GRS'
  'Standard_GZRS'
  'Standard_RAGRS'
  'Standard_RAGZRS'
])
param storageSkuName string = 'Standard_GRS'

@description('Put a CanNotDelete lock on the storage account, so that neither it nor this resource group (azd down) can be deleted by accident. Needs a deployer with Microsoft.Authorization/locks/write (Owner or User Access Administrator); false: no lock is created (an existing one stays until `az lock delete`). See docs/operate.md, "Deleting a deployment".')
param lockStorage bool = true

@description('Upper bound of instances the app scales out to (values under 40 are accepted only in some regions).')
@minValue(1)
@maxValue(1000)
param maximumInstanceCount int = 40

@description('Memory of each instance, in MB.')
@allowed([
  512
  2048
  4096
])
param instanceMemoryMB int = 2048

@description('Days Log Analytics keeps logs.')
@minValue(30)
@maxValue(730)
param logRetentionInDays int = 30

@description('Grant the Microsoft Graph application permissions (User.Invite.All, User.ReadWrite.All, GroupMember.ReadWrite.All) to the app\'s identity from this deployment. Needs a deployer with Privileged Role Administrator or Global Administrator; false: an administrator grants them afterwards (docs/deploy.md).')
param grantGraphPermissions bool = true

@description('Deploy the optional samples (infra/modules/samples.bicep).')
param deploySamples bool = false

// ---------------------------------------------------------------------------------------------------------------
// Optional Microsoft Entra authentication in front of the functions (App Service authentication v2)
// ---------------------------------------------------------------------------------------------------------------

@description('Require a Microsoft Entra token on every call except /api/health (App Service authentication).')
param enableEntraAuth bool = false

@description('Client id of an app registration made elsewhere that represents the API (token audience); it must define the app roles Guests.Read, Guests.Manage and Guests.Admin (docs/roles.md). Empty: with entraAuthManageAccess this deployment declares the registration with those roles (entraAuthAppUniqueName); required when entraAuthManageAccess is false.')
param entraAuthClientId string = ''

@description('uniqueName of the API\'s app registration that this deployment declares (when entraAuthClientId is empty). Empty: guest-lifecycle-api-<unique suffix>. To bring a registration made elsewhere under the deployment, give it this uniqueName once (docs/roles.md).')
param entraAuthAppUniqueName string = ''

@description('Comma-separated object ids of service principals (e.g. a Logic App\'s managed identity) assigned the app role Guests.Manage: what flows need (invite, groups, disable, enable, extend, re-invite).')
param entraAuthManagePrincipalIds string = ''

@description('Let every user of the tenant sign in to the API (no app role assignment required), so that sponsors, who hold no app role, reach the sponsor page /api/portal; the app serves them only the guests they sponsor. false: only users and applications assigned an app role get a token.')
param entraAuthSponsorSignIn bool = false

@description('Comma-separated audiences accepted in tokens. Empty: api://<client id> and <client id>.')
param entraAuthAllowedAudiences string = ''

@description('Comma-separated client application ids allowed to call (appid/azp claim), e.g. a Logic App managed identity\'s client id.')
param entraAuthAllowedClientApplications string = ''

@description('Comma-separated object ids allowed to call (oid claim), e.g. a Logic App managed identity\'s principal id.')
param entraAuthAllowedPrincipalIds string = ''

@description('Token issuer URL. Empty: <login endpoint>/<tenant id>/v2.0.')
param entraAuthOpenIdIssuer string = ''

@description('LIFECYCLE_HTTP_ROLES: comma-separated app roles (Guests.Read, Guests.Manage, Guests.Admin) that a caller listed in entraAuthAllowedClientApplications or entraAuthAllowedPrincipalIds holds in the app, besides its token\'s roles. The first is also the role assigned to entraAuthAllowedPrincipalIds.')
@minLength(1)
param entraAuthRequiredRoles string = 'Guests.Admin'

@description('With enableEntraAuth: require an app role assignment on the API\'s service principal (appRoleAssignmentRequired, so only assigned principals get a token) and assign the first of entraAuthRequiredRoles to each of entraAuthAllowedPrincipalIds, from this deployment (Microsoft Graph Bicep extension; needs Application Administrator, Cloud Application Administrator or ownership of the app registration). false: an administrator does it (docs/deploy.md).')
param entraAuthManageAccess bool = true

// ---------------------------------------------------------------------------------------------------------------
// App settings read by lifecycle/config.py (same names and defaults; docs/settings.md says what each means)
// ---------------------------------------------------------------------------------------------------------------

@description('GRAPH_BASE_URL: Microsoft Graph root, no trailing slash.')
param graphBaseUrl string = 'https://graph.microsoft.com/v1.0'

@description('LIFECYCLE_TABLE_PREFIX: prefix of every table name (letters and digits, starting with a letter).')
@minLength(1)
@maxLength(40)
param tablePrefix string = 'lifecycle'

@description('MANAGED_GROUP_IDS: comma-separated ids of the groups the app may change. Empty: none.')
param managedGroupIds string = ''

@description('ALLOWED_EMAIL_DOMAINS: comma-separated domains guests may be invited from. Empty: all.')
param allowedEmailDomains string = ''

@description('BLOCKED_EMAIL_DOMAINS: comma-separated domains never invited.')
param blockedEmailDomains string = ''

@description('INVITE_REDIRECT_URL: default redirect after an invitation is redeemed.')
param inviteRedirectUrl string = 'https://myapps.microsoft.com'

@description('GUEST_DEFAULT_TTL_DAYS: expiry given to a guest invited without one.')
@minValue(1)
@maxValue(3650)
param guestDefaultTtlDays int = 90

@description('EXPIRY_SCHEDULE: NCRONTAB schedule of the expiry timer (UTC).')
param expirySchedule string = '0 0 3 * * *'

@description('EXPIRY_GRACE_DAYS: days between disabling and deleting an expired guest (0 allowed).')
@minValue(0)
@maxValue(3650)
param expiryGraceDays int = 30

@description('INVITE_REDEEM_DAYS: delete invitations never redeemed after this many days (0: never).')
@minValue(0)
@maxValue(3650)
param inviteRedeemDays int = 30

@description('EXPIRY_MAX_ACTIONS_PER_RUN: cap on guest actions per expiry sweep.')
@minValue(1)
@maxValue(100000)
param expiryMaxActionsPerRun int = 500

@description('EXPIRY_DRY_RUN: the emergency stop. true: each sweep plans and reports, changes nothing, and no plan can be approved; `azd env set EXPIRY_DRY_RUN true` then `azd provision` keeps it (docs/operate.md).')
param expiryDryRun bool = false

@description('EXPIRY_RUN_RETENTION_DAYS: days the sweep\'s runs (report and per-guest lines) are kept.')
@minValue(1)
@maxValue(3650)
param expiryRunRetentionDays int = 400

@description('EXPIRY_PLAN_MAX_AGE_HOURS: hours a plan (GET /api/expiry/plan) can be approved after it was made.')
@minValue(1)
@maxValue(720)
param expiryPlanMaxAgeHours int = 24

@description('ADOPT_HTTP_MAX_GUESTS: POST /api/adopt refuses (422) a directory with more guests; `python -m lifecycle adopt` adopts any number.')
@minValue(1)
@maxValue(1000000)
param adoptHttpMaxGuests int = 20000

@description('LIFECYCLE_FALLBACK_NOTIFY: who is told when a guest has no sponsor (an address or a group\'s object id), carried in the events as fallbackNotify. Empty: none.')
param fallbackNotify string = ''

@description('Address the alert rules mail (a sweep failed, the guard tripped, no sweep in 26 hours, 5xx answers). Empty: the rules are deployed with an action group without a receiver.')
param alertEmailAddress string = ''

@description('EXPIRY_GUARD_PERCENT: refuse a sweep whose disables and deletes exceed this percentage of tracked guests (a number, e.g. 20 or 12.5).')
param expiryGuardPercent string = '20'

@description('EXPIRY_GUARD_MIN: ... and exceed this many guests.')
@minValue(0)
param expiryGuardMin int = 10

@description('EXPIRY_GUARD_WINDOW_HOURS: the guard also counts the guests disabled or deleted this many hours before a sweep (0 = this sweep only).')
@minValue(0)
@maxValue(720)
param expiryGuardWindowHours int = 24

@description('GRAPH_MAX_CONCURRENCY: Graph calls in flight per worker.')
@minValue(1)
@maxValue(64)
param graphMaxConcurrency int = 8

@description('EXPIRY_NOTICE_DAYS: days before expiry when a guest.expiring event is sent.')
@minValue(0)
@maxValue(3650)
param expiryNoticeDays int = 14

@description('INACTIVITY_DAYS: disable guests without a successful sign-in for this many days (0 = off). Above 0 the identity is also granted AuditLog.Read.All and User.Read.All (signInActivity; needs Entra ID P1).')
@minValue(0)
@maxValue(3650)
param inactivityDays int = 0

@description('ATTESTATION_DAYS: a sponsor must attest each guest at least this often (0 = off, else 30-365); a sponsor\'s keep moves the guest\'s expiry to at least this many days from now.')
@minValue(0)
@maxValue(365)
param attestationDays int = 0

@description('MIN_SPONSORS: sponsors each guest must have (0 = off, else 1-5); a guest with fewer is announced once (guest.unsponsored) and disabled EXPIRY_GRACE_DAYS later.')
@minValue(0)
@maxValue(5)
param minSponsors int = 0

@description('EXPIRY_EXCLUDED_GROUP_IDS: comma-separated groups whose members (direct or nested) the sweep never disables or deletes. Empty: none.')
param expiryExcludedGroupIds string = ''

@description('LIFECYCLE_EVENTS_QUEUE: Storage Queue that receives lifecycle events.')
@minLength(3)
@maxLength(63)
param eventsQueueName string = 'guest-events'

// ---------------------------------------------------------------------------------------------------------------
// Names
// ---------------------------------------------------------------------------------------------------------------

var resourceToken = toLower(uniqueString(subscription().id, resourceGroup().id, environmentName))
var tags = {
  'azd-env-name': environmentName
  application: 'guest-lifecycle'
}
var appName = empty(functionAppName) ? 'func-${resourceToken}' : functionAppName
var names = {
  identity: 'id-${resourceToken}'
  storage: empty(storageAccountName) ? 'st${resourceToken}' : storageAccountName
  logAnalytics: 'log-${resourceToken}'
  appInsights: 'appi-${resourceToken}'
  plan: 'plan-${resourceToken}'
  functionApp: appName
  deploymentContainer: 'app-package'
}

// ---------------------------------------------------------------------------------------------------------------
// Resources
// ---------------------------------------------------------------------------------------------------------------

module identity 'modules/identity.bicep' = {
  name: 'identity'
  params: {
    name: names.identity
    location: location
    tags: tags
  }
}

module storage 'modules/storage.bicep' = {
  name: 'storage'
  params: {
    name: names.storage
    location: location
    tags: tags
    skuName: storageSkuName
    deploymentContainerName: names.deploymentContainer
    tablePrefix: tablePrefix
    eventsQueueName: eventsQueueName
    lockAccount: lockStorage
  }
}

module monitoring 'modules/monitoring.bicep' = {
  name: 'monitoring'
  params: {
    logAnalyticsName: names.logAnalytics
    appInsightsName: names.appInsights
    location: location
    tags: tags
    retentionInDays: logRetentionInDays
  }
}

module alerts 'modules/alerts.bicep' = {
  name: 'alerts'
  params: {
    workspaceId: monitoring.outputs.logAnalyticsId
    location: location
    tags: tags
    namePrefix: 'guest-lifecycle-${resourceToken}'
    functionAppName: names.functionApp
    alertEmailAddress: alertEmailAddress
  }
}

module roles 'modules/role-assignments.bicep' = {
  name: 'role-assignments'
  params: {
    principalId: identity.outputs.principalId
    storageAccountName: storage.outputs.name
    appInsightsName: monitoring.outputs.appInsightsName
  }
}

// With Entra authentication on, the platform guards the API and the routes need no function key.
var httpAuth = enableEntraAuth ? 'entra' : 'function'

// Every setting lifecycle/config.py reads (tests/infra checks this list against lifecycle.config.SETTING_DEFAULTS).
var lifecycleSettings = {
  GRAPH_BASE_URL: graphBaseUrl
  AZURE_CLIENT_ID: identity.outputs.clientId
  LIFECYCLE_TABLES_CONNECTION_STRING: '' // never a key: the identity reaches the tables through the endpoint below
  LIFECYCLE_TABLES_ENDPOINT: storage.outputs.tableEndpoint
  LIFECYCLE_QUEUES_ENDPOINT: storage.outputs.queueEndpoint
  LIFECYCLE_TABLE_PREFIX: tablePrefix
  MANAGED_GROUP_IDS: managedGroupIds
  ALLOWED_EMAIL_DOMAINS: allowedEmailDomains
  BLOCKED_EMAIL_DOMAINS: blockedEmailDomains
  INVITE_REDIRECT_URL: inviteRedirectUrl
  GUEST_DEFAULT_TTL_DAYS: string(guestDefaultTtlDays)
  EXPIRY_SCHEDULE: expirySchedule
  EXPIRY_GRACE_DAYS: string(expiryGraceDays)
  INVITE_REDEEM_DAYS: string(inviteRedeemDays)
  EXPIRY_MAX_ACTIONS_PER_RUN: string(expiryMaxActionsPerRun)
  EXPIRY_DRY_RUN: expiryDryRun ? 'true' : 'false'
  EXPIRY_GUARD_PERCENT: expiryGuardPercent
  EXPIRY_GUARD_MIN: string(expiryGuardMin)
  EXPIRY_GUARD_WINDOW_HOURS: string(expiryGuardWindowHours)
  GRAPH_MAX_CONCURRENCY: string(graphMaxConcurrency)
  EXPIRY_NOTICE_DAYS: string(expiryNoticeDays)
  INACTIVITY_DAYS: string(inactivityDays)
  EXPIRY_EXCLUDED_GROUP_IDS: expiryExcludedGroupIds
  EXPIRY_RUN_RETENTION_DAYS: string(expiryRunRetentionDays)
  EXPIRY_PLAN_MAX_AGE_HOURS: string(expiryPlanMaxAgeHours)
  ADOPT_HTTP_MAX_GUESTS: string(adoptHttpMaxGuests)
  LIFECYCLE_FALLBACK_NOTIFY: fallbackNotify
  ATTESTATION_DAYS: string(attestationDays)
  MIN_SPONSORS: string(minSponsors)
  LIFECYCLE_EVENTS_QUEUE: eventsQueueName
  LIFECYCLE_HTTP_AUTH: httpAuth
  // Closed by default with Entra authentication: a caller needs one of these app roles or to be in an allow list.
  LIFECYCLE_HTTP_ROLES: entraAuthRequiredRoles
  LIFECYCLE_HTTP_ALLOWED_CLIENTS: entraAuthAllowedClientApplications
  LIFECYCLE_HTTP_ALLOWED_PRINCIPALS: entraAuthAllowedPrincipalIds
  GRAPH_AUTH: 'managed-identity' // never a development token in Azure, whatever GRAPH_BASE_URL names
}

module functionApp 'modules/function-app.bicep' = {
  name: 'function-app'
  params: {
    name: names.functionApp
    planName: names.plan
    location: location
    tags: tags
    azdServiceName: 'api'
    identityId: identity.outputs.id
    identityClientId: identity.outputs.clientId
    storageAccountName: storage.outputs.name
    blobEndpoint: storage.outputs.blobEndpoint
    queueEndpoint: storage.outputs.queueEndpoint
    tableEndpoint: storage.outputs.tableEndpoint
    deploymentContainerName: storage.outputs.deploymentContainerName
    appInsightsConnectionString: monitoring.outputs.appInsightsConnectionString
    maximumInstanceCount: maximumInstanceCount
    instanceMemoryMB: instanceMemoryMB
    lifecycleSettings: lifecycleSettings
  }
  // The host reads storage with the identity as soon as it starts: grant the roles first.
  dependsOn: [
    roles
  ]
}

module graphPermissions 'modules/graph-permissions.bicep' = if (grantGraphPermissions) {
  name: 'graph-permissions'
  params: {
    principalId: identity.outputs.principalId
    readSignInActivity: inactivityDays > 0
  }
}

var entraManagePrincipals = empty(entraAuthManagePrincipalIds) ? [] : split(replace(entraAuthManagePrincipalIds, ' ', ''), ',')

module entraAuth 'modules/entra-auth.bicep' = if (enableEntraAuth) {
  name: 'entra-auth'
  params: {
    functionAppName: functionApp.outputs.name
    // The registration this deployment declares, unless one made elsewhere is named.
    clientId: empty(entraAuthClientId) ? entraAccess.outputs.clientId : entraAuthClientId
    allowedAudiences: empty(entraAuthAllowedAudiences) ? [] : split(replace(entraAuthAllowedAudiences, ' ', ''), ',')
    allowedClientApplications: empty(entraAuthAllowedClientApplications) ? [] : split(replace(entraAuthAllowedClientApplications, ' ', ''), ',')
    // A list here refuses everyone else at the platform, sponsors included; the flows granted Guests.Manage stay in.
    allowedPrincipalIds: empty(entraAuthAllowedPrincipalIds) ? [] : union(split(replace(entraAuthAllowedPrincipalIds, ' ', ''), ','), entraManagePrincipals)
    openIdIssuer: entraAuthOpenIdIssuer
  }
}

// The API's app registration with its app roles, and who holds which: the allowed principals the first of
// entraAuthRequiredRoles, the flows Guests.Manage. Without entraAuthSponsorSignIn only they get a token.
module entraAccess 'modules/entra-api-access.bicep' = if (enableEntraAuth && entraAuthManageAccess) {
  name: 'entra-api-access'
  params: {
    clientId: entraAuthClientId
    appUniqueName: empty(entraAuthAppUniqueName) ? 'guest-lifecycle-api-${resourceToken}' : entraAuthAppUniqueName
    signInRedirectUri: 'https://${functionApp.outputs.defaultHostName}/.auth/login/aad/callback'
    appRole: first(split(replace(entraAuthRequiredRoles, ' ', ''), ','))
    principalIds: empty(entraAuthAllowedPrincipalIds) ? [] : split(replace(entraAuthAllowedPrincipalIds, ' ', ''), ',')
    managePrincipalIds: entraManagePrincipals
    sponsorSignIn: entraAuthSponsorSignIn
  }
}

module samples 'modules/samples.bicep' = if (deploySamples) {
  name: 'samples'
  params: {
    location: location
    tags: tags
    functionAppName: functionApp.outputs.name
    functionAppHostName: functionApp.outputs.defaultHostName
    storageAccountName: storage.outputs.name
    eventsQueueName: storage.outputs.eventsQueueName
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Outputs (azd writes them into the environment: `azd env get-values`)
// ---------------------------------------------------------------------------------------------------------------

output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = tenant().tenantId
output AZURE_RESOURCE_GROUP string = resourceGroup().name
output AZURE_FUNCTION_APP_NAME string = functionApp.outputs.name
output SERVICE_API_NAME string = functionApp.outputs.name
output SERVICE_API_URI string = 'https://${functionApp.outputs.defaultHostName}'
output AZURE_STORAGE_ACCOUNT_NAME string = storage.outputs.name
output STORAGE_LOCK_NAME string = storage.outputs.lockName
output LIFECYCLE_TABLES_ENDPOINT string = storage.outputs.tableEndpoint
output LIFECYCLE_QUEUES_ENDPOINT string = storage.outputs.queueEndpoint
output MANAGED_IDENTITY_NAME string = identity.outputs.name
output MANAGED_IDENTITY_CLIENT_ID string = identity.outputs.clientId
output MANAGED_IDENTITY_PRINCIPAL_ID string = identity.outputs.principalId
output GRAPH_PERMISSIONS_GRANTED bool = grantGraphPermissions
output ENTRA_AUTH_ENABLED bool = enableEntraAuth
output ENTRA_AUTH_ASSIGNMENT_REQUIRED bool = enableEntraAuth && entraAuthManageAccess && !entraAuthSponsorSignIn
output ENTRA_AUTH_CLIENT_ID string = enableEntraAuth ? (empty(entraAuthClientId) && entraAuthManageAccess ? entraAccess.outputs.clientId : entraAuthClientId) : ''
output SPONSOR_PAGE_URI string = 'https://${functionApp.outputs.defaultHostName}/api/portal'
