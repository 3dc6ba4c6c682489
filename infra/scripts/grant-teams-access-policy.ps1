#Requires -Version 7.2
<#
.SYNOPSIS
    Creates the Teams application access policy that lets vcaudit's managed identity read online meetings,
    attendance reports, recordings and transcripts, and grants it to every staff member and pupil: each
    user in the staff and pupil groups, nested groups included.

.DESCRIPTION
    Microsoft Graph returns a meeting to an application only when a Teams application access policy naming
    the application covers the meeting's organiser
    (https://learn.microsoft.com/graph/cloud-communication-online-meeting-application-access-policy).
    Pupils are included on purpose: a meeting a pupil organises is the riskiest one to miss.

    Why per user: vcaudit decides who is staff or a pupil by TRANSITIVE membership of the staff and pupil
    groups (year groups nested in "All pupils"), but a policy granted to a group reaches its DIRECT members
    only, not members of nested groups, and can take up to 24 hours to propagate
    (https://learn.microsoft.com/powershell/module/teams/new-csgrouppolicyassignment). So this script reads
    each group's transitive user members from Microsoft Graph and grants the policy to each user directly
    (https://learn.microsoft.com/powershell/module/teams/grant-csapplicationaccesspolicy).

    Steps, each skipped when already done (safe to re-run; re-run it after adding people, or schedule it):
    1. Connect to Microsoft Graph (delegated GroupMember.Read.All, User.Read.All) and list the transitive user
       members of every staff and pupil group.
    2. Connect to Microsoft Teams (you need the Teams Administrator role).
    3. New-CsApplicationAccessPolicy "vcaudit-meetings" naming the identity's client id, or add the client id
       to that policy if it already exists.
    4. For each user: already holding "vcaudit-meetings": kept; holding no policy: granted; holding another
       application access policy: NOT changed (a user has only one, and replacing it would cut off the other
       application) but listed, with the command that adds vcaudit's client id to that policy.
    With -WhatIf it only lists what it would do, user by user (the dry run).

    -Global instead grants the policy as the organisation's default: it covers every user without a policy
    of their own, including people the groups miss (supply staff, late starters, coaches with school
    accounts), and no re-run is needed when people join. The trade-off: vcaudit's identity may then read the
    meetings, attendance, recordings and transcripts of EVERY organiser in the tenant (staff-only meetings,
    governors, HR), which the data protection record must say; the per-user grant keeps it to staff and pupils.

    Needs the MicrosoftTeams and Microsoft.Graph.Groups PowerShell modules:
        Install-Module MicrosoftTeams, Microsoft.Graph.Groups -Scope CurrentUser

.PARAMETER StaffGroupIds
    Object ids of the staff groups. Default: the azd environment value VCAUDIT_STAFF_GROUP_IDS.

.PARAMETER PupilGroupIds
    Object ids of the pupil groups. Default: VCAUDIT_PUPIL_GROUP_IDS.

.PARAMETER Global
    Grant the policy to the whole organisation instead (see the trade-off above).

.PARAMETER AppId
    Client id of the managed identity. Default: the azd output AZURE_FUNCTION_IDENTITY_CLIENT_ID.

.PARAMETER TenantId
    The school's tenant. Default: the azd output AZURE_TENANT_ID.

.EXAMPLE
    ./infra/scripts/grant-teams-access-policy.ps1 -WhatIf      # the dry run: who would be granted, kept, or skipped
    ./infra/scripts/grant-teams-access-policy.ps1              # grant
#>
[CmdletBinding(SupportsShouldProcess)]
param(
    [string[]] $StaffGroupIds,
    [string[]] $PupilGroupIds,
    [switch] $Global,
    [string] $AppId,
    [string] $TenantId,
    [string] $PolicyName = 'vcaudit-meetings'
)

$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest
. (Join-Path $PSScriptRoot 'AzdValues.ps1')

function Split-Ids([string[]] $Ids) {
    @($Ids | ForEach-Object { "$_" -split ',' } | ForEach-Object { $_.Trim() } | Where-Object { $_ })
}

if (-not $AppId) { $AppId = Get-AzdValue 'AZURE_FUNCTION_IDENTITY_CLIENT_ID' }
if (-not $TenantId) { $TenantId = Get-AzdValue 'AZURE_TENANT_ID' }
Assert-Value $AppId 'AppId' 'run `azd provision` first, or pass -AppId'
$modules = @('MicrosoftTeams')
if (-not $Global) {
    if (-not $StaffGroupIds) { $StaffGroupIds = Get-AzdValue 'VCAUDIT_STAFF_GROUP_IDS' }
    if (-not $PupilGroupIds) { $PupilGroupIds = Get-AzdValue 'VCAUDIT_PUPIL_GROUP_IDS' }
    $StaffGroupIds = Split-Ids $StaffGroupIds
    $PupilGroupIds = Split-Ids $PupilGroupIds
    if (-not $StaffGroupIds) { throw 'No staff groups: pass -StaffGroupIds (or -Global)' }
    if (-not $PupilGroupIds) { throw 'No pupil groups: pass -PupilGroupIds (or -Global). Pupil-organised meetings must be covered too.' }
    $modules += 'Microsoft.Graph.Groups'
}
foreach ($module in $modules) {
    if (-not (Get-Module -ListAvailable -Name $module)) {
        throw "PowerShell module $module is missing: Install-Module $module -Scope CurrentUser"
    }
}

# 1. Everyone the policy must cover: transitive user members of the staff and pupil groups.
$people = [ordered]@{}
if (-not $Global) {
    $graphArgs = @{ Scopes = @('GroupMember.Read.All', 'User.Read.All'); NoWelcome = $true }
    if ($TenantId) { $graphArgs.TenantId = $TenantId }
    Connect-MgGraph @graphArgs
    foreach ($groupId in @($StaffGroupIds) + @($PupilGroupIds)) {
        $members = @(Get-MgGroupTransitiveMemberAsUser -GroupId $groupId -All -Property 'id,userPrincipalName')
        Write-Host "Group $groupId : $($members.Count) users (nested groups included)"
        foreach ($user in $members) { $people[$user.Id] = $user.UserPrincipalName }
    }
    Write-Host "$($people.Count) staff and pupils to cover."
}

# 2 and 3. The policy naming vcaudit's identity.
Connect-MicrosoftTeams | Out-Null
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

# 4. Who it covers.
if ($Global) {
    if ($PSCmdlet.ShouldProcess('the whole organisation', "Grant-CsApplicationAccessPolicy $PolicyName -Global")) {
        Grant-CsApplicationAccessPolicy -PolicyName $PolicyName -Global
    }
    Write-Host 'Granted to the whole organisation (users with a policy of their own keep it).'
} else {
    $grantLabel = if ($WhatIfPreference) { 'would grant' } else { 'granted' }
    $counts = [ordered]@{ kept = 0; $grantLabel = 0; 'other policy' = 0; 'not in Teams' = 0 }
    foreach ($id in $people.Keys) {
        $upn = $people[$id]
        $teamsUser = Get-CsOnlineUser -Identity $id -ErrorAction SilentlyContinue
        if (-not $teamsUser) {
            Write-Host "  not in Teams   $upn"
            $counts['not in Teams']++
            continue
        }
        $held = "$($teamsUser.ApplicationAccessPolicy)"
        if ($held -eq $PolicyName -or $held -eq "Tag:$PolicyName") {
            $counts.kept++
            continue
        }
        if ($held) {
            Write-Host "  other policy   $upn holds '$held': add vcaudit to it with Set-CsApplicationAccessPolicy -Identity '$held' -AppIds @{Add='$AppId'}"
            $counts['other policy']++
            continue
        }
        if ($PSCmdlet.ShouldProcess($upn, "Grant-CsApplicationAccessPolicy -PolicyName $PolicyName")) {
            Grant-CsApplicationAccessPolicy -Identity $id -PolicyName $PolicyName
            Write-Host "  granted        $upn"
        } else {
            Write-Host "  would grant    $upn"
        }
        $counts[$grantLabel]++
    }
    $summary = ($counts.GetEnumerator() | ForEach-Object { "$($_.Value) $($_.Key)" }) -join ', '
    Write-Host "Summary: $summary."
}

Write-Host 'Graph honours a new grant within about 30 minutes. Check one organiser with:'
Write-Host '  Get-CsOnlineUser -Identity <user> | Select-Object ApplicationAccessPolicy'
