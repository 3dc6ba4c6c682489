"""The policy file (TOML): which rules run, at what severity, with what parameters.

The built-in default (``default.toml`` beside this module) encodes the school's written policy. A school's
file overrides it key by key. Every mistake is a one-line :class:`PolicyError` naming the file, the key and
what was expected; a deployment setting put here is refused with the app setting that holds it.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from shared.policy.catalogue import SEVERITIES, Param, RuleSpec, catalogue
from shared.policy.prevent import PreventPolicy, parse_prevent
from shared.settings import SETTINGS_KEYS_IN_POLICY

RULE_KEYS = ("enabled", "severity", "reason")
TOP_KEYS = ("name", "rules", "prevent")


class PolicyError(ValueError):
    """The policy file is wrong; the message is one line naming the file and the key."""


@dataclass(frozen=True, slots=True)
class RulePolicy:
    id: str
    enabled: bool
    severity: str
    reason: str = ""
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Policy:
    name: str
    rules: dict[str, RulePolicy]
    source: str  # "built-in" or the school's file
    prevent: PreventPolicy = field(default_factory=PreventPolicy)  # nudges and enforce (``[prevent]``)

    @property
    def switched_off(self) -> list[RulePolicy]:
        return [r for r in self.rules.values() if not r.enabled]


def _describe(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "a whole number"
    if isinstance(value, float):
        return "a number with a fraction"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a table"
    return type(value).__name__


def _check_param(where: str, key: str, spec: Param, value: Any) -> Any:
    if spec.kind is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise PolicyError(f"{where}.{key}: expected a whole number, got {_describe(value)}")
        if value < 0:
            raise PolicyError(f"{where}.{key}: expected zero or more, got {value}")
        return value
    if spec.kind is list:
        if not isinstance(value, list) or not all(isinstance(v, spec.item_kind or str) for v in value):
            raise PolicyError(f"{where}.{key}: expected a list of strings, got {_describe(value)}")
        return list(value)
    if not isinstance(value, spec.kind):
        raise PolicyError(f"{where}.{key}: expected {spec.kind.__name__}, got {_describe(value)}")
    return value


def _apply(source: str, data: dict[str, Any], base: dict[str, RulePolicy], specs: dict[str, RuleSpec],
           name: str) -> tuple[str, dict[str, RulePolicy]]:
    for key in data:
        if key in SETTINGS_KEYS_IN_POLICY:
            raise PolicyError(f"{source}: '{key}' is a deployment setting, not policy; set the app setting "
                              f"{SETTINGS_KEYS_IN_POLICY[key]} instead")
        if key not in TOP_KEYS:
            raise PolicyError(f"{source}: unknown key '{key}'; expected {', '.join(TOP_KEYS)}")
    if "name" in data:
        if not isinstance(data["name"], str):
            raise PolicyError(f"{source}: name: expected a string, got {_describe(data['name'])}")
        name = data["name"]
    rules = data.get("rules", {})
    if not isinstance(rules, dict):
        raise PolicyError(f"{source}: rules: expected a table of rules, got {_describe(rules)}")
    out = dict(base)
    for rule_id, overrides in rules.items():
        where = f"{source}: rules.{rule_id}"
        spec = specs.get(rule_id)
        if spec is None:
            raise PolicyError(f"{where}: unknown rule id; expected one of {', '.join(specs)}")
        if not isinstance(overrides, dict):
            raise PolicyError(f"{where}: expected a table, got {_describe(overrides)}")
        current = out[rule_id]
        enabled, severity, reason = current.enabled, current.severity, current.reason
        params = dict(current.params)
        for key, value in overrides.items():
            if key in SETTINGS_KEYS_IN_POLICY:
                raise PolicyError(f"{where}.{key}: '{key}' is a deployment setting, not policy; set the app "
                                  f"setting {SETTINGS_KEYS_IN_POLICY[key]} instead")
            if key == "enabled":
                if not isinstance(value, bool):
                    raise PolicyError(f"{where}.enabled: expected true or false, got {_describe(value)}")
                enabled = value
            elif key == "severity":
                if value not in SEVERITIES:
                    raise PolicyError(f"{where}.severity: expected one of {', '.join(SEVERITIES)}, got "
                                      f"{value!r}")
                severity = value
            elif key == "reason":
                if not isinstance(value, str):
                    raise PolicyError(f"{where}.reason: expected a string, got {_describe(value)}")
                reason = value.strip()
            elif key in spec.params:
                params[key] = _check_param(where, key, spec.params[key], value)
            else:
                allowed = [*RULE_KEYS, *spec.params]
                raise PolicyError(f"{where}: unknown key '{key}'; expected one of {', '.join(allowed)}")
        if not enabled and not reason:
            raise PolicyError(f"{where}: switched off without a reason; add reason = \"…\" (the digest shows it)")
        if enabled:
            reason = ""
        out[rule_id] = RulePolicy(rule_id, enabled, severity, reason, params)
    return name, out


def _parse(source: str, text: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError(f"{source}: not valid TOML: {exc}") from None


def default_policy_text() -> str:
    return resources.files("shared.policy").joinpath("default.toml").read_text(encoding="utf-8")


_DEFAULT: Policy | None = None


def default_policy() -> Policy:
    """The built-in policy; every rule of the catalogue, with its catalogue severity unless the file says else."""
    global _DEFAULT
    if _DEFAULT is None:
        specs = catalogue()
        base = {rid: RulePolicy(rid, True, spec.severity, "", {k: p.default for k, p in spec.params.items()})
                for rid, spec in specs.items()}
        name, rules = _apply("built-in policy", _parse("built-in policy", default_policy_text()), base, specs,
                             "vcaudit default policy")
        _DEFAULT = Policy(name, rules, "built-in")
    return _DEFAULT


def load_policy(path: str | Path | None) -> Policy:
    """The school's policy file laid over the built-in default; ``None`` or empty: the default alone."""
    if path is None or str(path) == "":
        return default_policy()
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PolicyError(f"{source}: no such file") from None
    except IsADirectoryError:
        raise PolicyError(f"{source}: is a directory, not a policy file") from None
    except UnicodeDecodeError:
        raise PolicyError(f"{source}: not UTF-8 text") from None
    except OSError as exc:
        raise PolicyError(f"{source}: cannot be read ({exc.strerror})") from None
    base = default_policy()
    data = _parse(source, text)
    name, rules = _apply(source, data, base.rules, catalogue(), base.name)
    prevent = base.prevent
    if "prevent" in data:
        prevent = parse_prevent(f"{source}: prevent", data["prevent"], prevent, PolicyError)
    return Policy(name, rules, source, prevent)
