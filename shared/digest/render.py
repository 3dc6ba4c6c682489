"""Rendering the digest and the alerts to mail: HTML (Outlook desktop, Outlook on the web, phones) and text.

Jinja2 with autoescaping for HTML (every subject, name and summary is someone's free text). What a recipient
may see is decided here, structurally: a copy for a recipient who does not see names (governor, head, admin)
is rendered from a view that holds no pupil's name, no meeting subject and no per-finding row at all, and
carries no CSV.

Graph's limits (docs/graph-facts.md §9): a ``sendMail`` request is at most about 4 MB, base64's third included, and
an inline attachment must be under 3 MB. The HTML lists at most ``MAX_CONCERNS`` concerns and
``MAX_ISSUES`` setting issues; the CSV holds as many findings as fit, and the mail says when it holds fewer.
"""

from __future__ import annotations

import base64
import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from shared.digest.csvfile import fitting_csv
from shared.digest.model import (
    CONSEQUENCE,
    Digest,
    FindingView,
    StaffGroup,
    concern_cards,
    fix_key,
    local_when,
    plural,
    teacher_lines,
)

REQUEST_LIMIT = 3_900_000  # Graph's request limit (about 4 MB), with room for headers and framing
ATTACHMENT_LIMIT = 2_990_000  # an inline fileAttachment must be under 3 MB
MAX_CONCERNS = 100
MAX_ISSUES = 250  # setting-issue rows in the HTML; the rest are counted and are in the CSV
MAX_LISTED = 60  # carried-over and annotated rows

SEVERITY_COLOURS = {"high": ("#b42318", "#fef3f2"), "medium": ("#b54708", "#fffaeb"),
                    "low": ("#175cd3", "#eff8ff"), "advisory": ("#475467", "#f2f4f7")}

_env: Environment | None = None


