#!/usr/bin/env python3
"""After ``azd provision``: grant the managed identity its Microsoft Graph permissions, without ever blocking
the code deployment.

Run by ``azd up`` / ``azd provision`` (the postprovision hook in azure.yaml) and safe to re-run at any time with
``azd hooks run postprovision``. It:

1. says what the grant needs before starting: PowerShell 7.2+ (``pwsh``), the Microsoft.Graph.Authentication
   and Microsoft.Graph.Applications modules, and an account holding Privileged Role Administrator (or Global
   Administrator);
2. runs infra/scripts/grant-graph-permissions.ps1, retrying while Entra ID does not yet know the new identity's
   service principal ("does not exist", "not found": replication takes seconds to minutes);
3. prints exactly what is missing and the command that finishes it, and the remaining one-off steps
   (Exchange RBAC for Applications, the Teams application access policy);
4. exits 0 whatever happened, so ``azd up`` goes on to deploy the code. Health then names any Graph
   permission still missing.

Standard library only: it runs on the operator's machine, outside vcaudit's virtual environment.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the hooks' shared helpers, beside this script
from hookrun import Result, Runner, run

HERE = Path(__file__).resolve().parent
GRANT_SCRIPT = HERE / "grant-graph-permissions.ps1"
MODULES = ("Microsoft.Graph.Authentication", "Microsoft.Graph.Applications")
ATTEMPTS = 6
FIRST_DELAY = 15.0
# Entra ID has not replicated the new identity yet: retry rather than report.
NOT_YET = re.compile(r"does not exist|not found|Request_ResourceNotFound|could not be found", re.IGNORECASE)
# The signed-in account may not grant app roles.
DENIED = re.compile(r"Authorization_RequestDenied|Insufficient privileges|Forbidden", re.IGNORECASE)
RERUN = "azd hooks run postprovision"
BY_HAND = "pwsh ./infra/scripts/grant-graph-permissions.ps1"


def run_live(argv: Sequence[str]) -> Result:
    """Interactive: the grant script signs the operator in to Microsoft Graph, so its output goes to the console
    as it happens (and is captured for the diagnosis)."""
    process = subprocess.Popen(list(argv), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    assert process.stdout is not None
    for line in process.stdout:
        print("  " + line.rstrip(), flush=True)
        lines.append(line)
    return Result(process.wait(), "".join(lines), "")


def missing_prerequisites(runner: Runner, which: Callable[[str], str | None] = shutil.which) -> list[str]:
    """What the grant script needs that this machine lacks, each with the command that installs it."""
    if which("pwsh") is None:
        return ["PowerShell 7.2 or later (pwsh) is not installed: "
                "https://learn.microsoft.com/powershell/scripting/install/installing-powershell"]
    version = runner(["pwsh", "-NoProfile", "-Command", "$PSVersionTable.PSVersion.ToString()"])
    problems = []
    match = re.match(r"(\d+)\.(\d+)", version.stdout.strip())
    if version.returncode != 0 or not match or (int(match[1]), int(match[2])) < (7, 2):
        problems.append(f"PowerShell 7.2 or later is needed (pwsh reports {version.stdout.strip() or 'nothing'})")
    listed = runner(["pwsh", "-NoProfile", "-Command",
                     f"Get-Module -ListAvailable -Name {','.join(MODULES)} | ForEach-Object Name"])
    have = set(listed.stdout.split())
    for module in MODULES:
        if module not in have:
            problems.append(f"PowerShell module {module} is missing: "
                            "pwsh -Command 'Install-Module Microsoft.Graph.Applications -Scope CurrentUser'")
    return problems


def grant(runner: Runner, sleep: Callable[[float], None] = time.sleep, attempts: int = ATTEMPTS) -> tuple[str, str]:
    """('granted' | 'denied' | 'not-found' | 'failed', last output line)."""
    delay = FIRST_DELAY
    last = ""
    for attempt in range(attempts):
        done = runner(["pwsh", "-NoProfile", "-File", str(GRANT_SCRIPT)])
        output = (done.stdout + "\n" + done.stderr).strip()
        lines = [line for line in output.splitlines() if line.strip()]
        last = lines[-1].strip() if lines else ""
        if done.returncode == 0:
            return "granted", last
        if DENIED.search(output):
            return "denied", last
        if not NOT_YET.search(output):
            return "failed", last
        if attempt < attempts - 1:
            print(f"  the new identity is not known to Entra ID yet; retrying in {delay:.0f} s", flush=True)
            sleep(delay)
            delay = min(delay * 2, 120.0)
    return "not-found", last


def report(outcome: str, last: str) -> list[str]:
    if outcome == "granted":
        return ["Microsoft Graph permissions: granted (infra/graph-permissions.json)."]
    why = {
        "denied": "your account may not grant application permissions; sign in as a Privileged Role "
                  "Administrator (or Global Administrator), or ask one to run it",
        "not-found": "Entra ID still does not know the managed identity; wait a few minutes",
        "failed": "the grant script stopped",
    }[outcome]
    return [f"Microsoft Graph permissions: NOT GRANTED: {why}.",
            f"  last message: {last}" if last else "  (no message)",
            f"  finish with: {RERUN}   (or by hand: {BY_HAND})",
            "  Until then vcaudit's health endpoint names each missing permission."]


NEXT_STEPS = [
    "Still to do once, by hand (README.md, Deploying vcaudit, steps 3 and 4):",
    "  pwsh ./infra/scripts/grant-mailbox-access.ps1 -MonitoredGroup <group> -SampleMonitoredMailbox <member>",
    "  pwsh ./infra/scripts/grant-teams-access-policy.ps1 -WhatIf   # who would be covered; then without -WhatIf",
]


def main(runner: Runner = run, live: Runner = run_live, sleep: Callable[[float], None] = time.sleep,
         which: Callable[[str], str | None] = shutil.which) -> int:
    print("vcaudit after provisioning: the Microsoft Graph permissions of the managed identity")
    print("  needs: PowerShell 7.2+ with Microsoft.Graph.Authentication and Microsoft.Graph.Applications, and a "
          "Privileged Role Administrator (or Global Administrator) to sign in when asked.")
    problems = missing_prerequisites(runner, which)
    if problems:
        print("Microsoft Graph permissions: NOT GRANTED, this machine lacks:")
        for problem in problems:
            print(f"  - {problem}")
        print(f"  then: {RERUN}")
        print("  The code is deployed anyway; vcaudit's health endpoint names each missing permission.")
    else:
        for line in report(*grant(live, sleep)):
            print(line)
    for line in NEXT_STEPS:
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
