// vcaudit: everything `azd up` provisions. Subscription scope: creates the resource group, then the
// modules in it. The school's settings are parameters written as the app settings vcaudit reads
// (shared/settings.py); Microsoft Graph permissions, mailbox access and the Teams application access
// policy are granted by the scripts in infra/scripts (see README.md, Deploying vcaudit).
targetScope = 'subscription'

@minLength(1)
@maxLength(64)
@description('Name of the azd environment. Names the resource group and seeds the unique suffix of resource names.')
param environmentName string

@minLength(1)
@description('Azure region for every resource. It must offer the Flex Consumption plan.')
@metadata({
  azd: {
    type: 'location'
  }
})
param location string

@description('Optional name of the resource group. Default: rg-<environmentName>.')
param resourceGroupName string = ''

// ---- The school's settings (app settings VCAUDIT_*) ---------------------------------------------

@description('The school\'s Entra ID (directory) tenant id (VCAUDIT_TENANT_ID). Default: the tenant of this Azure subscription.')
param schoolTenantId string = tenant().tenantId

@description('Comma-separated object ids of the staff groups (VCAUDIT_STAFF_GROUP_IDS).')
@minLength(36)
param staffGroupIds string

@description('Comma-separated object ids of the pupil groups (VCAUDIT_PUPIL_GROUP_IDS).')
@minLength(36)
param pupilGroupIds string

@description('Comma-separated ids of the class and year-group teams whose General channel lesson links belong in (VCAUDIT_CLASS_TEAM_IDS). Empty: none.')
param classTeamIds string = ''

@description('Also watch pupils\' calendars to catch pupil-organised meetings (VCAUDIT_MONITOR_PUPIL_MAILBOXES).')
param monitorPupilMailboxes bool = true

@description('Who gets the weekly digest: ROLE:ADDRESS pairs separated by ";", roles dsl, governor, head, admin (VCAUDIT_DIGEST_RECIPIENTS).')
param digestRecipients string = ''

@description('The school mailbox the digest and alerts are sent from; the only mailbox Mail.Send is scoped to (VCAUDIT_DIGEST_SENDER).')
param digestSender string = ''

@description('Weekday the digest is sent, in the school\'s time zone (VCAUDIT_DIGEST_WEEKDAY).')
@allowed([
  'monday'
  'tuesday'
  'wednesday'
  'thursday'
  'friday'
  'saturday'
  'sunday'
])
param digestWeekday string = 'monday'

@description('Local hour (0-23) after which the digest is sent (VCAUDIT_DIGEST_HOUR).')
@minValue(0)
@maxValue(23)
param digestHour int = 7

@description('The school\'s IANA time zone (VCAUDIT_TIME_ZONE).')
param timeZone string = 'Europe/London'

@description('Days findings, meeting-log entries and evidence bundles are kept, holds excepted (VCAUDIT_RETENTION_DAYS).')
@minValue(30)
@maxValue(3650)
param retentionDays int = 400

@description('Most same-day safeguarding alert emails per day (VCAUDIT_ALERT_DAILY_CAP).')
@minValue(0)
@maxValue(500)
param alertDailyCap int = 20

// ---- Platform --------------------------------------------------------------------------------

@description('Client id of the Entra ID app registration the school\'s admin created for App Service Authentication of the admin routes.')
@minLength(36)
param authClientId string

// The webhook key is generated once by the preprovision hook (infra/scripts/webhook_key.py), kept in the azd
// environment as VCAUDIT_WEBHOOK_KEY and passed in by main.parameters.json, so every re-provision passes the same
// value and live Graph subscriptions keep working. (A newGuid() default would rotate it on every azd provision.)
@description('The function key Graph presents with every webhook delivery (?code=), from the azd environment (VCAUDIT_WEBHOOK_KEY).')
@secure()
@minLength(32)
param webhookKey string

// Flex Consumption applies the maximum per function group (http, each queue and timer function), not to the app,
// and the lowest value accepted in every region is 40:
// https://learn.microsoft.com/azure/azure-functions/event-driven-scaling#limit-scale-out
// Graph's 4 concurrent requests per mailbox are kept by the code (shared/graph/pacing.py) and the Retry-After
// re-enqueue of throttled evaluations, not by this number.
@description('Upper bound on instances per function group (Flex Consumption). 40 is accepted in every region.')
@minValue(40)
@maxValue(1000)
param maximumInstanceCount int = 40

@description('Grant CallRecordings.Read.All and CallTranscripts.Read.All so recordings and transcripts of ad hoc calls are watched (VCAUDIT_WATCH_ADHOC_CALLS).')
param watchAdhocCalls bool = false

@description('Grant OnlineMeetings.ReadWrite.All so the policy\'s enforce mode may correct meeting options before lessons (VCAUDIT_ENFORCE_ALLOWED).')
param enforceMeetingOptions bool = false

@description('Always-ready instances for the HTTP functions (webhooks, admin API, health).')
@minValue(0)
@maxValue(20)
param alwaysReadyHttpInstances int = 1

@description('Memory per instance in MB.')
@allowed([
  512
  2048
  4096
])
param instanceMemoryMB int = 2048

@description('Storage replication: zone-redundant, or locally redundant in a region without availability zones.')
@allowed([
  'Standard_ZRS'
  'Standard_LRS'
])
param storageSku string = 'Standard_ZRS'

@description('Days Log Analytics keeps logs and telemetry.')
@minValue(30)
@maxValue(730)
param logRetentionDays int = 30

var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))
var tags = {
  'azd-env-name': environmentName
  application: 'vcaudit'
}
var functionAppName = 'func-vcaudit-${resourceToken}'
var deploymentContainerName = 'app-package-${take(resourceToken, 7)}'
var serviceName = 'api'

