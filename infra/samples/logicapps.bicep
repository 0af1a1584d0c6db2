// Sample Logic App (Consumption) workflows for the Guest Lifecycle API (docs/flows.md):
//   invite-guest     HTTP request in, POST /api/guests with the function key and an Idempotency-Key, reply with the guest,
//                    then mail a new guest its inviteRedeemUrl with the organisation's own text (Office 365 Outlook)
//   notify-sponsors  the one reader of the events queue: forwards guest.expiring of sponsored guests to the approvals
//                    queue, mails sponsors of a disabled guest, and LIFECYCLE_FALLBACK_NOTIFY for a guest without one
//   approve-extension  on guest.expiring, sends each sponsor an approval mail (Office 365 "send approval email") and
//                    calls POST /api/guests/{id}/extend when one approves (one Idempotency-Key per event)
// The Office 365 connections are created unauthenticated: authorize them once in the portal (API connection > Edit API
// connection > Authorize). The queue connection uses the workflow's managed identity (the account has no shared keys).

@description('Azure region of the workflows and their API connections.')
param location string = resourceGroup().location

@description('Tags applied to every resource of the samples.')
param tags object = {}

@description('Prefix of the workflow and API connection names.')
param namePrefix string = 'guest-lifecycle'

@description('Default host name of the function app, e.g. guest-lifecycle-abc.azurewebsites.net.')
param functionAppHostName string

@secure()
@description('A function key of the function app; the invite workflow sends it in the x-functions-key header.')
param functionKey string

@description('Name of the storage account that holds the lifecycle events queue.')
param storageAccountName string

@description('Name of the Storage Queue that receives lifecycle events (LIFECYCLE_EVENTS_QUEUE). notify-sponsors is its one reader.')
param queueName string

@description('Queue the approve-extension workflow reads: notify-sponsors forwards to it the guest.expiring events of guests with sponsors, so that no two workflows compete for one queue (a queue hands each message to one reader).')
@minLength(3)
@maxLength(63)
param approvalsQueueName string = 'guest-events-approvals'

var queueMessageProcessorRoleId = '8a0f0c08-91a1-4084-bc3d-661d67233fed'
var queueMessageSenderRoleId = 'c6a89b2d-59bc-44d0-9896-0f6e12d7b80a'

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource queueService 'Microsoft.Storage/storageAccounts/queueServices@2023-05-01' existing = {
  parent: storage
  name: 'default'
}

resource eventsQueue 'Microsoft.Storage/storageAccounts/queueServices/queues@2023-05-01' existing = {
  parent: queueService
  name: queueName
}

resource approvalsQueue 'Microsoft.Storage/storageAccounts/queueServices/queues@2023-05-01' = {
  parent: queueService
  name: approvalsQueueName
}

resource queuesConnection 'Microsoft.Web/connections@2016-06-01' = {
  name: '${namePrefix}-azurequeues'
  location: location
  tags: tags
  properties: any({
    displayName: 'Guest Lifecycle events queue'
    api: {
      id: subscriptionResourceId('Microsoft.Web/locations/managedApis', location, 'azurequeues')
    }
    parameterValueSet: {
      name: 'managedIdentityAuth'
      values: {}
    }
  })
}

resource outlookConnection 'Microsoft.Web/connections@2016-06-01' = {
  name: '${namePrefix}-office365'
  location: location
  tags: tags
  properties: {
    displayName: 'Guest Lifecycle sponsor mail'
    api: {
      id: subscriptionResourceId('Microsoft.Web/locations/managedApis', location, 'office365')
    }
  }
}

resource usersConnection 'Microsoft.Web/connections@2016-06-01' = {
  name: '${namePrefix}-office365users'
  location: location
  tags: tags
  properties: {
    displayName: 'Guest Lifecycle sponsor lookup'
    api: {
      id: subscriptionResourceId('Microsoft.Web/locations/managedApis', location, 'office365users')
    }
  }
}

resource inviteWorkflow 'Microsoft.Logic/workflows@2019-05-01' = {
  name: '${namePrefix}-invite-guest'
  location: location
  tags: tags
  properties: {
    state: 'Enabled'
    definition: loadJsonContent('invite-guest.workflow.json')
    parameters: {
      '$connections': {
        value: {
          office365: {
            connectionId: outlookConnection.id
            connectionName: outlookConnection.name
            id: subscriptionResourceId('Microsoft.Web/locations/managedApis', location, 'office365')
          }
        }
      }
      apiBaseUrl: {
        value: 'https://${functionAppHostName}/api'
      }
      functionKey: {
        value: functionKey
      }
    }
  }
}

