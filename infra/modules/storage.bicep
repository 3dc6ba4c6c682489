// The storage account behind the Functions host, the deployment package and vcaudit's own data
// (findings and meeting log in tables, work queues, evidence bundles in blobs). Shared-key access is
// off: every client, the platform included, authenticates with the managed identity.

@description('Azure region.')
param location string

@description('Tags applied to every resource.')
param tags object

@description('Storage account name (3-24 lowercase letters and digits).')
@minLength(3)
@maxLength(24)
param name string

@description('Replication: zone-redundant by default; locally redundant where the region has no availability zones.')
@allowed([
  'Standard_ZRS'
  'Standard_LRS'
])
param skuName string = 'Standard_ZRS'

@description('Blob container the Flex Consumption plan deploys the app package to.')
param deploymentContainerName string

@description('Days a deleted blob or container stays recoverable. Kept short: retention deletes personal data on purpose.')
@minValue(1)
@maxValue(30)
param softDeleteDays int = 7

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  // checkov:skip=CKV_AZURE_35: Flex Consumption without VNet integration reaches its host storage over the public endpoint; a deny-by-default firewall would lock the app out. Access is by Entra ID RBAC only: shared keys are disabled.
  // checkov:skip=CKV_AZURE_59: Public network access is needed for the same reason as CKV_AZURE_35; every request still needs an Entra ID token with a data role on this account.
  // checkov:skip=CKV_AZURE_206: Zone-redundant storage keeps three copies across availability zones in the chosen region; geo-replication would add a copy of pupils' personal data in a second region that the school's data protection assessment does not cover.
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
    allowBlobPublicAccess: false
    allowCrossTenantReplication: false
    defaultToOAuthAuthentication: true
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      defaultAction: 'Allow'
      bypass: 'AzureServices'
    }
    encryption: {
      keySource: 'Microsoft.Storage'
      requireInfrastructureEncryption: true
      services: {
        blob: {
          enabled: true
          keyType: 'Account'
        }
        file: {
          enabled: true
          keyType: 'Account'
        }
        queue: {
          enabled: true
          keyType: 'Account'
        }
        table: {
          enabled: true
          keyType: 'Account'
        }
      }
    }
  }
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  parent: storage
  name: 'default'
  properties: {
    deleteRetentionPolicy: {
      enabled: true
      days: softDeleteDays
    }
    containerDeleteRetentionPolicy: {
      enabled: true
      days: softDeleteDays
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

output name string = storage.name
output id string = storage.id
output blobEndpoint string = storage.properties.primaryEndpoints.blob
output queueEndpoint string = storage.properties.primaryEndpoints.queue
output tableEndpoint string = storage.properties.primaryEndpoints.table
