"""Render the demo week's digest: ``python -m devtools.digest_preview`` (``make digest-preview``).

Records every sample bundle of ``samples/elmgrove-week/`` into a private Azurite through ``Stores.recorder``
(as the evaluation worker would), then renders the digest of that week (2026-W47) from the tables:
``out/digest.html`` (the DSL's copy), ``out/digest.txt``, ``out/digest-summary.html`` (a governor's copy),
``out/findings.csv``, and, where Chromium is installed (Debian package ``chromium``), a full-page screenshot
``out/digest.png``.

So that the trend and the carried-over section have something to show, the seven weeks before are the same
sample week replayed (a different subset of its meetings each week, their findings annotated as the DSL
would have dealt with them, two concerns left open). This history is demo data and the digest's own week is
exactly the sample week.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import subprocess
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from devtools.azurite import Azurite
from shared.digest.collect import MailContext, collect
from shared.digest.render import write_digest_files
from shared.engine import evaluate_raw
from shared.evidence.times import parse_instant
from shared.settings import load_settings
from shared.store.connection import StorageConfig
from shared.store.findings import MeetingFacts
from shared.store.keys import week_of
from shared.store.tables import Stores, open_stores

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples" / "elmgrove-week"
WEEK = "2026-W47"
ZONE = ZoneInfo("Europe/London")
CHROMIUM = Path("/usr/bin/chromium")
HEADLESS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--hide-scrollbars", "--force-device-scale-factor=1"]


def bundles() -> list[tuple[str, dict[str, Any]]]:
    return [(p.stem, json.loads(p.read_text(encoding="utf-8")))
            for p in sorted(SAMPLES.glob("*.json")) if not p.name.endswith(".expected.json")]


def _start_end(bundle: dict[str, Any]) -> tuple[float, float | None]:
    for source in (bundle.get("onlineMeeting"), bundle.get("callRecord")):
        if isinstance(source, dict) and source.get("startDateTime"):
            end = source.get("endDateTime")
            return parse_instant(source["startDateTime"]), parse_instant(end) if end else None
    event = bundle.get("event") or {}
    return parse_instant(event["start"]["dateTime"] + "Z"), None


def _team(bundle: dict[str, Any]) -> str | None:
    meeting = bundle.get("onlineMeeting") or {}
    thread = ((meeting.get("chatInfo") or {}).get("threadId") or "").lower()
    for team in (bundle.get("directory") or {}).get("classTeams") or []:
        if thread and thread in [c.lower() for c in team.get("channelIds") or []]:
            return str(team.get("displayName"))
    return None


def facts(name: str, bundle: dict[str, Any], shift_days: int = 0) -> tuple[MeetingFacts, Any]:
    evaluation = evaluate_raw(bundle)
    start, end = _start_end(bundle)
    start -= shift_days * 86400
    end = None if end is None else end - shift_days * 86400
    subject = (bundle.get("onlineMeeting") or {}).get("subject") or (bundle.get("event") or {}).get("subject")
    if subject is None and bundle.get("callRecord"):
        subject = "Teams call (no meeting)"
    organiser = evaluation.organiser or {}
    occurrence = hashlib.sha256(f"{name}|{shift_days}".encode()).hexdigest()[:32]
    meeting = MeetingFacts(occurrence, week_of(start, ZONE), start, end, subject, organiser.get("id"),
                           organiser.get("displayName"), _team(bundle))
    return meeting, evaluation


def record_demo(stores: Stores) -> None:
    items = bundles()
    for back in range(7, 0, -1):  # the replayed history, oldest first
        for index, (name, bundle) in enumerate(items):
            if (index + back) % 3 == 0 or (back in (2, 5) and index % 2 == 0):
                continue  # a different subset each week
            meeting, evaluation = facts(name, bundle, 7 * back)
            stores.recorder.record(meeting, evaluation, None, now=meeting.start + 3 * 3600)
        _annotate_history(stores, previous_week(back))
    for name, bundle in items:
        meeting, evaluation = facts(name, bundle)
        stores.recorder.record(meeting, evaluation, bundle, now=meeting.start + 3 * 3600)
    _annotate_this_week(stores)


def previous_week(back: int) -> str:
    from shared.store.keys import previous_weeks

    return previous_weeks(WEEK, back + 1)[0]


def _note(status: str, by: str, when: datetime, note: str) -> str:
    return json.dumps([{"status": status, "by": by, "at": when.isoformat(), "note": note}])


def _annotate_history(stores: Stores, week: str) -> None:
    from azure.data.tables import UpdateMode

    rows = sorted(stores.findings.week(week), key=lambda r: (r["Start"], r["RowKey"]))
    for row in rows:
        if row["Severity"] != "high":
            continue
        keep_open = week == previous_week(1) and row["Rule"] in ("uninvited-attendee", "consent-missing")
        if keep_open:
            if row["Rule"] == "uninvited-attendee":
                stores.findings.table.update_entity({"PartitionKey": week, "RowKey": row["RowKey"],
                                                     "Status": "acknowledged"}, mode=UpdateMode.MERGE)
            continue
        when = row["Start"] + timedelta(days=1)
        stores.findings.table.update_entity({
            "PartitionKey": week, "RowKey": row["RowKey"], "Status": "resolved",
            "Annotations": _note("resolved", "Mrs Okafor (DSL)", when, "Spoken to the teacher; parents informed.")},
            mode=UpdateMode.MERGE)


def _annotate_this_week(stores: Stores) -> None:
    from azure.data.tables import UpdateMode

    for row in stores.findings.week(WEEK):
        if row["Rule"] == "one-to-one-with-pupil":
            when = row["Start"] + timedelta(hours=20)
            stores.findings.table.update_entity({
                "PartitionKey": WEEK, "RowKey": row["RowKey"], "Status": "accepted-risk",
                "Annotations": _note("accepted-risk", "Mrs Okafor (DSL)", when,
                                     "SEN 1:1 sessions agreed with parents; a second adult joins from January.")},
                mode=UpdateMode.MERGE)


def synthetic_week(findings: int, week: str = WEEK, seed: int = 1) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Table rows of a large made-up week (bench and size tests): ``findings`` findings over about
    ``findings / 4`` meetings of 60 staff, every rule represented, long free-text subjects and summaries."""
    import random

    from shared.policy.catalogue import catalogue
    from shared.store.keys import week_bounds

    rng = random.Random(seed)
    specs = list(catalogue().values())
    start, _ = week_bounds(week, ZONE)
    meetings: list[dict[str, Any]] = []
    rows: list[dict[str, Any]] = []
    n_meetings = max(1, findings // 4)
    for m in range(n_meetings):
        begin = start + timedelta(days=m % 5, hours=8 + (m * 7) % 9, minutes=15 * (m % 4))
        staff = m % 60
        meetings.append({"PartitionKey": week, "RowKey": f"{m:032x}", "Subject": f"Lesson {m} – Year {3 + m % 4}",
                         "Start": begin.astimezone(UTC), "InScope": True, "Compliant": m % 5 == 0,
                         "OrganiserId": f"staff-{staff}", "OrganiserName": f"Teacher {staff}",
                         "Coverage": "[]", "Unavailable": "[]", "UnclassifiedAdults": "[]"})
    for i in range(findings):
        spec = specs[i % len(specs)]
        m = i % n_meetings
        meeting = meetings[m]
        rows.append({
            "PartitionKey": week, "RowKey": hashlib.sha256(f"{seed}|{i}".encode()).hexdigest()[:40],
            "OccurrenceId": meeting["RowKey"], "Rule": spec.id, "Severity": spec.severity,
            "Subject": f"user-{rng.randrange(10**6)}", "SubjectName": f"Pupil {rng.randrange(400)} Surname",
            "Clauses": " ".join(spec.clauses), "Summary": f"{spec.title} in '{meeting['Subject']}': " + "detail " * 20,
            "Evidence": "{}", "MeetingSubject": meeting["Subject"], "OrganiserId": meeting["OrganiserId"],
            "OrganiserName": meeting["OrganiserName"], "Team": f"Year {3 + m % 4}" if m % 3 else "",
            "Start": meeting["Start"], "MachineState": "open"})
    return rows, meetings


def screenshot(html: Path, png: Path, width: int = 760) -> bool:
    """A full-page PNG of ``html`` with headless Chromium; False when Chromium is not installed."""
    if not CHROMIUM.exists():
        return False
    html, png = html.resolve(), png.resolve()
    with tempfile.TemporaryDirectory(prefix="vcaudit-chromium-") as profile:
        probe = Path(profile) / "measure.html"
        probe.write_text(html.read_text(encoding="utf-8").replace(
            "</body>", "<script>document.body.setAttribute('data-height', "
                       "document.documentElement.scrollHeight)</script></body>"), encoding="utf-8")
        flags = [*HEADLESS, f"--user-data-dir={profile}", f"--window-size={width},1000"]
        dom = subprocess.run([str(CHROMIUM), *flags, "--dump-dom", probe.as_uri()], capture_output=True, text=True,
                             timeout=120, check=False).stdout
        height = 4000
        marker = 'data-height="'
        if marker in dom:
            height = int(dom.split(marker, 1)[1].split('"', 1)[0]) + 8
        flags[-1] = f"--window-size={width},{height}"
        subprocess.run([str(CHROMIUM), *flags, f"--screenshot={png}", html.as_uri()], capture_output=True,
                       timeout=120, check=False)
    return png.exists()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", default=str(ROOT / "out"), help="output folder (default out/)")
    parser.add_argument("--docs", action="store_true", help="also copy the screenshot to docs/digest.png")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    settings = load_settings({"VCAUDIT_TENANT_ID": "7c3e2a91-5b8d-4f0e-9a61-2d4b8c0f3e17",
                              "VCAUDIT_STAFF_GROUP_IDS": "0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0",
                              "VCAUDIT_PUPIL_GROUP_IDS": "0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0"})
    with Azurite() as azurite:
        stores = open_stores(StorageConfig.from_connection_string(azurite.connection_string), prefix="preview")
        record_demo(stores)
        ctx = MailContext.open(stores, settings, expect_subscriptions=False)
        now = datetime(2026, 11, 23, 7, 5, tzinfo=UTC)
        digest = collect(ctx, WEEK, now)
    full, _ = write_digest_files(out / "digest.html", digest)
    print(f"subject: {full.subject}")
    print(f"wrote {out / 'digest.html'} ({len(full.html):,} bytes; request {full.request_bytes():,} bytes, "
          f"{full.csv_rows} CSV rows), digest.txt, digest-summary.html, findings.csv")
    png = out / "digest.png"
    if screenshot(out / "digest.html", png):
        print(f"wrote {png}")
        if args.docs:
            shutil.copyfile(png, ROOT / "docs" / "digest.png")
            print(f"copied to {ROOT / 'docs' / 'digest.png'}")
    else:
        print("Chromium not found (/usr/bin/chromium): no screenshot", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
