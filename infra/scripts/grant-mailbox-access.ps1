#Requires -Version 7.2
<#
.SYNOPSIS
    Grants vcaudit's managed identity mailbox access through Exchange Online RBAC for Applications:
    "Application Mail.Send" on the digest sender mailbox only, and "Application Calendars.Read" on the
    monitored mailboxes only.

.DESCRIPTION
    Mail.Send and Calendars.Read are never granted as Entra app roles: those are tenant-wide, and Entra
    and Exchange permissions add up, so a tenant-wide grant would undo the scoping made here.
    (grant-graph-permissions.ps1 removes such a grant if it exists.)

    Steps, each skipped when already done (the script is safe to run again):
    1. Connect to Exchange Online (you need the Exchange Administrator or Organization Management role).
    2. New-ServicePrincipal: register the managed identity's service principal with Exchange.
    3. New-ManagementScope "vcaudit digest sender": exactly one mailbox, the sender.
    4. New-ManagementScope "vcaudit monitored mailboxes": the direct members of one mail-enabled security
       group that holds the staff and, when pupils' calendars are watched, the pupils. Exchange's
       MemberOfGroup filter does not expand nested groups: add people to this group directly.
    5. New-ManagementRoleAssignment "Application Mail.Send" with the sender scope.
    6. New-ManagementRoleAssignment "Application Calendars.Read" with the monitored-mailboxes scope.
    7. Test-ServicePrincipalAuthorization: shows what the identity may do on the sender, on one monitored
       mailbox and, if given, on one mailbox that must stay out of reach.

    Needs the ExchangeOnlineManagement PowerShell module: Install-Module ExchangeOnlineManagement -Scope CurrentUser

.PARAMETER SenderMailbox
    The mailbox the digest and alerts are sent from (VCAUDIT_DIGEST_SENDER). Default: the azd environment value.

.PARAMETER MonitoredGroup
    Name, alias or address of the mail-enabled security group whose members' calendars vcaudit reads.

.PARAMETER SampleMonitoredMailbox
    A member of MonitoredGroup, to show that the scope covers it.

.PARAMETER OutOfScopeMailbox
    Optional: a mailbox that is neither the sender nor monitored (for example the head's), to show that the
    identity has no access to it.

.PARAMETER AppId
    Client (application) id of the managed identity. Default: the azd output AZURE_FUNCTION_IDENTITY_CLIENT_ID.

.PARAMETER ServicePrincipalObjectId
    Object id of the managed identity's service principal (the enterprise application, not an app
    registration). Default: the azd output AZURE_FUNCTION_IDENTITY_PRINCIPAL_ID.

.EXAMPLE
    ./infra/scripts/grant-mailbox-access.ps1 -MonitoredGroup vcaudit-monitored@school.sch.uk -SampleMonitoredMailbox teacher@school.sch.uk
#>
[CmdletBinding(SupportsShouldProcess)]
param(
    [string] $SenderMailbox,
    [Parameter(Mandatory)] [string] $MonitoredGroup,
    [Parameter(Mandatory)] [string] $SampleMonitoredMailbox,
    [string] $OutOfScopeMailbox,
    [string] $AppId,
    [string] $ServicePrincipalObjectId,
    [string] $Prefix = 'vcaudit'
)

$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest
. (Join-Path $PSScriptRoot 'AzdValues.ps1')

if (-not $SenderMailbox) { $SenderMailbox = Get-AzdValue 'VCAUDIT_DIGEST_SENDER' }
if (-not $AppId) { $AppId = Get-AzdValue 'AZURE_FUNCTION_IDENTITY_CLIENT_ID' }
if (-not $ServicePrincipalObjectId) { $ServicePrincipalObjectId = Get-AzdValue 'AZURE_FUNCTION_IDENTITY_PRINCIPAL_ID' }
Assert-Value $SenderMailbox 'SenderMailbox' 'pass -SenderMailbox or `azd env set VCAUDIT_DIGEST_SENDER <address>`'
Assert-Value $AppId 'AppId' 'run `azd provision` first, or pass -AppId'
Assert-Value $ServicePrincipalObjectId 'ServicePrincipalObjectId' 'run `azd provision` first, or pass -ServicePrincipalObjectId'

