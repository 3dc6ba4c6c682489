// The Function App on the Flex Consumption plan (FC1, Linux, Python 3.11), its app settings and
// App Service Authentication in front of the admin routes.

@description('Azure region.')
param location string

@description('Tags applied to every resource.')
param tags object

@description('Name of the Flex Consumption plan.')
param planName string

@description('Name of the Function App.')
param name string

@description('azd service name this app is deployed as (azure.yaml services key).')
param serviceName string

@description('Resource id of the user-assigned managed identity.')
param identityId string

@description('Client id of the user-assigned managed identity.')
param identityClientId string

@description('Name of the storage account for host storage and the deployment package.')
param storageAccountName string

@description('Blob container the deployment package is written to.')
param deploymentContainerName string

@description('Application Insights connection string (no key is usable: local auth is disabled).')
param applicationInsightsConnectionString string

@description('vcaudit\'s own settings (VCAUDIT_*), written as app settings.')
param appSettings object

@description('The key Graph presents with each webhook delivery, written as VCAUDIT_WEBHOOK_KEY so the subscription manager puts it in the notification URLs; the postdeploy hook sets the host key graph-webhook to the same value.')
@secure()
param webhookKey string

@description('Upper bound on instances per function group (Flex Consumption); 40 is the lowest accepted in every region.')
@minValue(40)
@maxValue(1000)
param maximumInstanceCount int

@description('Instances of the HTTP function group kept warm, so Graph\'s validation handshake (10 s) and deliveries (3 s) never wait for a cold start.')
@minValue(0)
@maxValue(20)
param alwaysReadyHttpInstances int

@description('Memory per instance in MB.')
@allowed([
  512
  2048
  4096
])
param instanceMemoryMB int

@description('Client id of the Entra ID app registration (created by the school\'s admin) that App Service Authentication validates tokens for.')
param authClientId string

@description('Entra ID tenant that issues the tokens for App Service Authentication.')
param authTenantId string

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  // checkov:skip=CKV_AZURE_225: Zone redundancy for Flex Consumption is offered in some regions only and costs more; a short outage is recovered by Graph's retries (up to 4 hours) and the reconcile timer.
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  sku: {
    name: 'FC1'
    tier: 'FlexConsumption'
  }
  properties: {
    reserved: true
  }
}

resource functionApp 'Microsoft.Web/sites@2024-04-01' = {
  // checkov:skip=CKV_AZURE_17: Client certificates cannot be required: Microsoft Graph posts change notifications without one. Admin routes are protected by App Service Authentication (authsettingsV2) instead.
  // checkov:skip=CKV_AZURE_222: Public network access is required: Microsoft Graph delivers change notifications to the public webhook from addresses Microsoft does not fix.
  // checkov:skip=CKV_AZURE_212: numberOfWorkers does not apply to Flex Consumption; warm capacity is set by functionAppConfig.scaleAndConcurrency.alwaysReady.
  // checkov:skip=CKV_AZURE_78: Flex Consumption has no FTP: it deploys from a blob container only, and refuses siteConfig.ftpsState (https://learn.microsoft.com/azure/azure-functions/functions-app-settings#flex-consumption-plan-deprecations).
  // checkov:skip=CKV_AZURE_67: Flex Consumption does not offer the HTTP version setting (the portal hides HTTP 2.0 for Flex apps: https://github.com/Azure/azure-functions-ux/pull/7660); Graph's deliveries and the admin API need nothing beyond HTTPS with TLS 1.2.
  // checkov:skip=CKV_AZURE_18: Same as CKV_AZURE_67: http20Enabled is not a Flex Consumption setting.
  // checkov:skip=CKV_AZURE_213: The platform health check would probe /api/health without its function key and mark healthy instances as failed; monitoring calls GET /api/health with the key instead.
  name: name
  location: location
  tags: union(tags, {
    'azd-service-name': serviceName
  })
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identityId}': {}
    }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    clientCertEnabled: false
    publicNetworkAccess: 'Enabled'
    // No ftpsState (Flex Consumption refuses it: "FTPS not supported") and no http20Enabled:
    // https://learn.microsoft.com/azure/azure-functions/functions-app-settings#flex-consumption-plan-deprecations
    siteConfig: {
      minTlsVersion: '1.2'
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${storage.properties.primaryEndpoints.blob}${deploymentContainerName}'
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identityId
          }
        }
      }
      scaleAndConcurrency: {
        maximumInstanceCount: maximumInstanceCount
        instanceMemoryMB: instanceMemoryMB
        alwaysReady: [
          {
            name: 'http'
            instanceCount: alwaysReadyHttpInstances
          }
        ]
      }
      runtime: {
        name: 'python'
        version: '3.11'
      }
    }
  }
}

