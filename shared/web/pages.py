"""The desk's pages and forms: a request in, a response out.

Every page is rendered on the server (Jinja2, autoescaped) and works without script; every form is a plain POST
with a CSRF token, answered by a redirect (post/redirect/get) or by the page again with the problem said in one
line. Every response carries a strict Content-Security-Policy (no script at all, styles only from the package).
Governors get counts and trends: their pages are rendered from data that holds no name, and the pages that
would show names refuse them.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from http.cookies import CookieError, SimpleCookie
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from shared.admin.validate import InvalidInput
from shared.digest.model import STATUS_LABEL, clause_refs, finding_view, local_when, plural
from shared.policy.catalogue import catalogue
from shared.web import csrf, timeline
from shared.web.data import Columns, Desk, ImportRefused, NotFound
from shared.web.roles import LOCAL_COOKIE, LOCAL_ROLES, NotSignedIn, Viewer, local_signin_allowed, viewer

log = logging.getLogger("vcaudit.desk")

BASE = "/api/desk"
STATIC = Path(__file__).resolve().parent / "static"
STATIC_TYPES = {".css": "text/css", ".svg": "image/svg+xml", ".ico": "image/x-icon"}
CSP = ("default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; "
       "base-uri 'none'")
MAX_FORM = 5_000_000
DECISIONS = {  # the form's choice -> (the finding's status, what the note is called, required)
    "acknowledged": ("acknowledged", "Note", True),
    "false-positive": ("false-positive", "Reason", True),
    "accepted-risk": ("accepted-risk", "Why the risk is accepted", True),
    "discussed": ("resolved", "What was agreed with the teacher", True),
}
DONE = {"recorded": "Recorded.", "held": "Put on hold: retention will keep it."}  # after a form, by code only
DECISION_WORDS = {"acknowledged": "Acknowledge", "false-positive": "False positive",
                  "accepted-risk": "Accept the risk until a date", "discussed": "Discussed with the teacher"}


@dataclass
class Request:
    method: str
    path: str  # after /api/desk, without the leading slash: "", "concerns/2026-W47.abc"
    query: Mapping[str, str] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)  # lower-case names
    body: bytes = b""
    secure: bool = False

    def cookies(self) -> dict[str, str]:
        jar = SimpleCookie()
        try:
            jar.load(self.headers.get("cookie", ""))
        except CookieError:
            return {}
        return {k: v.value for k, v in jar.items()}

    def form(self) -> dict[str, str]:
        if len(self.body) > MAX_FORM:
            raise InvalidInput("the form is too large")
        kind = self.headers.get("content-type", "")
        if kind.startswith("multipart/form-data"):
            return _multipart(self.body, kind)
        try:
            text = self.body.decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidInput("the form is not UTF-8 text") from None
        return dict(parse_qsl(text, keep_blank_values=True))


@dataclass
class Response:
    status: int
    body: bytes
    content_type: str = "text/html"
    headers: dict[str, str] = field(default_factory=dict)


def _multipart(body: bytes, kind: str) -> dict[str, str]:
    """A small multipart/form-data reader for the consent upload (text fields and one text file)."""
    from email.parser import BytesParser
    from email.policy import HTTP

    message = BytesParser(policy=HTTP).parsebytes(b"Content-Type: " + kind.encode("latin-1") + b"\r\n\r\n" + body)
    out: dict[str, str] = {}
    if not message.is_multipart():
        raise InvalidInput("the upload could not be read")
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        if isinstance(name, str) and isinstance(payload, bytes):
            try:
                out[name] = payload.decode("utf-8-sig")
            except UnicodeDecodeError:
                raise InvalidInput(f"{name}: not UTF-8 text") from None
    return out


_env: Environment | None = None


def environment() -> Environment:
    global _env
    if _env is None:
        env = Environment(loader=PackageLoader("shared.web", "templates"),
                          autoescape=select_autoescape(enabled_extensions=("html.j2",), default=True),
                          undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
        env.filters["plural"] = plural
        env.filters["when"] = local_when
        env.globals["base"] = BASE
        env.globals["status_label"] = lambda s: STATUS_LABEL.get(s, s)
        _env = env
    return _env


# ---------------------------------------------------------------------------------------------- plumbing
class Page:
    """One request's context: who, the CSRF nonce, and how to answer."""

    def __init__(self, req: Request, desk: Desk, who: Viewer, nonce: str, now: datetime, new_nonce: bool) -> None:
        self.req, self.desk, self.who, self.nonce, self.now, self.new_nonce = req, desk, who, nonce, now, new_nonce

    def token(self) -> str:
        return csrf.token(self.desk.csrf_key(), self.nonce, self.who.name)

    def render(self, template: str, status: int = 200, **values: Any) -> Response:
        html = environment().get_template(template).render(who=self.who, csrf_field=csrf.FIELD,
                                                           csrf_token=self.token(), **values)
        return self.finish(Response(status, html.encode("utf-8")))

    def redirect(self, path: str, done: str = "") -> Response:
        target = f"{BASE}/{path}" if path else f"{BASE}/"
        if done:
            target += ("&" if "?" in target else "?") + urlencode({"done": done})
        return self.finish(Response(303, b"", headers={"Location": target}))

    def finish(self, response: Response) -> Response:
        if self.new_nonce:
            response.headers["Set-Cookie"] = csrf.cookie_header(self.nonce, secure=self.req.secure, path=BASE)
        return response


