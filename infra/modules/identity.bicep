// The one user-assigned managed identity vcaudit uses for everything: host storage, the deployment
// package, tables, queues and blobs, Application Insights, and Microsoft Graph. No secrets.

@description('Azure region.')
param location string

@description('Tags applied to every resource.')
param tags object

@description('Name of the user-assigned managed identity.')
param name string

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: name
  location: location
  tags: tags
}

output id string = identity.id
output name string = identity.name
output clientId string = identity.properties.clientId
output principalId string = identity.properties.principalId