// Flex Consumption takes the runtime from functionAppConfig and refuses FUNCTIONS_WORKER_RUNTIME and
// FUNCTIONS_EXTENSION_VERSION as app settings, so neither is set here.
resource functionAppSettings 'Microsoft.Web/sites/config@2024-04-01' = {
  // checkov:skip=CKV_AZURE_13: This resource holds app settings, not authentication; App Service Authentication is configured in the authsettingsV2 resource below.
  // checkov:skip=CKV_AZURE_63: Web-server HTTP logs do not exist on Flex Consumption; requests are logged to Application Insights.
  // checkov:skip=CKV_AZURE_65: Detailed error pages are a web-server feature not present on Flex Consumption, and would expose internals if they were.
  // checkov:skip=CKV_AZURE_66: Failed-request tracing is an IIS feature not present on Flex Consumption (Linux); failures go to Application Insights.
  // checkov:skip=CKV_AZURE_80: Not a .NET app: the runtime is Python 3.11, set in functionAppConfig.runtime.
  // checkov:skip=CKV_AZURE_88: Flex Consumption deploys from a blob container and mounts no Azure Files share.
  // checkov:skip=CKV_AZURE_222: publicNetworkAccess belongs to the site, not to this config resource (see the site's skip).
  parent: functionApp
  name: 'appsettings'
  properties: union(appSettings, {
    AzureWebJobsStorage__blobServiceUri: storage.properties.primaryEndpoints.blob
    AzureWebJobsStorage__queueServiceUri: storage.properties.primaryEndpoints.queue
    AzureWebJobsStorage__tableServiceUri: storage.properties.primaryEndpoints.table
    AzureWebJobsStorage__credential: 'managedidentity'
    AzureWebJobsStorage__clientId: identityClientId
    APPLICATIONINSIGHTS_CONNECTION_STRING: applicationInsightsConnectionString
    APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'ClientId=${identityClientId};Authorization=AAD'
    AZURE_CLIENT_ID: identityClientId
    VCAUDIT_WEBHOOK_BASE_URL: 'https://${functionApp.properties.defaultHostName}/api'
    VCAUDIT_WEBHOOK_KEY: webhookKey
  })
}

// The host key graph-webhook (the key Graph's subscriptions carry) is not a resource here: keys are kept by the
// running Functions host, so a sites/host/functionKeys resource would race the app settings and the storage
// role assignments taking effect. The postdeploy hook (infra/scripts/set_host_key.py) sets it once the app runs.

// App Service Authentication: every route needs an Entra ID token for the school's app registration,
// except the Graph webhooks (Graph cannot sign in; they check clientState and tenant instead) and the
// health probe (function-key protected, so monitoring can call it).
resource authSettings 'Microsoft.Web/sites/config@2024-04-01' = {
  // checkov:skip=CKV_AZURE_13: The check reads the v1 authsettings schema (properties.enabled); this is authsettingsV2, enabled by platform.enabled.
  // checkov:skip=CKV_AZURE_63: Web-server HTTP logs do not exist on Flex Consumption; requests are logged to Application Insights.
  // checkov:skip=CKV_AZURE_65: Detailed error pages are a web-server feature not present on Flex Consumption, and would expose internals if they were.
  // checkov:skip=CKV_AZURE_66: Failed-request tracing is an IIS feature not present on Flex Consumption (Linux); failures go to Application Insights.
  // checkov:skip=CKV_AZURE_80: Not a .NET app: the runtime is Python 3.11, set in functionAppConfig.runtime.
  // checkov:skip=CKV_AZURE_88: Flex Consumption deploys from a blob container and mounts no Azure Files share.
  // checkov:skip=CKV_AZURE_222: publicNetworkAccess belongs to the site, not to this config resource (see the site's skip).
  parent: functionApp
  name: 'authsettingsV2'
  properties: {
    platform: {
      enabled: true
    }
    globalValidation: {
      requireAuthentication: true
      unauthenticatedClientAction: 'Return401'
      excludedPaths: [
        '/api/graph/notifications'
        '/api/graph/lifecycle'
        '/api/graph/*'
        '/api/health'
      ]
    }
    httpSettings: {
      requireHttps: true
    }
    identityProviders: {
      azureActiveDirectory: {
        enabled: true
        registration: {
          clientId: authClientId
          // The current issuer form (v2.0 tokens: the app registration sets requestedAccessTokenVersion 2):
          // https://learn.microsoft.com/azure/app-service/configure-authentication-provider-aad
          openIdIssuer: '${environment().authentication.loginEndpoint}${authTenantId}/v2.0'
        }
        validation: {
          allowedAudiences: [
            'api://${authClientId}'
            authClientId
          ]
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

output name string = functionApp.name
output defaultHostName string = functionApp.properties.defaultHostName
