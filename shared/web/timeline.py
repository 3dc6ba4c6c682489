"""A picture of a call, drawn on the server as inline SVG from the stored evidence: who was in it when (staff,
pupils, other adults, people from outside the school), the stretches when pupils were there without a member of
staff (shaded), screen shares and recordings (marked).

Presence comes from ``shared.evidence.meeting.Meeting`` (the same reading the rules use: call-record sessions,
else attendance reports). Screen shares are call-record segments carrying ``applicationsharing-video`` media
(https://learn.microsoft.com/en-us/graph/api/resources/callrecords-media); recordings are the meeting's
``callRecording`` items, from ``createdDateTime`` to ``endDateTime``
(https://learn.microsoft.com/en-us/graph/api/resources/callrecording). No style attributes: the stylesheet
colours the classes, so the page's Content-Security-Policy needs no inline style.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from markupsafe import Markup, escape

from shared.evidence.bundle import parse_bundle
from shared.evidence.meeting import Meeting, Role, identity_from_endpoint, merge
from shared.evidence.reader import BundleError
from shared.evidence.times import TimeFormatError, parse_instant

SHARING_LABEL = "applicationsharing-video"
ROLE_ORDER = {Role.STAFF: 0, Role.PUPIL: 1, Role.ADULT: 2, Role.EXTERNAL: 3}
ROLE_WORDS = {Role.STAFF: "staff", Role.PUPIL: "pupil", Role.ADULT: "other school account",
              Role.EXTERNAL: "from outside the school"}
Span = tuple[float, float]


@dataclass(frozen=True, slots=True)
class Row:
    name: str
    role: Role
    spans: tuple[Span, ...]

    @property
    def role_word(self) -> str:
        return ROLE_WORDS[self.role]


@dataclass(slots=True)
class Timeline:
    start: float
    end: float
    rows: list[Row] = field(default_factory=list)
    unsupervised: list[Span] = field(default_factory=list)
    shares: list[tuple[str, Span]] = field(default_factory=list)  # (who, when)
    recordings: list[Span] = field(default_factory=list)
    source: str = ""  # "call record" or "attendance report"

    @property
    def empty(self) -> bool:
        return not self.rows


def _instant(value: Any) -> float | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return parse_instant(value)
    except TimeFormatError:
        return None


def _unsupervised(rows: list[Row]) -> list[Span]:
    """Where at least one pupil was present and no member of staff was."""
    staff = merge([s for r in rows if r.role is Role.STAFF for s in r.spans])
    pupils = merge([s for r in rows if r.role is Role.PUPIL for s in r.spans])
    out: list[Span] = []
    for start, end in pupils:
        cursor = start
        for s_start, s_end in staff:
            if s_end <= cursor or s_start >= end:
                continue
            if s_start > cursor:
                out.append((cursor, s_start))
            cursor = max(cursor, s_end)
        if cursor < end:
            out.append((cursor, end))
    return [s for s in out if s[1] - s[0] >= 1]


def build(raw: dict[str, Any], *, names: bool = True) -> Timeline | None:
    """The timeline of a stored evidence bundle; None when the bundle cannot be read or shows nobody.
    ``names=False`` labels people by role only (for viewers who see no names)."""
    try:
        meeting = Meeting(parse_bundle(raw))
    except (BundleError, TimeFormatError, KeyError, TypeError, ValueError):
        return None
    rows: list[Row] = []
    counters: dict[Role, int] = {}
    people = sorted((p for p in meeting.presence.values() if p.timed),
                    key=lambda p: (ROLE_ORDER[p.person.role], min(s for s, _, _ in p.intervals)))
    for presence in people:
        role = presence.person.role
        counters[role] = counters.get(role, 0) + 1
        label = presence.person.label if names else f"{ROLE_WORDS[role].capitalize()} {counters[role]}"
        rows.append(Row(label, role, tuple(presence.merged())))
    if not rows:
        return None
    spans = [s for r in rows for s in r.spans]
    timeline = Timeline(min(s for s, _ in spans), max(e for _, e in spans), rows,
                        source="call record" if meeting.presence_source == "callRecord" else "attendance report")
    timeline.unsupervised = _unsupervised(rows)
    for index, record in enumerate(meeting.bundle.call_records):
        for session in record.get("sessions") or []:
            if not isinstance(session, dict):
                continue
            ident = identity_from_endpoint(session.get("caller") or {}, f"callRecords[{index}].sessions")
            who = meeting.person(ident) if ident is not None else None
            label = (who.label if names else ROLE_WORDS[who.role]) if who is not None else "someone"
            for segment in session.get("segments") or []:
                media = segment.get("media") if isinstance(segment, dict) else None
                if any(isinstance(m, dict) and str(m.get("label", "")).lower() == SHARING_LABEL
                       for m in media or []):
                    s, e = _instant(segment.get("startDateTime")), _instant(segment.get("endDateTime"))
                    if s is not None and e is not None:
                        timeline.shares.append((label, (s, e)))
    for recording in meeting.bundle.recordings:
        s, e = _instant(recording.get("createdDateTime")), _instant(recording.get("endDateTime"))
        if s is not None:
            timeline.recordings.append((s, e if e is not None and e > s else s + 30))
    timeline.start = min([timeline.start, *(s for _, (s, _e) in timeline.shares), *(s for s, _ in timeline.recordings)])
    timeline.end = max([timeline.end, *(e for _, (_s, e) in timeline.shares), *(e for _, e in timeline.recordings)])
    return timeline


# ---------------------------------------------------------------------------------------------- drawing
WIDTH = 720
LABEL = 170
RIGHT = 12
ROW = 22
TOP = 30
LEGEND = 30


def _clock(epoch: float, zone: ZoneInfo) -> str:
    return datetime.fromtimestamp(epoch, zone).strftime("%H:%M")


def _step(seconds: float) -> int:
    for minutes in (1, 2, 5, 10, 15, 30, 60, 120):
        if seconds / (minutes * 60) <= 8:
            return minutes * 60
    return 240 * 60


def _short(text: str, limit: int = 24) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def minutes(span: Span) -> str:
    total = round((span[1] - span[0]) / 60)
    return "under a minute" if total < 1 else f"{total} min"


def svg(timeline: Timeline, zone: ZoneInfo, *, title: str = "Timeline of the call") -> Markup:
    """The picture, as inline SVG markup (every text escaped)."""
    span = max(timeline.end - timeline.start, 60.0)
    plot = WIDTH - LABEL - RIGHT
    height = TOP + ROW * len(timeline.rows) + LEGEND

    def x(epoch: float) -> float:
        return round(LABEL + (epoch - timeline.start) / span * plot, 1)

    bottom = TOP + ROW * len(timeline.rows)
    parts: list[str] = []
    desc = (f"{len(timeline.rows)} people from {_clock(timeline.start, zone)} to {_clock(timeline.end, zone)}; "
            f"{len(timeline.unsupervised)} stretch(es) with pupils and no member of staff; "
            f"{len(timeline.shares)} screen share(s); {len(timeline.recordings)} recording(s).")
    parts.append(f'<svg class="timeline" viewBox="0 0 {WIDTH} {height}" role="img" '
                 f'aria-labelledby="tl-title tl-desc" xmlns="http://www.w3.org/2000/svg">')
    parts.append(f'<title id="tl-title">{escape(title)}</title><desc id="tl-desc">{escape(desc)}</desc>')
    step = _step(span)
    first = (int(timeline.start) // step + 1) * step
    tick = first
    while tick < timeline.end:
        parts.append(f'<line class="tl-grid" x1="{x(tick)}" x2="{x(tick)}" y1="{TOP - 6}" y2="{bottom}"/>')
        parts.append(f'<text class="tl-tick" x="{x(tick)}" y="{TOP - 10}" text-anchor="middle">'
                     f'{_clock(tick, zone)}</text>')
        tick += step
    parts.append(f'<text class="tl-tick" x="{LABEL}" y="{TOP - 10}" text-anchor="start">'
                 f'{_clock(timeline.start, zone)}</text>')
    for s, e in timeline.unsupervised:
        parts.append(f'<rect class="tl-unsupervised" x="{x(s)}" y="{TOP - 4}" width="{max(2.0, x(e) - x(s))}" '
                     f'height="{bottom - TOP + 4}"><title>Pupils without a member of staff, {_clock(s, zone)}–'
                     f'{_clock(e, zone)} ({minutes((s, e))})</title></rect>')
    for s, e in timeline.recordings:
        parts.append(f'<rect class="tl-recording" x="{x(s)}" y="{TOP - 4}" width="{max(2.0, x(e) - x(s))}" '
                     f'height="4"><title>Recording, {_clock(s, zone)}–{_clock(e, zone)}</title></rect>')
        parts.append(f'<line class="tl-recording-line" x1="{x(s)}" x2="{x(s)}" y1="{TOP - 4}" y2="{bottom}"/>')
    for i, row in enumerate(timeline.rows):
        y = TOP + i * ROW
        parts.append(f'<text class="tl-name" x="{LABEL - 8}" y="{y + 15}" text-anchor="end">'
                     f'{escape(_short(row.name))}</text>')
        for s, e in row.spans:
            parts.append(f'<rect class="tl-{row.role.value}" x="{x(s)}" y="{y + 5}" width="{max(2.0, x(e) - x(s))}" '
                         f'height="12" rx="2"><title>{escape(row.name)} ({row.role_word}), {_clock(s, zone)}–'
                         f'{_clock(e, zone)}</title></rect>')
        for who, (s, e) in timeline.shares:
            if who == row.name:
                parts.append(f'<rect class="tl-share" x="{x(s)}" y="{y + 8}" width="{max(3.0, x(e) - x(s))}" '
                             f'height="6"><title>Screen shared by {escape(who)}, {_clock(s, zone)}–'
                             f'{_clock(e, zone)}</title></rect>')
    legend_y = bottom + 20
    items = [("tl-staff", "staff"), ("tl-pupil", "pupil"), ("tl-adult", "other school account"),
             ("tl-external", "outside the school"), ("tl-unsupervised", "pupils without staff"),
             ("tl-share", "screen share"), ("tl-recording", "recording")]
    cursor = 4.0
    for cls, word in items:
        parts.append(f'<rect class="{cls}" x="{cursor}" y="{legend_y - 10}" width="12" height="12"/>')
        parts.append(f'<text class="tl-legend" x="{cursor + 16}" y="{legend_y}">{word}</text>')
        cursor += 22 + 6.4 * len(word)
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every text above is escaped or a fixed word
