"""The desk in a real browser (Debian's Chromium driven by Playwright) against the Function App's registered HTTP
functions on loopback: each role's pages, a decision's round trip into the findings table, the audit log and the
next digest, the governor seeing no name, a forged form refused, keyboard-only use, a phone's width, and the
screenshots in docs/."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from devtools.browser import browser, unavailable
from shared.admin.context import open_admin
from shared.digest.collect import MailContext, collect
from shared.digest.render import render_digest
from tests.admin.test_consent import csv_of, good_rows
from tests.digest.test_content import pupil_names

from .conftest import NOW, WEEK, Stack, fetch

pytestmark = pytest.mark.integration
DOCS = Path(__file__).resolve().parents[2] / "docs"
STAFF_NAMES = ("James Mensah", "David Hughes", "Priya Sharma", "Emma Whitfield", "Sarah Patel")


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    reason = unavailable()
    if reason:
        pytest.skip(reason)
    with browser() as running:
        yield running


def signed_in(chromium: Any, stack: Stack, role: str, *, width: int = 1100, height: int = 900) -> Any:
    context = chromium.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    page.goto(f"{stack.url}/")
    assert page.url.endswith("/signin")
    page.check(f"#role-{role}")
    page.click("button[type=submit]")
    page.wait_for_url(f"{stack.url}/")
    return page


def concern_link(page: Any, title: str) -> str:
    href: str = page.locator("a.finding-link", has_text=title).first.get_attribute("href")
    return href


def finding_row(stack: Stack, finding_id: str) -> dict[str, Any]:
    week, row = finding_id.split(".")
    found = stack.runtime.stores.findings.get(week, row)
    assert found is not None
    return dict(found)


def test_each_role_sees_its_pages(chromium: Any, stack: Stack) -> None:
    dsl = signed_in(chromium, stack, "dsl")
    assert dsl.locator(".local-banner").is_visible() and "Local DSL" in dsl.locator(".who").inner_text()
    headings = dsl.locator("main h2").all_inner_texts()
    assert [h.split(" (")[0] for h in headings] == ["Needs your decision", "Open from earlier weeks",
                                                   "Setting issues by teacher", "Coverage and monitoring"]
    assert dsl.locator("article.concern").count() == 8  # ten concerns in eight meetings
    dsl.click("a.finding-link >> nth=0")
    assert dsl.locator("svg.timeline").count() == 1 and dsl.locator("form textarea#note").count() == 1
    for path, title in (("meetings", "Meetings"), ("consent", "Consent"), ("monitoring", "Monitoring")):
        dsl.goto(f"{stack.url}/{path}")
        assert dsl.locator("h1").inner_text() == title
    dsl.goto(f"{stack.url}/meetings?teacher=Mensah")
    subjects = dsl.locator("table.log tbody tr td:nth-child(2)").all_inner_texts()
    assert subjects and all(s for s in subjects)
    assert {t.strip() for t in dsl.locator("table.log tbody tr td:nth-child(3)").all_inner_texts()} == {"James Mensah"}
    dsl.locator("table.log tbody a").first.click()
    assert dsl.locator("h2#found").count() == 1
    dsl.goto(f"{stack.url}/meetings?pupil=Noah")
    assert "Year 6 reading group" in dsl.locator("table.log").inner_text()
    dsl.goto(f"{stack.url}/consent")
    assert dsl.locator("input[type=file]").count() == 0, "only an Admin imports consent"
    admin = signed_in(chromium, stack, "admin")
    admin.goto(f"{stack.url}/consent")
    assert admin.locator("input[type=file]#file").count() == 1 and "Admin" in admin.locator(".who").inner_text()
    governor = signed_in(chromium, stack, "governor")
    assert "Meetings" not in governor.locator("nav").inner_text()
    assert governor.locator("table.trend tbody tr").count() == 8
    status, _, _ = fetch(dsl.url)  # without the browser's cookies: sent to sign in, nothing shown
    assert status == 303


def test_the_governor_sees_no_names(chromium: Any, stack: Stack) -> None:
    governor = signed_in(chromium, stack, "governor")
    texts = []
    for path in ("", "consent", "monitoring"):
        governor.goto(f"{stack.url}/{path}")
        texts.append(governor.content())
    dsl = signed_in(chromium, stack, "dsl")
    concern = concern_link(dsl, "A pupil without recorded parental consent was invited or took part")
    for path in (concern, f"{stack.url}/meetings"):
        response = governor.goto(path if path.startswith("http") else f"{stack.url.rsplit('/api', 1)[0]}{path}")
        assert response.status == 403
        texts.append(governor.content())
    names = pupil_names()
    assert "Noah Okoro" in names
    for text in texts:
        assert {n for n in names if n in text} == set()
        assert not any(name in text for name in STAFF_NAMES)


def test_a_decision_round_trip(chromium: Any, stack: Stack) -> None:
    page = signed_in(chromium, stack, "dsl")
    href = concern_link(page, "A pupil without recorded parental consent was invited or took part")
    finding_id = href.rsplit("/", 1)[1]
    assert finding_row(stack, finding_id).get("Status") in (None, "")
    page.click(f"a[href='{href}']")
    page.check("#action-false-positive")
    page.fill("#note", "Consent form arrived on paper on Friday")
    page.click("form button[type=submit]")
    assert page.locator(".done").inner_text() == "Recorded."
    assert page.locator(".state strong").first.inner_text() == "false positive"
    history = page.locator("table.history").first.inner_text()
    assert "Local DSL" in history and "Consent form arrived on paper on Friday" in history
    assert "annotate" in page.locator("table.audit").inner_text()
    # the table
    row = finding_row(stack, finding_id)
    assert row["Status"] == "false-positive" and "Consent form arrived on paper" in row["Annotations"]
    # the audit log
    entries = open_admin(stack.runtime.stores, stack.runtime.settings.zone).audit.entries(target=finding_id)
    assert [(e.action, e.by, e.detail.get("status")) for e in entries] == [("annotate", "Local DSL",
                                                                             "false-positive")]
    # This week no longer asks for a decision on it
    page.goto(f"{stack.url}/")
    assert page.locator(f"a.finding-link[href='{href}']").count() == 0
    # the next digest
    ctx = MailContext.open(stack.runtime.stores, stack.runtime.settings, expect_subscriptions=False)
    digest = collect(ctx, WEEK, NOW)
    assert finding_id not in {v.id for v in digest.concerns}
    assert finding_id in {v.id for v in digest.annotated}
    text = render_digest(digest, full=True).text
    assert "[false positive] A pupil without recorded parental consent was invited or took part" in text
    assert "Consent form arrived on paper on Friday" in text


def test_a_form_without_its_csrf_token_is_refused(chromium: Any, stack: Stack) -> None:
    page = signed_in(chromium, stack, "dsl")
    href = concern_link(page, "Someone joined who was not invited")
    finding_id = href.rsplit("/", 1)[1]
    page.goto(f"{stack.url.rsplit('/api', 1)[0]}{href}")  # the browser now holds its CSRF cookie
    before = finding_row(stack, finding_id)
    target = f"{stack.url.rsplit('/api', 1)[0]}{href}"
    forged = page.request.post(target, form={"action": "false-positive", "note": "nothing to see"})
    assert forged.status == 403 and "Form refused" in forged.text()
    token = page.locator("input[name=csrf]").get_attribute("value")
    wrong = page.request.post(target, form={"action": "false-positive", "note": "x", "csrf": token[:-4] + "0000"})
    assert wrong.status == 403
    cross_site = page.request.post(target, form={"action": "false-positive", "note": "x", "csrf": token},
                                   headers={"Origin": "https://evil.example"})
    assert cross_site.status == 403
    after = finding_row(stack, finding_id)
    assert after.get("Status") == before.get("Status") and after.get("Annotations") == before.get("Annotations")
    # the same form with its token goes through (so the refusals above are the token's doing)
    ok = page.request.post(target, form={"action": "acknowledged", "note": "Looking into it", "csrf": token},
                           max_redirects=0)
    assert ok.status == 303 and finding_row(stack, finding_id)["Status"] == "acknowledged"


def test_keyboard_only(chromium: Any, stack: Stack) -> None:
    context = chromium.new_context(viewport={"width": 1100, "height": 900})
    page = context.new_page()
    page.goto(f"{stack.url}/")

    def focused() -> dict[str, str]:
        value: dict[str, str] = page.evaluate(
            "() => { const e = document.activeElement; const s = getComputedStyle(e);"
            " return {tag: e.tagName, id: e.id, cls: e.className, text: (e.innerText || '').trim(),"
            " href: e.getAttribute('href') || '', outline: s.outlineStyle, width: s.outlineWidth}; }")
        return value

    def tab_to(test: Any, limit: int = 60) -> dict[str, str]:
        for _ in range(limit):
            page.keyboard.press("Tab")
            now = focused()
            if test(now):
                return now
        raise AssertionError("not reachable with the keyboard")

    tab_to(lambda f: f["id"] == "role-dsl")
    page.keyboard.press("Space")
    tab_to(lambda f: f["tag"] == "BUTTON")
    page.keyboard.press("Enter")
    page.wait_for_url(f"{stack.url}/")
    skip = tab_to(lambda f: f["tag"] == "A")
    assert skip["text"] == "Skip to the page" and skip["outline"] != "none"
    link = tab_to(lambda f: "finding-link" in f["cls"] and "Pupils were left" in f["text"])
    assert link["outline"] == "solid" and link["width"] == "3px", "focus is visible"
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r".*/concerns/.*"))
    tab_to(lambda f: f["id"].startswith("action-"))
    page.keyboard.press("Space")  # the first choice: acknowledge
    tab_to(lambda f: f["id"] == "note")
    page.keyboard.type("Spoken to the teacher on Monday")
    tab_to(lambda f: f["tag"] == "BUTTON")
    page.keyboard.press("Enter")
    page.wait_for_load_state()
    assert page.locator(".done").inner_text() == "Recorded."
    assert "Spoken to the teacher on Monday" in page.locator("table.history").first.inner_text()
    context.close()


def test_usable_on_a_phone_and_within_the_content_security_policy(chromium: Any, stack: Stack) -> None:
    page = signed_in(chromium, stack, "dsl", width=390, height=844)
    violations: list[str] = []
    page.on("console", lambda message: violations.append(message.text)
            if "Content Security Policy" in message.text else None)
    response = page.goto(f"{stack.url}/")
    csp = response.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "script" not in csp and "unsafe" not in csp
    assert page.evaluate("document.documentElement.scrollWidth") <= 390, "no sideways scrolling"
    page.click("a.finding-link >> nth=0")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    stylesheet = page.evaluate("getComputedStyle(document.querySelector('main')).maxWidth")
    assert stylesheet != "none", "the packaged stylesheet was applied"
    assert violations == []


def test_screenshots_for_the_readme(chromium: Any, stack: Stack, tmp_path: Path) -> None:
    page = signed_in(chromium, stack, "dsl", width=1000, height=900)
    page.screenshot(path=str(DOCS / "desk-week.png"), full_page=True)
    page.locator("article", has_text="Year 3 Maths").locator("a.finding-link").first.click()
    assert page.locator("svg.timeline rect.tl-unsupervised").count() >= 1
    page.screenshot(path=str(DOCS / "desk-concern.png"), full_page=True)
    phone = signed_in(chromium, stack, "dsl", width=390, height=844)
    phone.screenshot(path=str(DOCS / "desk-phone.png"))
    ctx = MailContext.open(stack.runtime.stores, stack.runtime.settings, expect_subscriptions=False)
    html = tmp_path / "digest.html"
    html.write_text(render_digest(collect(ctx, WEEK, NOW), full=True).html, encoding="utf-8")
    mail = chromium.new_page(viewport={"width": 760, "height": 900})
    mail.goto(html.as_uri())
    mail.screenshot(path=str(DOCS / "digest.png"), full_page=True)
    for name in ("desk-week.png", "desk-concern.png", "desk-phone.png", "digest.png"):
        assert (DOCS / name).stat().st_size > 20_000


def test_the_consent_import_is_all_or_nothing(chromium: Any, stack: Stack) -> None:
    admin = signed_in(chromium, stack, "admin")
    admin.goto(f"{stack.url}/consent")
    register = open_admin(stack.runtime.stores, stack.runtime.settings.zone).consent
    before = register.active_version()
    rows = good_rows(12)
    rows[4] = "03/09/2026 08:04:00,Nobody Known,Ms X,Yes"  # line 6: no such pupil
    rows[7] = "31/02/2026 08:07:00,p007@elmgrove.sch.uk,Parent,Yes"  # line 9: no such date
    admin.set_input_files("#file", files=[{"name": "consent.csv", "mimeType": "text/csv",
                                           "buffer": csv_of(rows).encode()}])
    admin.click("form button[type=submit]")
    problems = admin.locator(".problem").inner_text()
    assert "Nothing was imported" in problems and "line 6:" in problems and "line 9:" in problems
    assert register.active_version() == before
    admin.set_input_files("#file", files=[{"name": "consent.csv", "mimeType": "text/csv",
                                           "buffer": csv_of(good_rows(12)).encode()}])
    admin.click("form button[type=submit]")
    assert "Imported. 12 rows" in admin.locator(".done").inner_text()
    assert register.active_version() not in (None, before)
    entries = open_admin(stack.runtime.stores, stack.runtime.settings.zone).audit.entries(action="consent-import")
    assert entries and entries[-1].by == "Local Admin"


def test_accepted_risk_needs_a_date_and_a_hold_is_audited(chromium: Any, stack: Stack) -> None:
    page = signed_in(chromium, stack, "dsl")
    page.locator("article", has_text="Year 6 SATs revision").locator("a.finding-link").first.click()
    finding_id = page.url.rsplit("/", 1)[1].split("?")[0]
    page.check("#action-accepted-risk")
    page.fill("#note", "Recorded for a pupil who was absent; parents agreed")
    page.click("form button[type=submit]")
    assert "until: give the date" in page.locator(".problem").inner_text()
    assert page.locator("#note").input_value() == "Recorded for a pupil who was absent; parents agreed"
    page.fill("#until", "2026-12-18")
    page.click("form button[type=submit]")
    assert page.locator(".done").inner_text() == "Recorded."
    assert "accepted risk until 2026-12-18" in page.locator("table.history").first.inner_text()
    page.check("#action-hold")
    page.fill("#note", "Child-protection referral made")
    page.click("form button[type=submit]")
    assert "on hold" in page.locator(".state").inner_text()
    assert "hold: Child-protection referral made" in page.locator("table.audit").inner_text()
    assert finding_row(stack, finding_id).get("Hold")