def secured(response: Response) -> Response:
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault("Cache-Control", "no-store")
    response.headers.setdefault("X-Frame-Options", "DENY")
    return response


def _plain(status: int, title: str, message: str, *, local: bool = False) -> Response:
    html = environment().get_template("message.html.j2").render(title=title, message=message, who=None,
                                                                local=local)
    return Response(status, html.encode("utf-8"))


def _static(name: str) -> Response:
    path = (STATIC / name).resolve()
    if path.parent != STATIC.resolve() or not path.is_file() or path.suffix not in STATIC_TYPES:
        return Response(404, b"not found", "text/plain")
    return Response(200, path.read_bytes(), STATIC_TYPES[path.suffix],
                    headers={"Cache-Control": "public, max-age=3600"})


def handle(req: Request, desk: Desk, env: Mapping[str, str], now: datetime) -> Response:
    return secured(_handle(req, desk, env, now))


def _handle(req: Request, desk: Desk, env: Mapping[str, str], now: datetime) -> Response:
    parts = [p for p in req.path.strip("/").split("/") if p]
    if parts[:1] == ["static"] and len(parts) == 2 and req.method == "GET":
        return _static(parts[1])
    cookies = req.cookies()
    local = local_signin_allowed(env, desk.settings.local_signin)
    if parts[:1] == ["signin"] and local:
        return _local_signin(req)
    who = viewer(req.headers, cookies, env, local_setting=desk.settings.local_signin)
    if isinstance(who, NotSignedIn):
        if who.may_sign_in_locally:
            return Response(303, b"", headers={"Location": f"{BASE}/signin"})
        return _plain(who.status, "Not signed in" if who.status == 401 else "Not allowed", who.reason)
    nonce = cookies.get(csrf.COOKIE) or ""
    fresh = not nonce or len(nonce) > 64
    page = Page(req, desk, who, csrf.new_nonce() if fresh else nonce, now, fresh)
    if req.method == "POST":
        try:
            form = req.form()
        except InvalidInput as exc:
            return page.finish(_plain(400, "The form could not be read", str(exc)))
        if fresh or not csrf.same_origin(req.headers.get("origin"), req.headers.get("host")) or not csrf.valid(
                desk.csrf_key(), nonce, who.name, form.get(csrf.FIELD)):
            log.warning("desk form refused: missing or wrong CSRF token (%s)", who.role_name)
            return page.finish(_plain(403, "Form refused", "This form did not come from the desk (its security "
                                      "token is missing or out of date). Go back, reload the page and try again."))
        return _post(page, parts, form)
    if req.method != "GET":
        return _plain(405, "Not allowed", "Use the desk's pages and forms.")
    return _get(page, parts)


def _local_signin(req: Request) -> Response:
    if req.method == "POST":
        try:
            chosen = req.form().get("role", "")
        except InvalidInput:
            chosen = ""
        if chosen in LOCAL_ROLES:
            return Response(303, b"", headers={"Location": f"{BASE}/",
                                               "Set-Cookie": f"{LOCAL_COOKIE}={chosen}; Path={BASE}; HttpOnly; "
                                                             "SameSite=Strict"})
    html = environment().get_template("signin.html.j2").render(who=None, local=True, roles=list(LOCAL_ROLES))
    return Response(200, html.encode("utf-8"))


def _get(page: Page, parts: list[str]) -> Response:
    routes: dict[str, Callable[[Page, list[str]], Response]] = {
        "": this_week, "concerns": concern, "meetings": meetings, "consent": consent, "monitoring": monitoring}
    head = parts[0] if parts else ""
    handler = routes.get(head)
    if handler is None:
        return page.finish(_plain(404, "Not found", "There is no such page on the desk."))
    try:
        return handler(page, parts[1:])
    except NotFound as exc:
        return page.finish(_plain(404, "Not found", str(exc)))
    except InvalidInput as exc:
        return page.finish(_plain(400, "Not understood", str(exc)))