// The policy file ships at the root of the deployed package; the path is relative to the app root.
var policyFile = 'policy.toml'

// Every VCAUDIT_* setting the deployment writes. VCAUDIT_GRAPH_BASE_URL is left to its default
// (https://graph.microsoft.com/v1.0).
var schoolSettings = {
  VCAUDIT_TENANT_ID: schoolTenantId
  VCAUDIT_STAFF_GROUP_IDS: staffGroupIds
  VCAUDIT_PUPIL_GROUP_IDS: pupilGroupIds
  VCAUDIT_CLASS_TEAM_IDS: classTeamIds
  VCAUDIT_MONITOR_PUPIL_MAILBOXES: monitorPupilMailboxes ? 'true' : 'false'
  VCAUDIT_DIGEST_RECIPIENTS: digestRecipients
  VCAUDIT_DIGEST_SENDER: digestSender
  VCAUDIT_DIGEST_WEEKDAY: digestWeekday
  VCAUDIT_DIGEST_HOUR: string(digestHour)
  VCAUDIT_TIME_ZONE: timeZone
  VCAUDIT_RETENTION_DAYS: string(retentionDays)
  VCAUDIT_ALERT_DAILY_CAP: string(alertDailyCap)
  VCAUDIT_POLICY_FILE: policyFile
  // Which optional Graph permissions the postprovision hook grants (infra/graph-permissions.json "grantedWhen").
  VCAUDIT_WATCH_ADHOC_CALLS: watchAdhocCalls ? 'true' : 'false'
  VCAUDIT_ENFORCE_ALLOWED: enforceMeetingOptions ? 'true' : 'false'
  // Timer schedules (NCRONTAB, UTC): the Functions host resolves %VCAUDIT_SCHEDULE_*% from app settings,
  // so every one must be present. The defaults are those of shared/settings.py.
  VCAUDIT_SCHEDULE_SUBSCRIPTIONS: '0 7 */4 * * *'
  VCAUDIT_SCHEDULE_PREFLIGHT: '0 */15 6-18 * * 1-5'
  VCAUDIT_SCHEDULE_RECONCILE: '0 20 */6 * * *'
  VCAUDIT_SCHEDULE_RETENTION: '0 40 2 * * *'
  VCAUDIT_SCHEDULE_DIGEST: '0 5 * * * *'
}

resource rg 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: !empty(resourceGroupName) ? resourceGroupName : 'rg-${environmentName}'
  location: location
  tags: tags
}

module identity 'modules/identity.bicep' = {
  name: 'identity'
  scope: rg
  params: {
    location: location
    tags: tags
    name: 'id-vcaudit-${resourceToken}'
  }
}

module monitoring 'modules/monitoring.bicep' = {
  name: 'monitoring'
  scope: rg
  params: {
    location: location
    tags: tags
    logAnalyticsName: 'log-vcaudit-${resourceToken}'
    applicationInsightsName: 'appi-vcaudit-${resourceToken}'
    logRetentionDays: logRetentionDays
  }
}

module storage 'modules/storage.bicep' = {
  name: 'storage'
  scope: rg
  params: {
    location: location
    tags: tags
    name: 'stvcaudit${take(resourceToken, 15)}'
    skuName: storageSku
    deploymentContainerName: deploymentContainerName
  }
}

module rbac 'modules/rbac.bicep' = {
  name: 'rbac'
  scope: rg
  params: {
    storageAccountName: storage.outputs.name
    applicationInsightsName: monitoring.outputs.applicationInsightsName
    principalId: identity.outputs.principalId
  }
}

module functionApp 'modules/function-app.bicep' = {
  name: 'function-app'
  scope: rg
  dependsOn: [
    rbac
  ]
  params: {
    location: location
    tags: tags
    planName: 'plan-vcaudit-${resourceToken}'
    name: functionAppName
    serviceName: serviceName
    identityId: identity.outputs.id
    identityClientId: identity.outputs.clientId
    storageAccountName: storage.outputs.name
    deploymentContainerName: deploymentContainerName
    applicationInsightsConnectionString: monitoring.outputs.connectionString
    appSettings: schoolSettings
    webhookKey: webhookKey
    maximumInstanceCount: maximumInstanceCount
    alwaysReadyHttpInstances: alwaysReadyHttpInstances
    instanceMemoryMB: instanceMemoryMB
    authClientId: authClientId
    authTenantId: schoolTenantId
  }
}

var baseUrl = 'https://${functionApp.outputs.defaultHostName}'

output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = tenant().tenantId
output AZURE_RESOURCE_GROUP string = rg.name
output AZURE_FUNCTION_APP_NAME string = functionApp.outputs.name
output AZURE_STORAGE_ACCOUNT_NAME string = storage.outputs.name
output AZURE_FUNCTION_IDENTITY_CLIENT_ID string = identity.outputs.clientId
output AZURE_FUNCTION_IDENTITY_PRINCIPAL_ID string = identity.outputs.principalId
output SERVICE_API_NAME string = functionApp.outputs.name
output SERVICE_API_URI string = baseUrl
output GRAPH_NOTIFICATION_URL string = '${baseUrl}/api/graph/notifications'
output GRAPH_LIFECYCLE_URL string = '${baseUrl}/api/graph/lifecycle'
output HEALTH_URL string = '${baseUrl}/api/health'

// Read back by the permission scripts (azd stores outputs in the environment).
output VCAUDIT_STAFF_GROUP_IDS string = staffGroupIds
output VCAUDIT_PUPIL_GROUP_IDS string = pupilGroupIds
output VCAUDIT_DIGEST_SENDER string = digestSender
output VCAUDIT_WATCH_ADHOC_CALLS bool = watchAdhocCalls
output VCAUDIT_ENFORCE_ALLOWED bool = enforceMeetingOptions
