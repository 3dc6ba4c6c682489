#Requires -Version 7.2
<#
.SYNOPSIS
    Creates the Teams application access policy that lets vcaudit's managed identity read online meetings,
    attendance reports, recordings and transcripts, and grants it to the staff AND pupil groups.

.DESCRIPTION
    Microsoft Graph returns a meeting to an application only when a Teams application access policy naming
    the application covers the meeting's organiser. Pupils are included on purpose: a meeting a pupil
    organises (pupils back in a call after school) is the riskiest one to miss.

    Steps, each skipped when already done (the script is safe to run again):
    1. Connect to Microsoft Teams (you need the Teams Administrator role).
    2. New-CsApplicationAccessPolicy "vcaudit-meetings" naming the identity's client id, or add the client
       id to that policy if it already exists.
    3. Grant it:
       - by default to each staff and pupil group (Grant-CsApplicationAccessPolicy -Group, with a rank);
         group members get it through group policy assignment, which follows membership changes;
       - or, with -Global, to the whole organisation. Choose -Global when the groups do not cover
         everyone who may organise a meeting with pupils (supply staff, new starters added late, visiting
         coaches with school accounts); the price is that vcaudit may then read the settings of any
         meeting in the tenant, which your data protection record should say.

    A user has at most one application access policy. A policy assigned directly to a user wins over a
    group assignment, and a group assignment with a better (lower) rank wins over ours. If other
    applications already use application access policies, add vcaudit's client id to those policies
    (Set-CsApplicationAccessPolicy -Identity <policy> -AppIds @{Add='<client id>'}) rather than replacing
    them. Changes take up to 30 minutes to apply.

    Needs the MicrosoftTeams PowerShell module: Install-Module MicrosoftTeams -Scope CurrentUser

.PARAMETER StaffGroupIds
    Object ids of the staff groups. Default: the azd environment's staffGroupIds parameter value
    (VCAUDIT_STAFF_GROUP_IDS).

.PARAMETER PupilGroupIds
    Object ids of the pupil groups (VCAUDIT_PUPIL_GROUP_IDS).

.PARAMETER Global
    Grant the policy to the whole organisation instead of to the groups.

.PARAMETER Rank
    Rank of the first group assignment (1 is the highest priority); later groups get the next ranks.

.PARAMETER AppId
    Client id of the managed identity. Default: the azd output AZURE_FUNCTION_IDENTITY_CLIENT_ID.

.EXAMPLE
    ./infra/scripts/grant-teams-access-policy.ps1 -StaffGroupIds 11111111-1111-1111-1111-111111111111 -PupilGroupIds 22222222-2222-2222-2222-222222222222
#>
[CmdletBinding(SupportsShouldProcess)]
param(
    [string[]] $StaffGroupIds,
    [string[]] $PupilGroupIds,
    [switch] $Global,
    [ValidateRange(1, 1000)]
    [int] $Rank = 1,
    [string] $AppId,
    [string] $PolicyName = 'vcaudit-meetings'
)

$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest
. (Join-Path $PSScriptRoot 'AzdValues.ps1')

function Split-Ids([string[]] $Ids) {
    @($Ids | ForEach-Object { "$_" -split ',' } | ForEach-Object { $_.Trim() } | Where-Object { $_ })
}

if (-not $AppId) { $AppId = Get-AzdValue 'AZURE_FUNCTION_IDENTITY_CLIENT_ID' }
Assert-Value $AppId 'AppId' 'run `azd provision` first, or pass -AppId'
if (-not $Global) {
    if (-not $StaffGroupIds) { $StaffGroupIds = Get-AzdValue 'VCAUDIT_STAFF_GROUP_IDS' }
    if (-not $PupilGroupIds) { $PupilGroupIds = Get-AzdValue 'VCAUDIT_PUPIL_GROUP_IDS' }
    $StaffGroupIds = Split-Ids $StaffGroupIds
    $PupilGroupIds = Split-Ids $PupilGroupIds
    if (-not $StaffGroupIds) { throw 'No staff groups: pass -StaffGroupIds (or -Global)' }
    if (-not $PupilGroupIds) { throw 'No pupil groups: pass -PupilGroupIds (or -Global). Pupil-organised meetings must be covered too.' }
}

if (-not (Get-Module -ListAvailable -Name MicrosoftTeams)) {
    throw 'PowerShell module MicrosoftTeams is missing: Install-Module MicrosoftTeams -Scope CurrentUser'
}
Connect-MicrosoftTeams | Out-Null

# 2. The policy naming vcaudit's identity.
$policy = Get-CsApplicationAccessPolicy -Identity $PolicyName -ErrorAction SilentlyContinue
if (-not $policy) {
    if ($PSCmdlet.ShouldProcess($PolicyName, "New-CsApplicationAccessPolicy -AppIds $AppId")) {
        New-CsApplicationAccessPolicy -Identity $PolicyName -AppIds $AppId `
            -Description 'vcaudit: read meetings of staff and pupils for safeguarding compliance checks' | Out-Null
    }
} elseif ($policy.AppIds -notcontains $AppId) {
    if ($PSCmdlet.ShouldProcess($PolicyName, "add $AppId")) {
        Set-CsApplicationAccessPolicy -Identity $PolicyName -AppIds @{ Add = $AppId }
    }
}

# 3. Who it covers.
if ($Global) {
    if ($PSCmdlet.ShouldProcess('the whole organisation', "Grant-CsApplicationAccessPolicy $PolicyName -Global")) {
        Grant-CsApplicationAccessPolicy -PolicyName $PolicyName -Global
    }
} else {
    $next = $Rank
    foreach ($groupId in @($StaffGroupIds) + @($PupilGroupIds)) {
        if ($PSCmdlet.ShouldProcess("group $groupId", "Grant-CsApplicationAccessPolicy $PolicyName -Rank $next")) {
            Grant-CsApplicationAccessPolicy -PolicyName $PolicyName -Group $groupId -Rank $next
        }
        $next++
    }
}

Write-Host "Granted. Allow up to 30 minutes before Graph returns meetings; check one organiser with:"
Write-Host "  Get-CsOnlineUser -Identity <user> | Select-Object ApplicationAccessPolicy"