def _post(page: Page, parts: list[str], form: dict[str, str]) -> Response:
    try:
        if parts[:1] == ["concerns"] and len(parts) == 2:
            return decide(page, parts[1], form)
        if parts == ["consent"]:
            return import_consent(page, form)
    except NotFound as exc:
        return page.finish(_plain(404, "Not found", str(exc)))
    return page.finish(_plain(404, "Not found", "There is no such form on the desk."))


def _refuse_governor(page: Page) -> Response | None:
    if not page.who.sees_names:
        return page.finish(_plain(403, "Not for this role", "Governors see counts and trends, not individual "
                                  "concerns or meetings."))
    return None


# ---------------------------------------------------------------------------------------------- pages
def this_week(page: Page, rest: list[str]) -> Response:
    desk = page.desk
    week = page.req.query.get("week") or desk.latest_week(page.now)
    digest = desk.digest(week, page.now)
    if not page.who.sees_names:
        return page.render("governor.html.j2", d=digest, nav="week",
                           concerns_by_rule=Counter(v.title for v in digest.concerns).most_common(),
                           carried_count=len(digest.carried),
                           issues_by_rule=[(r.title, r.count) for r in digest.by_rule if r.severity != "high"],
                           consent_counts=[(g.group, g.size) for g in digest.consent_gaps])
    return page.render("week.html.j2", d=digest, nav="week", cards=digest.concern_cards, teachers=digest.teachers,
                       done=DONE.get(page.req.query.get("done", ""), ""))


def concern(page: Page, rest: list[str]) -> Response:
    refused = _refuse_governor(page)
    if refused:
        return refused
    if len(rest) != 1:
        raise NotFound("no such concern")
    return _concern_page(page, rest[0])


def _concern_page(page: Page, finding_id: str, *, problem: str = "", form: Mapping[str, str] | None = None,
                  status: int = 200) -> Response:
    desk = page.desk
    row = desk.finding(finding_id)
    view = finding_view(row, desk.zone)
    spec = catalogue().get(view.rule)
    meeting_id = f"{view.week}.{view.occurrence}"
    try:
        meeting = desk.meeting(meeting_id)
    except NotFound:
        meeting = None
    picture = _timeline(desk, meeting)
    return page.render(
        "concern.html.j2", status=status, v=view, nav="week", spec_text=(spec.policy_text if spec else ""),
        fix=str(getattr(spec, "remediation", "") or "") if spec else "", meeting=meeting, meeting_id=meeting_id,
        timeline=picture, svg=timeline.svg(picture, desk.zone, title=f"Timeline of {view.meeting}")
        if picture else None, decisions=desk.decisions(row), state=STATUS_LABEL.get(desk.status(row, page.now), ""),
        held=desk.held(row), audit=desk.audit(finding_id), problem=problem, form=form or {},
        choices=[(k, DECISION_WORDS[k], DECISIONS[k][1]) for k in DECISIONS], minutes=timeline.minutes,
        clock=lambda t: datetime.fromtimestamp(t, desk.zone).strftime("%H:%M"),
        done=DONE.get(page.req.query.get("done", ""), ""))


def _timeline(desk: Desk, meeting: Mapping[str, Any] | None) -> timeline.Timeline | None:
    if meeting is None:
        return None
    bundle = desk.evidence(dict(meeting))
    return timeline.build(bundle) if bundle else None


def decide(page: Page, finding_id: str, form: Mapping[str, str]) -> Response:
    refused = _refuse_governor(page)
    if refused:
        return refused
    desk = page.desk
    action = form.get("action", "")
    note = form.get("note", "").strip()
    try:
        if action == "hold":
            if not note:
                raise InvalidInput("say why the concern is put on hold (for example, a child-protection case)")
            desk.hold(finding_id, reason=note, by=page.who.name, now=page.now)
            return page.redirect(f"concerns/{quote(finding_id)}", "held")
        if action not in DECISIONS:
            raise InvalidInput("choose what you decided")
        status, label, required = DECISIONS[action]
        if required and not note:
            raise InvalidInput(f"{label}: please write a few words (it goes into the record)")
        until = None
        if action == "accepted-risk":
            raw = form.get("until", "").strip()
            try:
                until = date.fromisoformat(raw)
            except ValueError:
                raise InvalidInput("until: give the date the accepted risk lapses on") from None
        if action == "discussed":
            note = f"Discussed with the teacher: {note}"
        desk.decide(finding_id, status=status, note=note, by=page.who.name, now=page.now, until=until)
    except InvalidInput as exc:
        return _concern_page(page, finding_id, problem=" ".join(str(exc).split()), form=form, status=400)
    return page.redirect(f"concerns/{quote(finding_id)}", "recorded")


