"""The policy file's ``[prevent]`` table: nudging the organising teacher before a lesson, and enforce mode.

```toml
[prevent]
nudges = true                 # email the organising teacher when a lesson's options break the policy
horizon_days = 14             # never for lessons starting further ahead than this (until they come within it)
quiet_hours = [20, 7]         # local hours [from, to): no nudge is sent between them (held until morning)
daily_cap = 5                 # most nudges one teacher receives in a day
enforce = []                  # onlineMeeting properties vcaudit may put right itself (opt-in, per property)
enforce_mode = "dry-run"      # "dry-run": say what would change; "on": PATCH the meeting
enforce_during_call = false   # never change a meeting while its call is live unless the school opts in
```

Every mistake is a one-line :class:`~shared.policy.policyfile.PolicyError` naming the key.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from shared.policy.catalogue import catalogue

# The onlineMeeting properties enforce may set, and the rule whose finding each corrects. Graph's update
# (PATCH /users/{userId}/onlineMeetings/{meetingId}) lists them among the properties that can be updated:
# https://learn.microsoft.com/en-us/graph/api/onlinemeeting-update?view=graph-rest-1.0
ENFORCEABLE: dict[str, str] = {option: spec.id for spec in catalogue().values() for option in spec.options}
ENFORCE_MODES = ("dry-run", "on")
KEYS = ("nudges", "horizon_days", "quiet_hours", "daily_cap", "enforce", "enforce_mode", "enforce_during_call")


@dataclass(frozen=True, slots=True)
class PreventPolicy:
    nudges: bool = True
    horizon_days: int = 14
    quiet_hours: tuple[int, int] = (20, 7)
    daily_cap: int = 5
    enforce: tuple[str, ...] = ()
    enforce_mode: str = "dry-run"
    enforce_during_call: bool = False


def parse_prevent(where: str, data: Any, base: PreventPolicy, error: type[ValueError]) -> PreventPolicy:
    """``data`` (the ``[prevent]`` table) laid over ``base``; ``error`` is raised with a one-line message."""
    if not isinstance(data, dict):
        raise error(f"{where}: expected a table")
    values: dict[str, Any] = {}
    for key, value in data.items():
        if key not in KEYS:
            raise error(f"{where}: unknown key '{key}'; expected one of {', '.join(KEYS)}")
        if key in ("nudges", "enforce_during_call"):
            if not isinstance(value, bool):
                raise error(f"{where}.{key}: expected true or false")
            values[key] = value
        elif key in ("horizon_days", "daily_cap"):
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise error(f"{where}.{key}: expected a whole number, zero or more")
            values[key] = value
        elif key == "quiet_hours":
            if (not isinstance(value, list) or len(value) != 2
                    or not all(isinstance(h, int) and not isinstance(h, bool) and 0 <= h <= 23 for h in value)):
                raise error(f"{where}.quiet_hours: expected two local hours [from, to], each 0-23")
            values[key] = (value[0], value[1])
        elif key == "enforce":
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise error(f"{where}.enforce: expected a list of meeting option names")
            unknown = [v for v in value if v not in ENFORCEABLE]
            if unknown:
                raise error(f"{where}.enforce: '{unknown[0]}' cannot be enforced; expected some of "
                            f"{', '.join(ENFORCEABLE)}")
            values[key] = tuple(dict.fromkeys(value))
        elif key == "enforce_mode":
            if value not in ENFORCE_MODES:
                raise error(f"{where}.enforce_mode: expected one of {', '.join(ENFORCE_MODES)}, got {value!r}")
            values[key] = value
    from dataclasses import replace

    return replace(base, **values)
