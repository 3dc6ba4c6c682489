"""Graph's sendMail outcomes, and the mail staying within Graph's size limits however large the week."""

from __future__ import annotations

import asyncio
import base64
import html
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from devtools.digest_preview import synthetic_week
from shared.digest.mail import GraphMailSender, Outcome
from shared.digest.model import DigestInputs, build_digest
from shared.digest.render import ATTACHMENT_LIMIT, REQUEST_LIMIT, render_digest
from shared.graph.client import Reply


class ConnectError(Exception):
    pass


class ReadTimeout(Exception):
    pass


class Raw:
    def __init__(self, answer: Reply | Exception) -> None:
        self.answer = answer
        self.calls: list[tuple[str, str, bytes | None]] = []

    async def send(self, method: str, url: str, headers: Mapping[str, str], body: bytes | None) -> Reply:
        self.calls.append((method, url, body))
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


@pytest.mark.parametrize(("answer", "outcome"), [
    (Reply(202, {"request-id": "r1"}, None), Outcome.ACCEPTED_WITHOUT_ID),
    (Reply(400, {}, {"error": {"message": "bad"}}), Outcome.FAILED),
    (Reply(403, {}, {"error": {"message": "Access to OData is disabled."}}), Outcome.FAILED),
    (Reply(413, {}, None), Outcome.FAILED),
    (Reply(429, {"Retry-After": "5"}, None), Outcome.FAILED),
    (Reply(503, {}, None), Outcome.FAILED),
    (Reply(500, {}, None), Outcome.UNKNOWN),
    (Reply(504, {}, None), Outcome.UNKNOWN),
    (ConnectError("refused"), Outcome.FAILED),
    (ReadTimeout("slow"), Outcome.UNKNOWN),
])
def test_send_outcomes(answer: Reply | Exception, outcome: Outcome) -> None:
    raw = Raw(answer)
    result = asyncio.run(GraphMailSender(raw, "https://graph.microsoft.com/v1.0/").send_mail(
        "vcaudit@school.sch.uk", {"subject": "s"}))
    assert result.outcome is outcome
    assert len(raw.calls) == 1, "exactly one exchange: a sendMail is never retried blindly"
    method, url, body = raw.calls[0]
    assert (method, url) == ("POST", "https://graph.microsoft.com/v1.0/users/vcaudit@school.sch.uk/sendMail")
    assert json.loads(body or b"{}") == {"message": {"subject": "s"}, "saveToSentItems": True}


@pytest.mark.parametrize("count", [100, 1_000, 10_000])
def test_the_mail_stays_within_graphs_limits(count: int) -> None:
    rows, meetings = synthetic_week(count)
    digest = build_digest(DigestInputs("2026-W47", ZoneInfo("Europe/London"), datetime(2026, 11, 23, 7, tzinfo=UTC),
                                       {"2026-W47": rows}, {"2026-W47": meetings}))
    mail = render_digest(digest, full=True)
    message = mail.message(["dsl@school.sch.uk"])
    size = len(json.dumps({"message": message, "saveToSentItems": True}, ensure_ascii=False).encode("utf-8"))
    assert size == mail.request_bytes(["dsl@school.sch.uk"])  # what GraphMailSender sends
    assert size <= REQUEST_LIMIT < 4_000_000
    assert mail.csv is not None and len(mail.csv) <= ATTACHMENT_LIMIT < 3_000_000
    assert base64.b64decode(message["attachments"][0]["contentBytes"]) == mail.csv
    if count == 10_000:
        assert 0 < mail.csv_rows < count
        assert f"holds {mail.csv_rows:,} of the week's 10,000 findings" in html.unescape(mail.html)
        high = sum(1 for r in rows if r["Severity"] == "high")
        kept = mail.csv.decode("utf-8-sig").splitlines()[1:high + 1]
        assert all(",high," in line for line in kept), "concerns are kept first"
    else:
        assert mail.csv_rows == count and f"lists all {count:,} findings" in html.unescape(mail.html)
