"""The admin API through its registered handlers with real azure.functions requests, on Azurite: the role
check (a function key alone is not enough), validation of every parameter, injection attempts, PATCH, POST."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterator, Mapping
from typing import Any

import azure.functions as func
import pytest

from devtools.azurite import Azurite
from functions import admin_api
from shared import runtime as runtime_module
from shared.admin.auth import ADMIN, READER
from shared.graph.client import GraphTransport, Reply
from shared.runtime import Runtime
from shared.settings import load_settings
from shared.store.connection import StorageConfig
from tests.admin.conftest import WEEK, Week, all_findings
from tests.admin.test_consent import COLUMNS, csv_of, good_rows, school

TENANT = "7c3e2a91-5b8d-4f0e-9a61-2d4b8c0f3e17"
PUPILS_GROUP = "0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0"
BASE = "https://vcaudit.example/api/"


class DirectorySender:
    """Graph as far as the consent import reads it: the pupil group's transitive members."""

    def __init__(self) -> None:
        self.urls: list[str] = []

    async def send(self, method: str, url: str, headers: Mapping[str, str], body: bytes | None) -> Reply:
        self.urls.append(url)
        if f"/groups/{PUPILS_GROUP}/transitiveMembers" in url:
            return Reply(200, {}, {"value": [p.to_json() for p in school()]})
        return Reply(404, {}, {"error": {"message": "not found"}})


@pytest.fixture(scope="module")
def handlers() -> dict[str, Any]:
    app = func.FunctionApp(http_auth_level=func.AuthLevel.FUNCTION)
    app.register_functions(admin_api.bp)
    return {fn.get_function_name(): fn for fn in app.get_functions()}


@pytest.fixture
def app_runtime(azurite: Azurite, storage_prefix: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Runtime]:
    monkeypatch.delenv("WEBSITE_SITE_NAME", raising=False)
    settings = load_settings({"VCAUDIT_TENANT_ID": TENANT, "VCAUDIT_STAFF_GROUP_IDS": PUPILS_GROUP,
                              "VCAUDIT_PUPIL_GROUP_IDS": PUPILS_GROUP})
    value = Runtime(settings, StorageConfig.from_connection_string(azurite.connection_string), prefix=storage_prefix,
                    graph_transport=GraphTransport(DirectorySender(), "https://graph.microsoft.com/v1.0"))
    runtime_module.use(value)
    yield value
    runtime_module.use(None)


def principal(*roles: str, name: str = "dsl@elmgrove.sch.uk") -> str:
    claims = [{"typ": "name", "val": name}, *({"typ": "roles", "val": r} for r in roles)]
    data = {"auth_typ": "aad", "claims": claims, "name_typ": "name",
            "role_typ": "http://schemas.microsoft.com/ws/2008/06/identity/claims/role"}
    return base64.b64encode(json.dumps(data).encode()).decode()


def call(handlers: dict[str, Any], name: str, method: str, route: str, *, roles: tuple[str, ...] | None = (READER,),
         params: dict[str, str] | None = None, body: bytes = b"", route_params: dict[str, str] | None = None,
         content_type: str = "application/json") -> tuple[int, Any]:
    headers = {"Content-Type": content_type}
    if roles is not None:
        headers["X-MS-CLIENT-PRINCIPAL"] = principal(*roles)
    request = func.HttpRequest(method, BASE + route, headers=headers, params=params or {}, body=body,
                               route_params=route_params or {})
    response: func.HttpResponse = handlers[name].get_user_function()(request)
    payload = response.get_body()
    return response.status_code, json.loads(payload) if payload else None


def test_routes_and_auth_levels(handlers: dict[str, Any]) -> None:
    expected = {"admin_findings": ("findings", ["GET"]), "admin_meetings": ("meetings", ["GET"]),
                "admin_annotate": ("findings/{id}", ["PATCH"]), "admin_consent": ("consent", ["POST"])}
    for name, (route, methods) in expected.items():
        trigger = next(b for b in handlers[name].get_bindings() if b.type == "httpTrigger")
        assert trigger.route == route
        assert [str(m.value if hasattr(m, "value") else m) for m in trigger.methods] == methods
        assert str(trigger.auth_level.value if hasattr(trigger.auth_level, "value") else trigger.auth_level).lower() \
            == "function"


def test_a_caller_without_the_role_is_refused(handlers: dict[str, Any], app_runtime: Runtime, week: Week) -> None:
    row = next(r for r in all_findings(app_runtime.stores) if r["Rule"] == "consent-missing")
    ident = f"{WEEK}.{row['RowKey']}"
    patch = json.dumps({"status": "false-positive", "comment": "silenced"}).encode()
    # a function key alone (no signed-in principal): refused
    assert call(handlers, "admin_findings", "GET", "findings", roles=None)[0] == 401
    assert call(handlers, "admin_annotate", "PATCH", f"findings/{ident}", roles=None, body=patch,
                route_params={"id": ident})[0] == 401
    # signed in without a role, or with only the reader role: no writes
    assert call(handlers, "admin_findings", "GET", "findings", roles=())[0] == 403
    status, payload = call(handlers, "admin_annotate", "PATCH", f"findings/{ident}", roles=(READER,), body=patch,
                           route_params={"id": ident})
    assert status == 403 and ADMIN in payload["error"]
    assert call(handlers, "admin_consent", "POST", "consent", roles=(READER,), body=b"x", content_type="text/csv")[0] \
        == 403
    forged = base64.b64encode(json.dumps({"auth_typ": "aad", "claims": "roles=vcaudit.admin"}).encode()).decode()
    request = func.HttpRequest("GET", BASE + "findings", headers={"X-MS-CLIENT-PRINCIPAL": forged}, body=b"")
    assert handlers["admin_findings"].get_user_function()(request).status_code == 401
    stored = app_runtime.stores.findings.get(WEEK, row["RowKey"])
    assert stored is not None and "Status" not in stored  # consent-missing still open


