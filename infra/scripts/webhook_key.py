#!/usr/bin/env python3
"""The webhook key Graph presents with every delivery (``?code=``), kept in the azd environment.

``azd up`` runs ``ensure`` before provisioning (the preprovision hook in azure.yaml): it generates the key once
and stores it with ``azd env set VCAUDIT_WEBHOOK_KEY``; infra/main.parameters.json passes it to the Bicep, which
writes it as the app setting VCAUDIT_WEBHOOK_KEY. Every later ``azd provision`` finds the key already there and
changes nothing, so live Graph subscriptions keep working. ``rotate`` replaces it on purpose (see README.md,
Deploying vcaudit, "Rotating the webhook key").

    python3 infra/scripts/webhook_key.py ensure      # idempotent: generate once
    python3 infra/scripts/webhook_key.py rotate      # a new key; then azd provision and azd hooks run postdeploy

Standard library only: it runs on the operator's machine, outside vcaudit's virtual environment.
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import subprocess
import sys
from collections.abc import Callable

NAME = "VCAUDIT_WEBHOOK_KEY"
MIN_LENGTH = 32


def new_key() -> str:
    """64 URL-safe characters (48 random bytes): valid in a function key and in a ``?code=`` query string."""
    return secrets.token_urlsafe(48)


def _azd(*args: str) -> subprocess.CompletedProcess[str]:
    azd = shutil.which("azd")
    if azd is None:
        raise SystemExit("azd is not installed or not on PATH: https://aka.ms/azd")
    return subprocess.run([azd, *args], capture_output=True, text=True, check=False)


def azd_get(name: str) -> str:
    """The value in the current azd environment, or '' when it is not set."""
    done = _azd("env", "get-value", name)
    return done.stdout.strip() if done.returncode == 0 else ""


def azd_set(name: str, value: str) -> None:
    done = _azd("env", "set", name, value)
    if done.returncode != 0:
        raise SystemExit(f"azd env set {name} failed: {done.stderr.strip() or done.stdout.strip()}")


def ensure(get: Callable[[str], str] = azd_get, put: Callable[[str, str], None] = azd_set,
           make: Callable[[], str] = new_key) -> tuple[str, bool]:
    """The key, generating and storing it only when the environment has none (or one too short to be a key).
    Returns (key, created)."""
    current = get(NAME).strip()
    if len(current) >= MIN_LENGTH:
        return current, False
    key = make()
    put(NAME, key)
    return key, True


def rotate(put: Callable[[str, str], None] = azd_set, make: Callable[[], str] = new_key) -> str:
    key = make()
    put(NAME, key)
    return key


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=("ensure", "rotate"))
    args = parser.parse_args(argv)
    if args.action == "ensure":
        # Inside an azd hook the environment's values are also process variables; azd env is the source of truth.
        _, created = ensure()
        print(f"{NAME}: {'generated and stored in the azd environment' if created else 'kept (already set)'}")
        return 0
    rotate()
    env = os.environ.get("AZURE_ENV_NAME", "the current azd environment")
    print(f"{NAME}: a new key is stored in {env}. Now run `azd provision`, then `azd hooks run postdeploy` "
          "(sets the host key graph-webhook and renews the Graph subscriptions with the new key).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
