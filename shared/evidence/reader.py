"""Type-checked access to raw Graph JSON, with the path of every value for one-line errors.

Graph omits optional properties and sends ``null`` for many more: both read as absent. A value of the wrong
JSON type (a list where an object belongs) is a broken bundle, reported with its path.
"""

from __future__ import annotations

from typing import Any

JSON = dict[str, Any]


class BundleError(ValueError):
    """The bundle breaks the evidence format; the message names the position and the problem."""


def kind(value: object) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return "null"


def at(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def obj(parent: JSON, key: str, path: str) -> JSON:
    value = parent.get(key)
    if value.__class__ is dict:
        return value
    if value is None:
        return {}
    if isinstance(value, dict):
        return value
    raise BundleError(f"{at(path, key)}: expected an object, got {kind(value)}")


def objects(parent: JSON, key: str, path: str) -> list[JSON]:
    """A list of objects; ``null`` items are skipped (Graph never sends them, but they mean nothing)."""
    value = parent.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise BundleError(f"{at(path, key)}: expected a list, got {kind(value)}")
    if all(item.__class__ is dict for item in value):
        return value
    out: list[JSON] = []
    for i, item in enumerate(value):
        if item is None:
            continue
        if not isinstance(item, dict):
            raise BundleError(f"{at(path, key)}[{i}]: expected an object, got {kind(item)}")
        out.append(item)
    return out


def text(parent: JSON, key: str, path: str) -> str | None:
    value = parent.get(key)
    if value is None or value.__class__ is str:
        return value
    if isinstance(value, str):
        return value
    raise BundleError(f"{at(path, key)}: expected a string, got {kind(value)}")


def texts(parent: JSON, key: str, path: str) -> list[str]:
    value = parent.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise BundleError(f"{at(path, key)}: expected a list of strings, got {kind(value)}")
    for i, item in enumerate(value):
        if not isinstance(item, str):
            raise BundleError(f"{at(path, key)}[{i}]: expected a string, got {kind(item)}")
    return value


def enum_texts(parent: JSON, key: str, path: str) -> list[str]:
    """A list of enum values; values Graph added later (or nulls) are kept out, never fatal."""
    value = parent.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise BundleError(f"{at(path, key)}: expected a list, got {kind(value)}")
    return [v for v in value if isinstance(v, str)]


def odata_type(node: JSON) -> str:
    """``@odata.type`` lower-cased without the leading '#': Graph mixes ``microsoft.graph`` and ``Microsoft.Graph``."""
    value = node.get("@odata.type")
    return value.lstrip("#").lower() if isinstance(value, str) else ""
