# Shared by the scripts in this folder: reads a value from the process environment (set by azd when it
# runs a hook) or, when run by hand, from the current azd environment (`azd env get-value`).
function Get-AzdValue {
    param([Parameter(Mandatory)] [string] $Name)
    $value = [Environment]::GetEnvironmentVariable($Name)
    if (-not $value -and (Get-Command azd -ErrorAction SilentlyContinue)) {
        $value = (& azd env get-value $Name 2>$null)
        if ($LASTEXITCODE -ne 0) { $value = $null }
    }
    if ($value) { return "$value".Trim() }
    return $null
}

function Assert-Value {
    param([string] $Value, [Parameter(Mandatory)] [string] $Name, [Parameter(Mandatory)] [string] $Hint)
    if (-not $Value) { throw "$Name is not set: $Hint" }
}