def environment() -> Environment:
    global _env
    if _env is None:
        env = Environment(loader=PackageLoader("shared.digest", "templates"),
                          autoescape=select_autoescape(enabled_extensions=("html.j2",), default=False),
                          undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
        env.globals["colours"] = SEVERITY_COLOURS
        env.filters["plural"] = plural
        env.filters["when"] = local_when
        _env = env
    return _env


@dataclass(frozen=True, slots=True)
class Mail:
    subject: str
    html: str
    text: str
    csv: bytes | None = None
    csv_rows: int = 0

    def message(self, to: Sequence[str]) -> dict[str, Any]:
        """Graph's ``message`` for ``sendMail``."""
        message: dict[str, Any] = {
            "subject": self.subject,
            "body": {"contentType": "HTML", "content": self.html},
            "toRecipients": [{"emailAddress": {"address": a}} for a in to],
        }
        if self.csv is not None:
            message["attachments"] = [{"@odata.type": "#microsoft.graph.fileAttachment", "name": "findings.csv",
                                       "contentType": "text/csv",
                                       "contentBytes": base64.b64encode(self.csv).decode("ascii")}]
        return message

    def request_bytes(self, to: Sequence[str] = ("someone@example.org",)) -> int:
        payload = {"message": self.message(to), "saveToSentItems": True}
        return len(json.dumps(payload, ensure_ascii=False).encode("utf-8"))


# ---------------------------------------------------------------------------------------------------- context


def subject_line(digest: Digest) -> str:
    flag = "" if digest.healthy else "[monitoring not healthy] "
    concerns = plural(len(digest.concerns), "safeguarding concern")
    carried = f", {len(digest.carried)} still open" if digest.carried else ""
    return (f"{flag}Video-conferencing digest, {digest.label}: {concerns} to decide{carried}, "
            f"{plural(digest.issues_count, 'setting issue')}, {plural(digest.audited, 'meeting')} audited")


def _cap_staff(groups: Sequence[StaffGroup], limit: int) -> tuple[list[StaffGroup], int]:
    """Staff groups with at most ``limit`` issue rows in all; returns them and the rows left out."""
    out: list[StaffGroup] = []
    left = limit
    omitted = 0
    for group in groups:
        meetings = []
        for meeting in group.meetings:
            if left <= 0:
                omitted += len(meeting.issues)
                continue
            kept = meeting.issues[:left]
            omitted += len(meeting.issues) - len(kept)
            left -= len(kept)
            meetings.append(replace(meeting, issues=kept))
        if meetings:
            out.append(replace(group, meetings=tuple(meetings)))
    return out, omitted


def _rule_counts(views: Sequence[FindingView]) -> list[tuple[str, int]]:
    return Counter(v.title for v in views).most_common()


def context(digest: Digest, *, full: bool, csv_note: str = "") -> dict[str, Any]:
    """The template's variables. ``full=False`` (no names): nothing naming a pupil or a meeting is passed."""
    trend_max = max([1] + [max(w.findings, w.audited) for w in digest.trend])
    rule_max = max([1] + [r.count for r in digest.by_rule])
    base: dict[str, Any] = {
        "d": digest, "full": full, "subject": subject_line(digest), "preheader": digest.summary_line(),
        "health": [{"title": h.title, "detail": h.detail, "lines": list(h.items) if full else []}
                   for h in digest.health],
        "consequence": CONSEQUENCE, "trend_max": trend_max, "rule_max": rule_max, "csv_note": csv_note,
        "concerns_by_rule": _rule_counts(digest.concerns), "carried_by_rule": _rule_counts(digest.carried),
        "annotated_by_status": Counter(v.status_label for v in digest.annotated).most_common(),
        "unclassified_count": len(digest.unclassified),
        "consent_counts": [(g.group, g.kind, g.size) for g in digest.consent_gaps],
        "staff_count": sum(1 for g in digest.staff if g.is_staff),
    }
    if full:
        staff, omitted = _cap_staff(digest.staff, MAX_ISSUES)
        shown = digest.concerns[:MAX_CONCERNS]
        teachers = teacher_lines(staff)
        base.update(concerns=shown, cards=concern_cards(shown), teachers=teachers, fix_key=fix_key(teachers),
                    concerns_omitted=max(0, len(digest.concerns) - MAX_CONCERNS), staff=staff,
                    issues_omitted=omitted, carried=digest.carried[:MAX_LISTED],
                    carried_omitted=max(0, len(digest.carried) - MAX_LISTED),
                    annotated=digest.annotated[:MAX_LISTED],
                    annotated_omitted=max(0, len(digest.annotated) - MAX_LISTED),
                    unclassified=digest.unclassified, consent_gaps=digest.consent_gaps)
    else:
        base.update(concerns=[], cards=[], teachers=[], fix_key=None, concerns_omitted=0, staff=[], issues_omitted=0,
                    carried=[], carried_omitted=0, annotated=[], annotated_omitted=0, unclassified=[], consent_gaps=[])
    return base


def render_digest(digest: Digest, *, full: bool, attach_csv: bool | None = None) -> Mail:
    """The digest for one kind of recipient; the DSL's copy (``full``) carries the CSV, within Graph's limits."""
    attach = full if attach_csv is None else attach_csv and full
    env = environment()
    html_t, text_t = env.get_template("digest.html.j2"), env.get_template("digest.txt.j2")
    total = len(digest.week_findings)
    if not attach or not total:
        ctx = context(digest, full=full)
        return Mail(ctx["subject"], html_t.render(ctx), text_t.render(ctx))
    # Lay out the mail once with a note, measure it, then fit the CSV into what is left.
    provisional = context(digest, full=True, csv_note=_csv_note(total, total))
    bare = Mail(provisional["subject"], html_t.render(provisional), text_t.render(provisional))
    room = REQUEST_LIMIT - bare.request_bytes() - 2048
    limit = min(ATTACHMENT_LIMIT, max(0, room) * 3 // 4)
    while True:
        data, rows = fitting_csv(digest.week_findings, limit)
        ctx = context(digest, full=True, csv_note=_csv_note(rows, total))
        if rows == 0:
            return Mail(ctx["subject"], html_t.render(ctx), text_t.render(ctx))
        mail = Mail(ctx["subject"], html_t.render(ctx), text_t.render(ctx), data, rows)
        over = mail.request_bytes() - REQUEST_LIMIT
        if over <= 0:
            return mail
        limit -= over * 3 // 4 + 4096  # the note grew the body: make room and fit again


def _csv_note(rows: int, total: int) -> str:
    if rows >= total:
        return f"findings.csv (attached) lists all {plural(total, 'finding')} of the week."
    if rows == 0:
        return (f"The week's {plural(total, 'finding')} are too many to attach within the mail size limit; "
                "they are in the Findings table.")
    return (f"findings.csv (attached) holds {rows:,} of the week's {total:,} findings (concerns first, then by "
            f"date): the whole list does not fit within the mail size limit. The Findings table holds them all.")


# ---------------------------------------------------------------------------------------------------- alerts


def render_alert(views: Sequence[FindingView], *, school: str = "", digest_day: str = "Monday",
                 links: str = "", now: datetime | None = None) -> Mail:
    """A same-day alert; with ``links`` (the desk's base URL) each concern links to its page there. A concern in
    a lesson that has not begun by ``now`` (a pupil without consent invited to next week's lesson) says so: there
    is still time to act before it."""
    env = environment()
    upcoming = {v.id for v in views if now is not None and v.start is not None and v.start > now}
    ctx = {"views": list(views), "school": school, "digest_day": digest_day, "links": links, "upcoming": upcoming}
    if len(views) == 1:
        v = views[0]
        subject = f"Safeguarding concern: {v.title} – {v.meeting}, {v.when}"
    else:
        subject = f"{len(views)} safeguarding concerns in Teams meetings"
    ctx["subject"] = subject
    return Mail(subject, env.get_template("alert.html.j2").render(ctx), env.get_template("alert.txt.j2").render(ctx))


def write_digest_files(path: Path, digest: Digest) -> tuple[Mail, list[Path]]:
    """The DSL's copy at ``path`` (HTML), its plain text beside it (``.txt``), the copy for other recipients
    (``-summary.html``, no pupils' names) and ``findings.csv``: for previews, the CLI and the demo."""
    full = render_digest(digest, full=True)
    summary = render_digest(digest, full=False)
    path.parent.mkdir(parents=True, exist_ok=True)
    written = [path, path.with_suffix(".txt"), path.with_name(path.stem + "-summary.html")]
    path.write_text(full.html, encoding="utf-8")
    written[1].write_text(full.text, encoding="utf-8")
    written[2].write_text(summary.html, encoding="utf-8")
    if full.csv is not None:
        csv_path = path.with_name("findings.csv")
        csv_path.write_bytes(full.csv)
        written.append(csv_path)
    return full, written
