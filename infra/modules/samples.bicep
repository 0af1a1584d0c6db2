// Optional samples, deployed when deploySamples is true: the Logic App workflows of infra/samples/ (an invite
// workflow that calls the API, and one that mails sponsors from the events queue). The invite workflow gets a host
// function key of its own ('samples'), so it can be revoked without touching the default key.

@description('Azure region of the sample workflows.')
param location string

@description('Tags applied to every resource of the samples.')
param tags object = {}

@description('Name of the function app the samples call.')
param functionAppName string

@description('Default host name of the function app the samples call.')
param functionAppHostName string

@description('Name of the storage account that holds the events queue.')
param storageAccountName string

@description('Name of the Storage Queue that carries lifecycle events.')
param eventsQueueName string

@secure()
@description('Value of the samples function key; a new random value unless given.')
param samplesKeyValue string = newGuid()

resource samplesKey 'Microsoft.Web/sites/host/functionKeys@2023-12-01' = {
  name: '${functionAppName}/default/samples'
  properties: {
    name: 'samples'
    value: samplesKeyValue
  }
}

module logicApps '../samples/logicapps.bicep' = {
  name: 'samples-logicapps'
  params: {
    location: location
    tags: tags
    functionAppHostName: functionAppHostName
    functionKey: samplesKeyValue
    storageAccountName: storageAccountName
    queueName: eventsQueueName
  }
  dependsOn: [
    samplesKey
  ]
}

@description('Base URL of the API that the samples call.')
output apiBaseUrl string = 'https://${functionAppHostName}/api'

@description('Names of the sample workflows.')
output workflowNames array = [
  logicApps.outputs.inviteWorkflowName
  logicApps.outputs.notifyWorkflowName
]

@description('Office 365 API connections to authorize once in the portal.')
output connectionsToAuthorize array = logicApps.outputs.connectionsToAuthorize
