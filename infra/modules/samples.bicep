// Optional samples (Logic App workflows that call the API and read the events queue), deployed when deploySamples
// is true. Placeholder: the workflows are added under infra/samples/ later; this module declares no resource yet.

@description('Default host name of the function app the samples call.')
param functionAppHostName string

@description('Name of the Storage Queue that carries lifecycle events.')
param eventsQueueName string

@description('Base URL of the API that the samples call.')
output apiBaseUrl string = 'https://${functionAppHostName}/api'

@description('Queue the samples read lifecycle events from.')
output eventsQueueName string = eventsQueueName
