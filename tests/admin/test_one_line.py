"""Every error one line, never a traceback: dates past the calendar, malformed connection strings, unreachable
storage, Graph throttling a consent import. Each input with its exact message."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import azure.functions as func
import pytest

from shared.admin.auth import ADMIN
from shared.admin.context import Admin
from shared.graph.client import GraphTransport, Reply
from shared.records.consent import plan_import
from shared.runtime import Runtime
from tests.admin.conftest import LONDON, WEEK, Week, all_findings
from tests.admin.test_api import app_runtime, call, handlers, principal  # noqa: F401  (fixtures)
from tests.admin.test_consent import COLUMNS, csv_of, good_rows, school

ROOT = Path(__file__).resolve().parents[2]
OUT_OF_RANGE = "until: 9999-12-31 is out of range; expected a date from 2000-01-01 to 2099-12-31"


def vcaudit(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "shared.cli", *args], capture_output=True, text=True, cwd=ROOT,
                          timeout=120, check=False, env=env)


def finding(admin: Admin, rule: str) -> str:
    row = next(r for r in all_findings(admin.stores) if r["Rule"] == rule)
    return f"{WEEK}.{row['RowKey']}"


def test_annotate_until_the_last_day_of_the_calendar_is_one_line(admin: Admin, week: Week,
                                                                 cli: Callable[..., tuple[int, str, str]]) -> None:
    status, _, err = cli("annotate", finding(admin, "consent-missing"), "--status", "accepted-risk", "--comment",
                         "x", "--until", "9999-12-31")
    assert (status, err) == (2, f"vcaudit: {OUT_OF_RANGE}\n")


def test_findings_to_the_last_day_of_the_calendar_is_one_line(admin: Admin, week: Week,
                                                              cli: Callable[..., tuple[int, str, str]]) -> None:
    status, _, err = cli("findings", "--to", "9999-12-31")
    assert (status, err) == (2, "vcaudit: to: 9999-12-31 is out of range; expected a date from 2000-01-01 to "
                                "2099-12-31\n")
    status, _, err = cli("findings", "--week", "9999-W52")
    assert (status, err) == (2, "vcaudit: week: 9999-W52 is out of range; expected a week from 2000 to 2099\n")


def test_patch_until_the_last_day_of_the_calendar_is_a_400(handlers: dict[str, Any],  # noqa: F811
                                                           app_runtime: Runtime, week: Week) -> None:  # noqa: F811
    row = next(r for r in all_findings(app_runtime.stores) if r["Rule"] == "consent-missing")
    ident = f"{WEEK}.{row['RowKey']}"
    body = json.dumps({"status": "accepted-risk", "comment": "x", "until": "9999-12-31"}).encode()
    status, payload = call(handlers, "admin_annotate", "PATCH", f"findings/{ident}", roles=(ADMIN,), body=body,
                           route_params={"id": ident})
    assert (status, payload) == (400, {"error": OUT_OF_RANGE})


def test_a_consent_timestamp_past_the_calendar_is_a_bad_row() -> None:
    rows = good_rows(3)
    rows[1] = "9999-12-31T23:59:59-12:00,p001@elmgrove.sch.uk,Parent 1,Yes"
    plan = plan_import(csv_of(rows), school(), LONDON, columns=COLUMNS)
    assert [str(p) for p in plan.problems] == [
        "line 3: '9999-12-31T23:59:59-12:00' is out of range; expected a time from 2000-01-01 to 2099-12-31"]


@pytest.mark.parametrize("command", [["findings"], ["consent", "list"], ["digest", "--week", "2026-W47"]])
def test_a_connection_string_that_is_not_one_is_one_line_and_never_quoted(command: list[str]) -> None:
    run = vcaudit(*command, "--connection-string", "garbage-AccountKey-secret")
    assert run.returncode == 2
    assert run.stderr == ("vcaudit: --connection-string: not a storage connection string; expected Key=Value pairs "
                          "separated by ';' (DefaultEndpointsProtocol=https;AccountName=…;AccountKey=…, or "
                          "UseDevelopmentStorage=true)\n")


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize("command", [["digest", "--week", "2026-W47"], ["findings", "--week", "2026-W47"]])
def test_unreachable_storage_is_one_line_within_seconds(command: list[str]) -> None:
    port = _closed_port()
    account = "devstoreaccount1"
    key = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
    conn = (f"DefaultEndpointsProtocol=http;AccountName={account};AccountKey={key};"
            f"BlobEndpoint=http://127.0.0.1:{port}/{account};QueueEndpoint=http://127.0.0.1:{port}/{account};"
            f"TableEndpoint=http://127.0.0.1:{port}/{account};")
    run = vcaudit(*command, "--connection-string", conn)
    assert run.returncode == 1, run.stderr
    line, = run.stderr.splitlines()
    assert line.startswith("vcaudit: storage could not be reached: ")
    assert "Traceback" not in run.stderr and key not in run.stderr


def test_commands_use_a_short_storage_timeout_and_one_retry() -> None:
    import argparse

    from shared.commands.adminargs import storage_config

    args = argparse.Namespace(connection_string="UseDevelopmentStorage=true", account_name=None)
    config = storage_config(args)
    assert (config.connection_timeout, config.retries) == (5.0, 1)
    client = config.table_service()
    assert client._client._config.retry_policy.total_retries == 1  # the SDK's own pipeline, as configured


class ThrottlingGraph:
    """Graph answering every request with 429 and Retry-After: 10."""

    def __init__(self) -> None:
        self.calls = 0

    async def send(self, method: str, url: str, headers: Mapping[str, str], body: bytes | None) -> Reply:
        self.calls += 1
        return Reply(429, {"Retry-After": "10"}, {"error": {"code": "TooManyRequests", "message": "throttled"}})


def test_consent_over_http_while_graph_throttles_is_a_quick_503(handlers: dict[str, Any],  # noqa: F811
                                                                app_runtime: Runtime) -> None:  # noqa: F811
    graph = ThrottlingGraph()
    app_runtime.graph_transport = GraphTransport(graph, "https://graph.microsoft.com/v1.0")
    params = {"pupilColumn": COLUMNS.pupil, "parentColumn": COLUMNS.parent, "answerColumn": COLUMNS.answer}
    status, payload = call(handlers, "admin_consent", "POST", "consent", roles=(ADMIN,), params=params,
                           body=csv_of(good_rows(3)).encode(), content_type="text/csv")
    assert graph.calls == 1  # Graph asked for 10 s, more than the request's budget: no waiting, an answer now
    assert (status, payload) == (503, {"error": "Graph is throttling (429); try again in 10 s"})
    request = func.HttpRequest("POST", "https://vcaudit.example/api/consent", params=params,
                               headers={"X-MS-CLIENT-PRINCIPAL": principal(ADMIN)},
                               body=csv_of(good_rows(3)).encode())
    response = handlers["admin_consent"].get_user_function()(request)
    assert (response.status_code, response.headers.get("Retry-After")) == (503, "10")


def test_an_empty_consent_import_over_http_is_refused_until_confirmed(handlers: dict[str, Any],  # noqa: F811
                                                                      app_runtime: Runtime) -> None:  # noqa: F811
    params = {"pupilColumn": COLUMNS.pupil, "parentColumn": COLUMNS.parent, "answerColumn": COLUMNS.answer}
    status, _ = call(handlers, "admin_consent", "POST", "consent", roles=(ADMIN,), params=params,
                     body=csv_of(good_rows(20)).encode(), content_type="text/csv")
    assert status == 200
    status, payload = call(handlers, "admin_consent", "POST", "consent", roles=(ADMIN,), params=params,
                           body=csv_of([]).encode(), content_type="text/csv")
    assert (status, payload["removed"], payload["current"]) == (409, 20, 20)
    assert payload["error"].endswith("confirm with confirmRemovals=true")
    status, payload = call(handlers, "admin_consent", "POST", "consent", roles=(ADMIN,),
                           params={**params, "confirmRemovals": "true"}, body=csv_of([]).encode(),
                           content_type="text/csv")
    assert (status, payload["consented"]) == (200, 0)