def test_in_azure_without_app_service_authentication_everything_is_refused(
        handlers: dict[str, Any], app_runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WEBSITE_SITE_NAME", "vcaudit-func")
    monkeypatch.delenv("WEBSITE_AUTH_ENABLED", raising=False)
    status, payload = call(handlers, "admin_findings", "GET", "findings", roles=(ADMIN,))
    assert status == 403 and "App Service Authentication" in payload["error"]
    monkeypatch.setenv("WEBSITE_AUTH_ENABLED", "True")
    assert call(handlers, "admin_findings", "GET", "findings", roles=(ADMIN,))[0] == 200


def test_get_findings_filters_pages_and_validates(handlers: dict[str, Any], app_runtime: Runtime, week: Week) -> None:
    status, payload = call(handlers, "admin_findings", "GET", "findings", params={"week": WEEK, "limit": "10"})
    assert status == 200 and len(payload["items"]) == 10 and payload["continuation"]
    status, rest = call(handlers, "admin_findings", "GET", "findings",
                        params={"week": WEEK, "limit": "1000", "continuation": payload["continuation"]})
    assert status == 200 and len(rest["items"]) == 16 and rest["continuation"] is None
    assert not {i["id"] for i in payload["items"]} & {i["id"] for i in rest["items"]}
    status, payload = call(handlers, "admin_findings", "GET", "findings", params={"rule": "pupils-unsupervised"})
    assert status == 200 and {i["rule"] for i in payload["items"]} == {"pupils-unsupervised"}
    for params in ({"limit": "0"}, {"limit": "5000"}, {"week": "47"}, {"severity": "urgent"}, {"colour": "red"},
                   {"continuation": "!!"}, {"rule": "' or 1 eq 1"}):
        status, payload = call(handlers, "admin_findings", "GET", "findings", params=params)
        assert status == 400 and "\n" not in payload["error"], params
    status, payload = call(handlers, "admin_meetings", "GET", "meetings", params={"inScope": "no"})
    assert status == 200 and len(payload["items"]) == 2
    status, payload = call(handlers, "admin_meetings", "GET", "meetings", params={"rule": "consent-missing"})
    assert status == 200 and len(payload["items"]) == 1


@pytest.mark.parametrize("field", ["organiser", "team", "subject", "title"])
def test_injection_over_http_returns_nothing(handlers: dict[str, Any], app_runtime: Runtime, week: Week,
                                             field: str) -> None:
    route, name = ("meetings", "admin_meetings") if field == "title" else ("findings", "admin_findings")
    for attempt in ("' or 1 eq 1", "x' or PartitionKey ne '", "' or ''='"):
        status, payload = call(handlers, name, "GET", route, params={field: attempt})
        assert status in (200, 400)
        if status == 200:
            assert payload["items"] == [], (field, attempt)


def test_patch_annotates_with_the_signed_in_name(handlers: dict[str, Any], app_runtime: Runtime, week: Week) -> None:
    row = next(r for r in all_findings(app_runtime.stores) if r["Rule"] == "pupils-unsupervised")
    ident = f"{WEEK}.{row['RowKey']}"
    body = json.dumps({"status": "acknowledged", "comment": "Spoke to Mr Hughes"}).encode()
    status, payload = call(handlers, "admin_annotate", "PATCH", f"findings/{ident}", roles=(ADMIN,), body=body,
                           route_params={"id": ident})
    assert status == 200 and payload["status"] == "acknowledged"
    assert payload["annotations"][0]["by"] == "dsl@elmgrove.sch.uk"
    for bad in (b"not json", b"[]", json.dumps({"status": "acknowledged", "comment": "x", "by": "someone"}).encode(),
                json.dumps({"status": "accepted-risk", "comment": "x"}).encode(),
                json.dumps({"status": 1, "comment": "x"}).encode()):
        status, payload = call(handlers, "admin_annotate", "PATCH", f"findings/{ident}", roles=(ADMIN,), body=bad,
                               route_params={"id": ident})
        assert status == 400, bad
    status, _ = call(handlers, "admin_annotate", "PATCH", "findings/x", roles=(ADMIN,), body=body,
                     route_params={"id": f"{WEEK}.{'0' * 40}"})
    assert status == 404


def test_post_consent_imports_all_or_nothing(handlers: dict[str, Any], app_runtime: Runtime) -> None:
    params = {"pupilColumn": COLUMNS.pupil, "parentColumn": COLUMNS.parent, "answerColumn": COLUMNS.answer}
    status, payload = call(handlers, "admin_consent", "POST", "consent", roles=(ADMIN,), params=params,
                           body=csv_of(good_rows(120)).encode(), content_type="text/csv")
    assert status == 200, payload
    assert payload["consented"] == 120
    rows = good_rows(5)
    rows[2] = "03/09/2026 08:02:00,Amelia Jones,Mr Jones,Yes"
    status, payload = call(handlers, "admin_consent", "POST", "consent", roles=(ADMIN,), params=params,
                           body=csv_of(rows).encode(), content_type="text/csv")
    assert status == 422 and payload["problems"] == [
        {"line": 4, "kind": "ambiguous", "message": payload["problems"][0]["message"]}]
    from shared.admin.context import open_admin

    register = open_admin(app_runtime.stores, app_runtime.settings.zone).consent
    assert len(register.consented()) == 120
    assert str(uuid.UUID(int=1)) in register.consented()
    status, payload = call(handlers, "admin_consent", "POST", "consent", roles=(ADMIN,), params={"sheet": "1"},
                           body=b"x", content_type="text/csv")
    assert status == 400
