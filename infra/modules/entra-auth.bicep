// Optional App Service authentication (Easy Auth v2) with Microsoft Entra ID in front of the functions.
// Callers present a bearer token for the API's app registration; the platform rejects tokens from clients or
// principals that are not listed, and passes the caller to the app in x-ms-client-principal* headers, which the
// app writes into its audit entries. /api/health stays reachable without a token for probes, and so does the sponsor
// page (/api/portal with its script and style sheet: static files that hold no data), whose script sends a browser
// without a session to /.auth/login/aad; every API route it calls needs the session.

@description('Name of the existing function app.')
param functionAppName string

@description('Client id of the app registration that represents this API (the token audience).')
@minLength(36)
param clientId string

@description('Audiences accepted in tokens. Empty: api://<clientId> and <clientId>.')
param allowedAudiences array = []

@description('Client application ids (appid/azp claim) allowed to call, e.g. the client id of a Logic App\'s managed identity. Empty: any client of the tenant.')
param allowedClientApplications array = []

@description('Object ids (oid claim) of the principals allowed to call, e.g. the principal id of a Logic App\'s managed identity. Empty: any principal of the tenant.')
param allowedPrincipalIds array = []

@description('Token issuer. Empty: the v2.0 issuer of this tenant (set requestedAccessTokenVersion to 2 on the app registration).')
param openIdIssuer string = ''

var issuer = empty(openIdIssuer) ? '${environment().authentication.loginEndpoint}${tenant().tenantId}/v2.0' : openIdIssuer
var audiences = empty(allowedAudiences) ? [
  'api://${clientId}'
  clientId
] : allowedAudiences

// An empty list would not restrict anything, so each requirement is only sent when it lists someone.
var clientRequirement = empty(allowedClientApplications) ? {} : {
  allowedApplications: allowedClientApplications
}
var principalRequirement = empty(allowedPrincipalIds) ? {} : {
  allowedPrincipals: {
    identities: allowedPrincipalIds
  }
}

resource site 'Microsoft.Web/sites@2024-04-01' existing = {
  name: functionAppName
}

resource auth 'Microsoft.Web/sites/config@2024-04-01' = {
  parent: site
  name: 'authsettingsV2'
  properties: {
    platform: {
      enabled: true
    }
    globalValidation: {
      requireAuthentication: true
      unauthenticatedClientAction: 'Return401'
      excludedPaths: [
        '/api/health'
        '/api/portal'
        '/api/portal.js'
        '/api/portal.css'
      ]
    }
    httpSettings: {
      requireHttps: true
    }
    identityProviders: {
      azureActiveDirectory: {
        enabled: true
        registration: {
          clientId: clientId
          openIdIssuer: issuer
        }
        validation: {
          allowedAudiences: audiences
          defaultAuthorizationPolicy: union(clientRequirement, principalRequirement)
        }
      }
    }
    login: {
      tokenStore: {
        enabled: false
      }
    }
  }
}

@description('Issuer the platform validates tokens against.')
output issuer string = issuer

@description('Audiences the platform accepts.')
output audiences array = audiences