def meetings(page: Page, rest: list[str]) -> Response:
    refused = _refuse_governor(page)
    if refused:
        return refused
    desk = page.desk
    if rest:
        return _meeting_page(page, rest[0])
    q = page.req.query
    raw_day = q.get("date", "").strip()
    try:
        day = date.fromisoformat(raw_day) if raw_day else None
    except ValueError:
        raise InvalidInput("date: give a date (YYYY-MM-DD)") from None
    teacher, team, pupil = (q.get(k, "").strip()[:100] for k in ("teacher", "class", "pupil"))
    rows = desk.search(day=day, teacher=teacher, team=team, pupil=pupil, now=page.now)
    items = [{"id": f"{r['PartitionKey']}.{r['RowKey']}", "subject": r.get("Subject") or "(no subject)",
              "when": local_when(_local(r.get("Start"), desk)), "teacher": r.get("OrganiserName") or "unknown",
              "team": r.get("Team") or "private meeting", "pupils": int(r.get("PupilCount") or 0),
              "findings": int(r.get("FindingsCount") or 0), "high": int(r.get("HighCount") or 0),
              "in_scope": bool(r.get("InScope"))} for r in rows]
    return page.render("meetings.html.j2", nav="meetings", items=items, day=raw_day, teacher=teacher, team=team,
                       pupil=pupil)


def _local(value: Any, desk: Desk) -> datetime | None:
    return value.astimezone(desk.zone) if isinstance(value, datetime) else None


def _meeting_page(page: Page, meeting_id: str) -> Response:
    desk = page.desk
    row = desk.meeting(meeting_id)
    week, occurrence = str(row["PartitionKey"]), str(row["RowKey"])
    views = [finding_view(r, desk.zone) for r in desk.meeting_findings(week, occurrence)]
    views.sort(key=lambda v: (v.severity != "high", v.title))
    picture = _timeline(desk, row)
    return page.render("meeting.html.j2", nav="meetings", m=row, when=local_when(_local(row.get("Start"), desk)),
                       views=views, timeline=picture,
                       svg=timeline.svg(picture, desk.zone, title=f"Timeline of {row.get('Subject') or 'the meeting'}")
                       if picture else None, minutes=timeline.minutes,
                       clock=lambda t: datetime.fromtimestamp(t, desk.zone).strftime("%H:%M"))


def consent(page: Page, rest: list[str], *, report: Any = None, problems: list[str] | None = None,
            status: int = 200) -> Response:
    desk = page.desk
    digest = desk.digest(desk.latest_week(page.now), page.now)
    gaps = [(g.group, g.pupils if page.who.sees_names else (), g.size) for g in digest.consent_gaps]
    return page.render("consent.html.j2", status=status, nav="consent", gaps=gaps, report=report,
                       problems=problems or [], done=DONE.get(page.req.query.get("done", ""), ""))


def import_consent(page: Page, form: Mapping[str, str]) -> Response:
    if not page.who.administers:
        return page.finish(_plain(403, "Not for this role", "Only an Admin imports the consent register."))
    text = form.get("file", "")
    if not text.strip():
        return consent(page, [], problems=["choose the consent form's CSV export to import"], status=400)
    order = form.get("date_order", "dmy")
    if order not in ("dmy", "mdy"):
        order = "dmy"
    try:
        result, _ = page.desk.import_consent(text, by=page.who.name, now=page.now, columns=Columns(),
                                             date_order=order)
    except ImportRefused as refused:
        return consent(page, [], problems=[f"line {p.line}: {p.message}" for p in refused.problems], status=422)
    except InvalidInput as exc:
        return consent(page, [], problems=[" ".join(str(exc).split())], status=400)
    return consent(page, [], report=result)


def monitoring(page: Page, rest: list[str]) -> Response:
    desk = page.desk
    week = desk.latest_week(page.now)
    digest = desk.digest(week, page.now)
    subscriptions = desk.subscriptions()
    last = desk.state("last-notification")
    watched = [{"what": _watch_words(s.resource), "until": local_when(_local(s.expiration, desk))
                if s.expiration else "unknown", "live": bool(s.subscription_id) and (
                    s.expiration is None or s.expiration > page.now)} for s in subscriptions]
    since = desk.first_seen(page.now)
    return page.render("monitoring.html.j2", nav="monitoring", d=digest, watched=watched,
                       last=local_when(_local(last.get("At"), desk)) if last and last.get("At") else "never",
                       since=local_when(since) if since else "",
                       clauses=[(c.id, c.text) for c in clause_refs(cid for cid, _, _ in digest.not_checkable)])


def _watch_words(resource: str) -> str:
    r = resource.strip("/").lower()
    if r.endswith("/events"):
        return "a staff or pupil calendar"
    if "callrecords" in r:
        return "call records (every Teams call)"
    if "getallrecordings" in r:
        return "recordings"
    if "getalltranscripts" in r:
        return "transcripts"
    return "other"
