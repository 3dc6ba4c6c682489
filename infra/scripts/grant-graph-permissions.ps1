#Requires -Version 7.2
<#
.SYNOPSIS
    Grants vcaudit's managed identity exactly the Microsoft Graph application permissions listed in
    infra/graph-permissions.json, and removes any other Graph application permission it holds.

.DESCRIPTION
    Run by `azd up` after provisioning (the postprovision hook in azure.yaml), or by hand at any time:
    it is idempotent and changes only what differs.

    1. Reads "applicationPermissions" from infra/graph-permissions.json.
    2. Refuses any mailbox permission there (Mail.*, Calendars.*, MailboxSettings.*, Contacts.*):
       those are granted only through Exchange RBAC for Applications (grant-mailbox-access.ps1),
       because a tenant-wide Entra app role would add up with the Exchange scoping and undo it.
    3. Signs in to Microsoft Graph as you (you need Privileged Role Administrator or Global
       Administrator) with the delegated scopes AppRoleAssignment.ReadWrite.All and Application.Read.All.
    4. Assigns each listed app role of Microsoft Graph to the identity's service principal.
    5. Removes every other Microsoft Graph app role from that service principal, including a tenant-wide
       Mail.Send or Calendars.Read that someone may have consented to earlier.

    Needs the Microsoft.Graph.Authentication and Microsoft.Graph.Applications PowerShell modules:
        Install-Module Microsoft.Graph.Applications -Scope CurrentUser

.PARAMETER PrincipalId
    Object id of the managed identity's service principal. Default: the azd output
    AZURE_FUNCTION_IDENTITY_PRINCIPAL_ID.

.PARAMETER TenantId
    The school's tenant. Default: the azd output AZURE_TENANT_ID.

.PARAMETER EduRosterFallback
    'true' (default) grants the optional EduRoster.Read.All (the primaryRole fallback for users in neither
    the staff nor the pupil groups); 'false' leaves it out and removes it. Default: the azd environment
    value GRANT_EDUROSTER_FALLBACK, else 'true'.

    Every optional permission names its switch in graph-permissions.json ("grantedWhen": an azd environment
    variable and its default): CallRecordings.Read.All and CallTranscripts.Read.All follow
    VCAUDIT_WATCH_ADHOC_CALLS, OnlineMeetings.ReadWrite.All follows VCAUDIT_ENFORCE_ALLOWED (both false by
    default, and both also written as app settings by the Bicep, so the app knows what it was granted).
    An optional permission switched off is removed if the identity holds it.

.EXAMPLE
    ./infra/scripts/grant-graph-permissions.ps1 -WhatIf
#>
[CmdletBinding(SupportsShouldProcess)]
param(
    [string] $PrincipalId,
    [string] $TenantId,
    [ValidateSet('', 'true', 'false')]
    [string] $EduRosterFallback = ''
)

$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest
. (Join-Path $PSScriptRoot 'AzdValues.ps1')

if (-not $PrincipalId) { $PrincipalId = Get-AzdValue 'AZURE_FUNCTION_IDENTITY_PRINCIPAL_ID' }
if (-not $TenantId) { $TenantId = Get-AzdValue 'AZURE_TENANT_ID' }
if (-not $EduRosterFallback) { $EduRosterFallback = (Get-AzdValue 'GRANT_EDUROSTER_FALLBACK') ?? 'true' }
Assert-Value $PrincipalId 'PrincipalId' 'run `azd provision` first, or pass -PrincipalId'
Assert-Value $TenantId 'TenantId' 'run `azd provision` first, or pass -TenantId'

$catalogue = Get-Content -Raw (Join-Path $PSScriptRoot '..' 'graph-permissions.json') | ConvertFrom-Json
$graphAppId = $catalogue.resourceAppId
function Test-Wanted($entry) {
    if (-not ($entry.PSObject.Properties['optional'] -and $entry.optional)) { return $true }
    $when = $entry.grantedWhen
    if ($when.variable -eq 'GRANT_EDUROSTER_FALLBACK') { return $EduRosterFallback -eq 'true' }
    $value = Get-AzdValue $when.variable
    if (-not $value) { return [bool]$when.default }
    return "$value".ToLowerInvariant() -eq 'true'
}
$wanted = @($catalogue.applicationPermissions | Where-Object { Test-Wanted $_ } | ForEach-Object { $_.permission })
$skipped = @($catalogue.applicationPermissions | Where-Object { -not (Test-Wanted $_) } |
    ForEach-Object { "$($_.permission) (off: $($_.grantedWhen.variable))" })

# Mailbox access is scoped by Exchange RBAC for Applications, never by an Entra app role.
$mailboxPattern = '^(Mail|Calendars|MailboxSettings|Contacts)\.'
$refused = @($wanted | Where-Object { $_ -match $mailboxPattern })
if ($refused) {
    throw "graph-permissions.json lists mailbox permission(s) $($refused -join ', ') as Entra app roles; grant them with grant-mailbox-access.ps1 instead"
}

foreach ($module in 'Microsoft.Graph.Authentication', 'Microsoft.Graph.Applications') {
    if (-not (Get-Module -ListAvailable -Name $module)) {
        throw "PowerShell module $module is missing: Install-Module Microsoft.Graph.Applications -Scope CurrentUser"
    }
}

Connect-MgGraph -TenantId $TenantId -Scopes 'AppRoleAssignment.ReadWrite.All', 'Application.Read.All' -NoWelcome

$graph = Get-MgServicePrincipal -Filter "appId eq '$graphAppId'"
$identity = Get-MgServicePrincipal -ServicePrincipalId $PrincipalId
Write-Host "Managed identity: $($identity.DisplayName) (app id $($identity.AppId))"

$roleIdByValue = @{}
foreach ($role in $graph.AppRoles) { $roleIdByValue[$role.Value] = $role.Id }
$valueByRoleId = @{}
foreach ($role in $graph.AppRoles) { $valueByRoleId[$role.Id] = $role.Value }

$held = @(Get-MgServicePrincipalAppRoleAssignment -ServicePrincipalId $PrincipalId -All |
    Where-Object { $_.ResourceId -eq $graph.Id })
$heldValues = @($held | ForEach-Object { $valueByRoleId[$_.AppRoleId] })

foreach ($permission in $wanted) {
    if (-not $roleIdByValue.ContainsKey($permission)) {
        throw "Microsoft Graph has no application permission named $permission"
    }
    if ($heldValues -contains $permission) {
        Write-Host "  kept     $permission"
        continue
    }
    if ($PSCmdlet.ShouldProcess($identity.DisplayName, "grant Microsoft Graph $permission")) {
        New-MgServicePrincipalAppRoleAssignment -ServicePrincipalId $PrincipalId -PrincipalId $PrincipalId `
            -ResourceId $graph.Id -AppRoleId $roleIdByValue[$permission] | Out-Null
        Write-Host "  granted  $permission"
    }
}

foreach ($assignment in $held) {
    $permission = $valueByRoleId[$assignment.AppRoleId]
    if ($wanted -contains $permission) { continue }
    if ($PSCmdlet.ShouldProcess($identity.DisplayName, "remove Microsoft Graph $permission")) {
        Remove-MgServicePrincipalAppRoleAssignment -ServicePrincipalId $PrincipalId -AppRoleAssignmentId $assignment.Id
        Write-Host "  removed  $permission (not in graph-permissions.json)"
    }
}

foreach ($line in $skipped) { Write-Host "  optional $line" }

Write-Host ''
Write-Host 'Next: grant-mailbox-access.ps1 (Exchange Online) and grant-teams-access-policy.ps1 (Teams); see README.md, Deploying vcaudit.'
