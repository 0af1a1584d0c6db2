// Storage account shared by the Functions host (AzureWebJobsStorage, deployment package) and the app
// (tables and the lifecycle events queue). Shared-key access is disabled: every client uses Microsoft Entra ID.

@description('Name of the storage account (3-24 lower-case letters and digits, globally unique).')
@minLength(3)
@maxLength(24)
param name string

@description('Azure region of the account.')
param location string

@description('Tags applied to the account.')
param tags object = {}

@description('Blob container that holds the function app\'s deployment package (Flex Consumption).')
param deploymentContainerName string

@description('Replication of the account. Geo-redundant by default: the tables hold the guests\' records and the audit trail.')
@allowed([
  'Standard_LRS'
  'Standard_ZRS'
  'Standard_GRS'
  'Standard_GZRS'
  'Standard_RAGRS'
  'Standard_RAGZRS'
])
param skuName string = 'Standard_GRS'

@description('Prefix of the app\'s table names (LIFECYCLE_TABLE_PREFIX): tables <prefix>guests, <prefix>audit, <prefix>idempotency, <prefix>runs.')
param tablePrefix string

@description('Name of the Storage Queue that receives lifecycle events (LIFECYCLE_EVENTS_QUEUE).')
param eventsQueueName string

@description('Put a CanNotDelete lock on the account: while it stands, neither the account (its tables hold every guest\'s record and the audit trail) nor the resource group holding it can be deleted. Lifting it on purpose: docs/operate.md, "Deleting a deployment".')
param lockAccount bool = true

@description('Name of the lock (lockAccount).')
param lockName string = 'guest-lifecycle-keep-data'

var tableSuffixes = [
  'guests'
  'audit'
  'idempotency'
  'runs'
]

resource account 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: name
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: {
    name: skuName
  }
  properties: {
    accessTier: 'Hot'
    allowSharedKeyAccess: false
    defaultToOAuthAuthentication: true
    allowBlobPublicAccess: false
    allowCrossTenantReplication: false
    supportsHttpsTrafficOnly: true
    minimumTlsVersion: 'TLS1_2'
    dnsEndpointType: 'Standard'
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      bypass: 'AzureServices'
      defaultAction: 'Allow'
    }
  }
}

// A management lock: it stops deleting the account or the resource group (azd down too) through Azure Resource Manager;
// reading and writing the data goes on. Creating or removing it needs Microsoft.Authorization/locks/* (Owner or User
// Access Administrator). Removing the lock from this template does not lift it: `az lock delete` does.
resource deleteLock 'Microsoft.Authorization/locks@2020-05-01' = if (lockAccount) {
  name: lockName
  scope: account
  properties: {
    level: 'CanNotDelete'
    notes: 'Guest Lifecycle: the tables hold every guest\'s record and the audit trail. Export them and lift this lock before deleting on purpose (docs/operate.md).'
  }
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  parent: account
  name: 'default'
  properties: {
    deleteRetentionPolicy: {
      enabled: true
      days: 7
    }
    containerDeleteRetentionPolicy: {
      enabled: true
      days: 7
    }
  }
}

resource deploymentContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: deploymentContainerName
  properties: {
    publicAccess: 'None'
  }
}

resource tableService 'Microsoft.Storage/storageAccounts/tableServices@2023-05-01' = {
  parent: account
  name: 'default'
}

resource tables 'Microsoft.Storage/storageAccounts/tableServices/tables@2023-05-01' = [for suffix in tableSuffixes: {
  parent: tableService
  name: '${tablePrefix}${suffix}'
}]

resource queueService 'Microsoft.Storage/storageAccounts/queueServices@2023-05-01' = {
  parent: account
  name: 'default'
}

resource eventsQueue 'Microsoft.Storage/storageAccounts/queueServices/queues@2023-05-01' = {
  parent: queueService
  name: eventsQueueName
}

@description('Name of the storage account.')
output name string = account.name

@description('Resource id of the storage account.')
output id string = account.id

@description('Blob service URI, no trailing slash.')
output blobEndpoint string = 'https://${account.name}.blob.${environment().suffixes.storage}'

@description('Queue service URI, no trailing slash.')
output queueEndpoint string = 'https://${account.name}.queue.${environment().suffixes.storage}'

@description('Table service URI, no trailing slash.')
output tableEndpoint string = 'https://${account.name}.table.${environment().suffixes.storage}'

@description('Name of the deployment package container.')
output deploymentContainerName string = deploymentContainer.name

@description('Names of the tables created for the app.')
output tableNames array = [for (suffix, i) in tableSuffixes: tables[i].name]

@description('Name of the lifecycle events queue.')
output eventsQueueName string = eventsQueue.name

@description('Name of the CanNotDelete lock on the account, or empty when lockAccount is false.')
output lockName string = lockAccount ? lockName : ''
