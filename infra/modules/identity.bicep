// User-assigned managed identity of the function app. It reads and writes the storage account, sends
// telemetry, pulls the deployment package, and calls Microsoft Graph (app roles granted in graph-permissions.bicep).

@description('Name of the user-assigned managed identity.')
param name string

@description('Azure region of the identity.')
param location string

@description('Tags applied to the identity.')
param tags object = {}

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: name
  location: location
  tags: tags
}

@description('Resource id of the identity (assigned to the function app).')
output id string = identity.id

@description('Name of the identity.')
output name string = identity.name

@description('Client (application) id: AZURE_CLIENT_ID and AzureWebJobsStorage__clientId.')
output clientId string = identity.properties.clientId

@description('Object id of the identity\'s service principal: the principal of RBAC and Graph app role assignments.')
output principalId string = identity.properties.principalId