resource notifyWorkflow 'Microsoft.Logic/workflows@2019-05-01' = {
  name: '${namePrefix}-notify-sponsors'
  location: location
  tags: tags
  identity: {
    type: 'SystemAssigned'
  }
  properties: {
    state: 'Enabled'
    definition: loadJsonContent('notify-sponsors.workflow.json')
    parameters: {
      '$connections': {
        value: {
          azurequeues: {
            connectionId: queuesConnection.id
            connectionName: queuesConnection.name
            id: subscriptionResourceId('Microsoft.Web/locations/managedApis', location, 'azurequeues')
            connectionProperties: {
              authentication: {
                type: 'ManagedServiceIdentity'
              }
            }
          }
          office365: {
            connectionId: outlookConnection.id
            connectionName: outlookConnection.name
            id: subscriptionResourceId('Microsoft.Web/locations/managedApis', location, 'office365')
          }
          office365users: {
            connectionId: usersConnection.id
            connectionName: usersConnection.name
            id: subscriptionResourceId('Microsoft.Web/locations/managedApis', location, 'office365users')
          }
        }
      }
      storageAccountName: {
        value: storageAccountName
      }
      queueName: {
        value: queueName
      }
      approvalsQueueName: {
        value: approvalsQueue.name
      }
    }
  }
}

resource approveWorkflow 'Microsoft.Logic/workflows@2019-05-01' = {
  name: '${namePrefix}-approve-extension'
  location: location
  tags: tags
  identity: {
    type: 'SystemAssigned'
  }
  properties: {
    state: 'Enabled'
    definition: loadJsonContent('approve-extension.workflow.json')
    parameters: {
      '$connections': {
        value: {
          azurequeues: {
            connectionId: queuesConnection.id
            connectionName: queuesConnection.name
            id: subscriptionResourceId('Microsoft.Web/locations/managedApis', location, 'azurequeues')
            connectionProperties: {
              authentication: {
                type: 'ManagedServiceIdentity'
              }
            }
          }
          office365: {
            connectionId: outlookConnection.id
            connectionName: outlookConnection.name
            id: subscriptionResourceId('Microsoft.Web/locations/managedApis', location, 'office365')
          }
          office365users: {
            connectionId: usersConnection.id
            connectionName: usersConnection.name
            id: subscriptionResourceId('Microsoft.Web/locations/managedApis', location, 'office365users')
          }
        }
      }
      storageAccountName: {
        value: storageAccountName
      }
      queueName: {
        value: approvalsQueue.name
      }
      apiBaseUrl: {
        value: 'https://${functionAppHostName}/api'
      }
      functionKey: {
        value: functionKey
      }
    }
  }
}

// Storage Queue Data Message Processor on the events queue only: peek, receive and delete messages.
resource queueReader 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(eventsQueue.id, notifyWorkflow.id, queueMessageProcessorRoleId)
  scope: eventsQueue
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', queueMessageProcessorRoleId)
    principalId: notifyWorkflow.identity.principalId
    principalType: 'ServicePrincipal'
  }
}

// notify-sponsors forwards the guest.expiring events of guests with sponsors to the approvals queue, the one queue
// the approval workflow reads: each event reaches the workflow meant for it, none competes with the other.
resource approvalsSender 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(approvalsQueue.id, notifyWorkflow.id, queueMessageSenderRoleId)
  scope: approvalsQueue
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', queueMessageSenderRoleId)
    principalId: notifyWorkflow.identity.principalId
    principalType: 'ServicePrincipal'
  }
}

resource approveQueueReader 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(approvalsQueue.id, approveWorkflow.id, queueMessageProcessorRoleId)
  scope: approvalsQueue
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', queueMessageProcessorRoleId)
    principalId: approveWorkflow.identity.principalId
    principalType: 'ServicePrincipal'
  }
}

@description('Name of the workflow that asks sponsors to approve an extension and extends on approval.')
output approveWorkflowName string = approveWorkflow.name

@description('Name of the workflow that invites a guest over HTTP (its trigger URL: az rest or the portal).')
output inviteWorkflowName string = inviteWorkflow.name

@description('Name of the workflow that mails sponsors of expiring guests.')
output notifyWorkflowName string = notifyWorkflow.name

@description('API connections to authorize once in the portal before the notify workflow can send mail.')
output connectionsToAuthorize array = [
  outlookConnection.name
  usersConnection.name
]
