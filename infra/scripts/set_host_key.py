#!/usr/bin/env python3
"""Sets the host key ``graph-webhook`` to the azd environment's webhook key, once the app is running, and then
asks the app to create (or renew) its Graph subscriptions.

Run by ``azd up`` and ``azd deploy`` after the code is deployed (the postdeploy hook in azure.yaml), or by hand:
``azd hooks run postdeploy``. A function key is kept by the running Functions host, so it is set here, after
deployment, rather than in the Bicep, where it would race the app settings and storage role assignments
taking effect. Idempotent: a key that already has the right value is left alone.

1. ``az functionapp keys list``: skip when ``graph-webhook`` already holds the value;
2. ``az functionapp keys set --key-type functionKeys --key-name graph-webhook``, retried with back-off while
   the new app is still starting (https://learn.microsoft.com/cli/azure/functionapp/keys);
3. ``POST https://<app>/admin/functions/subscriptions_timer`` with the master key: runs the subscriptions timer
   now (https://learn.microsoft.com/azure/azure-functions/functions-manually-run-non-http), so Graph's
   validation handshake happens at once and a rotated key reaches the subscriptions.

It never fails the deployment: when something is missing it says what and prints the command that finishes
the job. Standard library only (runs outside vcaudit's virtual environment); needs the Azure CLI (``az``).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the hooks' shared helpers, beside this script
from hookrun import Runner, run

KEY_NAME = "graph-webhook"
ATTEMPTS = 8
FIRST_DELAY = 10.0  # seconds; doubled after each failed attempt, at most MAX_DELAY
MAX_DELAY = 60.0


def value(name: str) -> str:
    """From the hook's environment (azd exports its values), else from ``azd env get-value``."""
    found = os.environ.get(name, "").strip()
    if found or shutil.which("azd") is None:
        return found
    done = run(["azd", "env", "get-value", name])
    return done.stdout.strip() if done.returncode == 0 else ""


def set_command(group: str, app: str) -> list[str]:
    return ["az", "functionapp", "keys", "set", "--resource-group", group, "--name", app,
            "--key-type", "functionKeys", "--key-name", KEY_NAME, "--key-value"]


def list_keys(runner: Runner, group: str, app: str) -> tuple[dict[str, object] | None, str]:
    """The app's keys, or None and why not (the host may still be starting)."""
    done = runner(["az", "functionapp", "keys", "list", "--resource-group", group, "--name", app, "--output", "json"])
    if done.returncode != 0:
        lines = (done.stderr or done.stdout).strip().splitlines()
        return None, f"keys cannot be listed yet: {lines[-1] if lines else f'az exited with {done.returncode}'}"
    try:
        keys = json.loads(done.stdout or "{}")
    except ValueError:
        return None, "az answered something that is not JSON"
    return (keys, "") if isinstance(keys, dict) else (None, "az answered something that is not a key list")


def current_keys(runner: Runner, group: str, app: str) -> dict[str, object] | None:
    return list_keys(runner, group, app)[0]


def set_host_key(runner: Runner, group: str, app: str, key: str,
                 sleep: Callable[[float], None] = time.sleep, attempts: int = ATTEMPTS) -> tuple[str, str]:
    """('kept' | 'set' | 'failed', detail). Retries while the host is not ready (BadRequest, 404, 5xx)."""
    delay = FIRST_DELAY
    detail = ""
    for attempt in range(attempts):
        keys, why = list_keys(runner, group, app)
        if keys is not None:
            function_keys = keys.get("functionKeys") or {}
            if isinstance(function_keys, dict) and function_keys.get(KEY_NAME) == key:
                return "kept", ""
            done = runner([*set_command(group, app), key, "--output", "none"])
            if done.returncode == 0:
                return "set", ""
            lines = (done.stderr or done.stdout).strip().splitlines()
            detail = lines[-1] if lines else f"az exited with {done.returncode}"
        else:
            detail = why
        if attempt < attempts - 1:
            print(f"  host key not set yet ({detail or 'no detail'}); retrying in {delay:.0f} s", flush=True)
            sleep(delay)
            delay = min(delay * 2, MAX_DELAY)
    return "failed", detail


def renew_subscriptions(keys: dict[str, object] | None, base_url: str,
                        post: Callable[[str, dict[str, str]], int] | None = None) -> str:
    master = (keys or {}).get("masterKey")
    if not master or not base_url:
        return "skipped: the master key or the app's URL is not known"
    url = base_url.rstrip("/") + "/admin/functions/subscriptions_timer"
    status = (post or _post)(url, {"x-functions-key": str(master), "Content-Type": "application/json"})
    return "started" if status == 202 else f"answered {status}"


def _post(url: str, headers: dict[str, str]) -> int:
    request = urllib.request.Request(url, data=b"{}", headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return int(response.status)
    except urllib.error.HTTPError as err:
        return int(err.code)
    except OSError:
        return 0


def main(runner: Runner = run, sleep: Callable[[float], None] = time.sleep) -> int:
    group, app = value("AZURE_RESOURCE_GROUP"), value("AZURE_FUNCTION_APP_NAME")
    key, base_url = value("VCAUDIT_WEBHOOK_KEY"), value("SERVICE_API_URI")
    print("Webhook host key (graph-webhook):")
    if not (group and app and key):
        print("  not set: AZURE_RESOURCE_GROUP, AZURE_FUNCTION_APP_NAME or VCAUDIT_WEBHOOK_KEY is missing from the "
              "azd environment. Run `azd provision` first, then `azd hooks run postdeploy`.")
        return 0
    if shutil.which("az") is None and runner is run:
        print("  not set: the Azure CLI (az) is not installed. Install it (https://aka.ms/azcli), `az login`, then "
              "run `azd hooks run postdeploy`, or set it yourself:")
        print("  " + " ".join(set_command(group, app)) + ' "$(azd env get-value VCAUDIT_WEBHOOK_KEY)"')
        return 0
    outcome, detail = set_host_key(runner, group, app, key, sleep)
    if outcome == "failed":
        print(f"  NOT SET after {ATTEMPTS} attempts: {detail}")
        print("  Graph's deliveries are refused (401) until it is. Finish with `azd hooks run postdeploy`, or:")
        print("  " + " ".join(set_command(group, app)) + ' "$(azd env get-value VCAUDIT_WEBHOOK_KEY)"')
        return 0
    print(f"  {'already up to date' if outcome == 'kept' else 'set'}")
    print(f"Graph subscriptions: {renew_subscriptions(current_keys(runner, group, app), base_url)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