if (-not (Get-Module -ListAvailable -Name ExchangeOnlineManagement)) {
    throw 'PowerShell module ExchangeOnlineManagement is missing: Install-Module ExchangeOnlineManagement -Scope CurrentUser'
}
Connect-ExchangeOnline -ShowBanner:$false

# 2. The Exchange pointer to the Entra service principal of the managed identity.
$servicePrincipal = Get-ServicePrincipal -Identity $AppId -ErrorAction SilentlyContinue
if (-not $servicePrincipal -and $PSCmdlet.ShouldProcess($AppId, 'New-ServicePrincipal')) {
    $servicePrincipal = New-ServicePrincipal -AppId $AppId -ObjectId $ServicePrincipalObjectId -DisplayName $Prefix
}

function Set-Scope {
    param([string] $Name, [string] $Filter)
    $scope = Get-ManagementScope -Identity $Name -ErrorAction SilentlyContinue
    if (-not $scope) {
        if ($PSCmdlet.ShouldProcess($Name, "New-ManagementScope $Filter")) {
            New-ManagementScope -Name $Name -RecipientRestrictionFilter $Filter | Out-Null
        }
    } elseif ($scope.RecipientFilter -ne $Filter) {
        if ($PSCmdlet.ShouldProcess($Name, "Set-ManagementScope $Filter")) {
            Set-ManagementScope -Identity $Name -RecipientRestrictionFilter $Filter
        }
    }
}

function Set-RoleAssignment {
    param([string] $Name, [string] $Role, [string] $Scope)
    $existing = Get-ManagementRoleAssignment -Identity $Name -ErrorAction SilentlyContinue
    if ($existing) {
        if ($existing.CustomResourceScope -ne $Scope -and $PSCmdlet.ShouldProcess($Name, "Set-ManagementRoleAssignment -CustomResourceScope $Scope")) {
            Set-ManagementRoleAssignment -Identity $Name -CustomResourceScope $Scope
        }
        return
    }
    if ($PSCmdlet.ShouldProcess($Name, "New-ManagementRoleAssignment -Role '$Role' -CustomResourceScope $Scope")) {
        New-ManagementRoleAssignment -Name $Name -App $AppId -Role $Role -CustomResourceScope $Scope | Out-Null
    }
}

# 3. The sender: one mailbox.
$sender = Get-Mailbox -Identity $SenderMailbox
$senderScope = "$Prefix digest sender"
Set-Scope -Name $senderScope -Filter "PrimarySmtpAddress -eq '$($sender.PrimarySmtpAddress)'"

# 4. The monitored mailboxes: direct members of one mail-enabled security group.
$group = Get-DistributionGroup -Identity $MonitoredGroup
if ($group.RecipientTypeDetails -ne 'MailUniversalSecurityGroup') {
    throw "$MonitoredGroup is a $($group.RecipientTypeDetails); use a mail-enabled security group"
}
$monitoredScope = "$Prefix monitored mailboxes"
Set-Scope -Name $monitoredScope -Filter "MemberOfGroup -eq '$($group.DistinguishedName)'"

# 5 and 6. The two application roles, each bound to its scope.
Set-RoleAssignment -Name "$Prefix Mail.Send" -Role 'Application Mail.Send' -Scope $senderScope
Set-RoleAssignment -Name "$Prefix Calendars.Read" -Role 'Application Calendars.Read' -Scope $monitoredScope

# 7. What the identity may do now. InScope must be True for the first two and False for the third.
Write-Host "`nSender ($SenderMailbox):"
Test-ServicePrincipalAuthorization -Identity $AppId -Resource $SenderMailbox | Format-Table RoleName, AllowedResourceScope, InScope
Write-Host "Monitored mailbox ($SampleMonitoredMailbox):"
Test-ServicePrincipalAuthorization -Identity $AppId -Resource $SampleMonitoredMailbox | Format-Table RoleName, AllowedResourceScope, InScope
if ($OutOfScopeMailbox) {
    Write-Host "Out of scope ($OutOfScopeMailbox):"
    Test-ServicePrincipalAuthorization -Identity $AppId -Resource $OutOfScopeMailbox | Format-Table RoleName, AllowedResourceScope, InScope
}
Write-Host 'Exchange can take a while (up to about two hours) before the new scopes apply to Graph requests.'
