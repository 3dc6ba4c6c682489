"""Property-based: whatever JSON value sits in any position of a bundle, evaluation gives findings or a
clean BundleError (the CLI's exit 2), never a crash; unknown properties change nothing."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.engine import evaluate_raw
from shared.evidence.reader import BundleError

DATA = Path(__file__).resolve().parent / "data"
BASE = json.loads((DATA / "lesson-with-uninvited-parent.json").read_text(encoding="utf-8"))


def positions(node: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [path]
    if isinstance(node, dict):
        for key, value in node.items():
            out.extend(positions(value, (*path, key)))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            out.extend(positions(value, (*path, index)))
    return out


PATHS = [p for p in positions(BASE) if p]


def _get(node: Any, path: tuple[Any, ...]) -> Any:
    for step in path:
        node = node[step]
    return node


def _set(root: Any, path: tuple[Any, ...], value: Any) -> Any:
    root = copy.deepcopy(root)
    parent = _get(root, path[:-1])
    parent[path[-1]] = value
    return root


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-10**12, 10**12) | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=12,
)
interesting_text = st.sampled_from([
    "", "unknownFutureValue", "peerToPeer", "groupCall", "2026-03-17T09:00:00.0000000Z", "19:x@thread.tacv2",
    "#microsoft.graph.callRecords.serviceEndpoint", "applicationsharing-video", "callerToCallee", "zoom.us/j/1",
    "e995966a-ce95-4262-9671-04eb4ce9f070", "c1a56a26-e361-457a-b070-5b96c04eba0f", "adhoc", "everyone",
])


def outcome(bundle: Any) -> str:
    try:
        evaluation = evaluate_raw(bundle)
    except BundleError as exc:
        message = str(exc)
        assert message and "\n" not in message
        return "error"
    assert all(f.rule and f.severity in ("high", "medium", "low", "advisory") for f in evaluation.findings)
    json.dumps([f.to_json() for f in evaluation.findings])  # findings are always serialisable
    json.dumps(evaluation.facts())
    return "findings"


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(path=st.sampled_from(PATHS), value=json_values | interesting_text)
def test_any_value_anywhere_gives_findings_or_a_clean_error(path: tuple[Any, ...], value: Any) -> None:
    outcome(_set(BASE, path, value))


@settings(max_examples=150, deadline=None)
@given(value=json_values)
def test_any_value_as_a_whole_bundle_or_directory(value: Any) -> None:
    outcome(value)
    outcome({"directory": value})
    outcome({**BASE, "directory": value})


def _findings(bundle: Any) -> list[tuple[str, str | None]]:
    return [(f.rule, f.subject) for f in evaluate_raw(bundle).findings]


# Objects that are Graph payloads or the bundle itself; ``directory.users`` and ``directory.groups`` are maps
# keyed by user id and address, where a new key is an entry, not an unknown property.
MAPS = {("directory", "users"), ("directory", "groups")}
OBJECTS = [p for p in positions(BASE) if isinstance(_get(BASE, p), dict) and p not in MAPS]
BASELINE = _findings(BASE)


@settings(max_examples=200, deadline=None)
@given(path=st.sampled_from(OBJECTS), name=st.text(min_size=1, max_size=10).map(lambda s: "x-" + s),
       value=json_values)
def test_unknown_properties_change_nothing(path: tuple[Any, ...], name: str, value: Any) -> None:
    bundle = copy.deepcopy(BASE)
    _get(bundle, path)[name] = value
    assert _findings(bundle) == BASELINE


@settings(max_examples=100, deadline=None)
@given(path=st.sampled_from([p for p in OBJECTS if p and p[0] != "directory"]))
def test_removing_an_optional_object_never_crashes(path: tuple[Any, ...]) -> None:
    bundle = copy.deepcopy(BASE)
    del _get(bundle, path[:-1])[path[-1]]
    outcome(bundle)
