"""The deployed policy: ``VCAUDIT_POLICY_FILE`` resolved against the app root and loaded once per process.

The Functions host does not promise the worker's working directory is the app root, so a relative setting is
read from the deployed package, never from wherever the process happens to run. Every part of the app that
evaluates or reports (the pipeline, the digest, the same-day alerts, the admin commands) takes the policy it
loaded here.
"""

from __future__ import annotations

from pathlib import Path

from shared.policy.policyfile import Policy, default_policy, load_policy

APP_ROOT = Path(__file__).resolve().parent.parent.parent


def policy_path(setting: str) -> Path | None:
    """``VCAUDIT_POLICY_FILE``, relative to the app root (the deployed package), not to the worker's directory."""
    if not setting:
        return None
    path = Path(setting)
    return path if path.is_absolute() else APP_ROOT / path


def deployed_policy(setting: str) -> Policy:
    """The school's policy named by ``VCAUDIT_POLICY_FILE``; the built-in default when it is empty."""
    path = policy_path(setting)
    return load_policy(path) if path is not None else default_policy()
