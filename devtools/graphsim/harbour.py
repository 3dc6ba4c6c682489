"""Harbour Academy: a second, differently shaped school, and a fortnight in which its lessons change over time.

Elmgrove (``generate.primary_school``) is a primary school whose lessons are single meetings, mostly in class
team channels, written out occurrence by occurrence. Harbour is a small secondary school whose timetable lives in
Outlook: recurring series in ``GMT Standard Time`` that the simulator expands (so a 09:00 lesson is 09:00Z before
the last Sunday of March and 08:00Z after it), one series invited by a year-group address, pupils' own calendars
watched, and a **timeline** (``tenant.timeline``) saying what changes when:

==========================  ===================================================================================
Mon 23 Mar 09:00            Year 9 Spanish (weekly, Mon and Wed; lobby open to the organisation) is held.
Mon 23 Mar 16:00-16:18      Two pupils reuse the series link after school, alone (``pupils-unsupervised``).
Mon 23 Mar 18:00            The teacher restricts the lobby to herself: a later re-read must not clear 16:00.
Tue 24 Mar 12:00            Wednesday's Spanish is moved to Thursday 09:00.
Wed 25 Mar 15:00            Science catch-up: pupils join, the teacher never does and cancels it at 15:06.
Fri 27 Mar 10:00            Tuesday 31st's Year 11 Maths (weekly, Tue and Thu, invited as year11@) is moved to
                            Wednesday 1 April 14:00 ...
Sat 28 Mar 10:00            ... Year 9 tutor time's pattern changes from Fridays to Thursdays from 30 March.
Sun 29 Mar 01:00Z           British Summer Time begins.
Mon 30 Mar 09:00 BST        Spanish is held at 08:00Z; its call record grows on update: one pupil stayed alone.
Mon 30 Mar 12:00            ... the moved Maths lesson is moved again, to Wednesday 15:30.
Tue 31 Mar 17:00            Wednesday 1 April's Spanish is cancelled (the organiser's copy vanishes; pupils'
                            copies are marked cancelled).
Thu 2 Apr 16:00-17:00       Year 11 revision clinic; its event is deleted at 17:05, before its call record.
==========================  ===================================================================================

Every call record arrives 35 minutes after its call ends (Graph's documented delay is up to about 150 minutes),
every attendance report 10 minutes after. ``fortnight()`` returns the tenant; ``LESSONS`` names each lesson the
way the fortnight's tests and README refer to it.
"""

from __future__ import annotations

import copy
import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from devtools.graphsim import calendar
from devtools.graphsim.generate import SchoolWeek, _Ids
from devtools.graphsim.tenant import JSON, Tenant, graph_time

LONDON = ZoneInfo("Europe/London")
ZONE = "GMT Standard Time"
DOMAIN = "harbour.sch.uk"
FIRST_MONDAY = date(2026, 3, 23)
CALL_RECORD_DELAY = timedelta(minutes=35)
REPORT_DELAY = timedelta(minutes=10)


def local(day: date, hour: int, minute: int = 0) -> datetime:
    """A London wall-clock time as an aware UTC instant (GMT before 29 March 2026, BST after)."""
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=LONDON).astimezone(UTC)


def day(n: int) -> date:
    """The n-th day of the fortnight: 0 is Monday 23 March 2026."""
    return FIRST_MONDAY + timedelta(days=n)


@dataclass(frozen=True)
class Lesson:
    """One lesson as the fortnight's checks name it: where its evidence lives and what it should come to."""

    name: str
    subject: str
    mailbox: str  # the organiser
    start: datetime
    end: datetime
    meeting_id: str
    ical: str


class Harbour(SchoolWeek):
    """Builds the Harbour tenant with the ``SchoolWeek`` payload builders (the same Graph shapes as Elmgrove)."""

    def __init__(self, seed: int = 7) -> None:
        super().__init__(seed, 1, FIRST_MONDAY, DOMAIN, 0)
        self.rng = random.Random(seed)
        self.ids = _Ids(self.rng)
        self.tenant.tenant_id = "6f1d2c3b-4a59-4e68-9b7a-0a8b0c1d2e3f"
        self.timeline: list[JSON] = []
        self.lessons: dict[str, Lesson] = {}
        self.people: dict[str, str] = {}

    # ------------------------------------------------------------------ directory
    def build_directory(self) -> None:
        staff = {
            "okafor": ("Kemi", "Okafor"), "reyes": ("Daniel", "Reyes"), "shah": ("Priya", "Shah"),
            "hughes": ("Tom", "Hughes"), "novak": ("Lena", "Novak"),
        }
        for key, (first, last) in staff.items():
            self.people[key] = self._user(first, last, "teacher", "staff")
        year9 = [("Amira", "Bello"), ("Ben", "Carter"), ("Chloe", "Dunn"), ("Dev", "Evans"), ("Ella", "Frost"),
                 ("Finn", "Grant")]
        year11 = [("Grace", "Hale"), ("Harry", "Iqbal"), ("Isla", "Jones"), ("Jack", "Kaur"), ("Kai", "Lowe")]
        for i, (first, last) in enumerate(year9):
            self.people[f"y9-{i}"] = self._user(first, last, "student", "pupil")
        for i, (first, last) in enumerate(year11):
            self.people[f"y11-{i}"] = self._user(first, last, "student", "pupil")
        # The mailbox the digest is sent from: a school account, neither staff nor pupil.
        sender = f"vcaudit@{DOMAIN}"
        self.tenant.users["0a0b0c0d-0000-4000-8000-00000000cafe"] = {
            "id": "0a0b0c0d-0000-4000-8000-00000000cafe", "displayName": "vcaudit", "userPrincipalName": sender,
            "mail": sender, "userType": "Member", "proxyAddresses": [f"SMTP:{sender}"], "accountEnabled": True}
        self.staff = [self.people[k] for k in staff]
        self.pupils = [self.people[k] for k in self.people if k.startswith("y")]
        self.year9 = [self.people[f"y9-{i}"] for i in range(len(year9))]
        self.year11 = [self.people[f"y11-{i}"] for i in range(len(year11))]
        self._group("Harbour Staff", "staff", self.staff)
        self._group("Harbour Students", "students", self.pupils)
        self.year11_group = self._group("Year 11", "year11", self.year11)
        self.no_consent = [self.people["y11-4"]]  # Kai Lowe: no parental consent on the register
        consented = [p for p in self.pupils if p not in self.no_consent]
        self.tenant.consent = consented
        users = {uid: {k: u[k] for k in ("displayName", "userPrincipalName", "mail", "userType", "proxyAddresses")}
                 for uid, u in self.tenant.users.items()}
        self.tenant.directory = {
            "tenantId": self.tenant.tenant_id, "staff": list(self.staff), "pupils": list(self.pupils),
            "users": users,
            "groups": {g["mail"]: [m for m in self.tenant.transitive_members(gid) if m in self.tenant.users]
                       for gid, g in self.tenant.groups.items() if g.get("mailEnabled")},
            "classTeams": [], "consent": consented,
        }

    # ------------------------------------------------------------------ helpers
    def _invitees(self, pupils: list[str]) -> list[tuple[str, str]]:
        return [(self._name(p), self._upn(p)) for p in pupils]

    def _local_times(self, event: JSON, start: datetime, end: datetime) -> None:
        event["start"] = calendar.in_zone(start, ZONE)
        event["end"] = calendar.in_zone(end, ZONE)

    def _series(self, name: str, organizer: str, pupils: list[str], copies: list[str], subject: str,
                first: datetime, minutes: int, days: list[str], until: date, *, settings: JSON,
                invitees: list[tuple[str, str]] | None = None) -> tuple[JSON, JSON]:
        """A series master in the organiser's calendar and a copy in each of ``copies`` (same iCalUId)."""
        end = first + timedelta(minutes=minutes)
        meeting = self._meeting(organizer, subject, first, end, channel=None, settings=copy.deepcopy(settings),
                                attendees=[(p, "attendee") for p in pupils], meeting_type="recurring")
        recurrence = {
            "pattern": {"type": "weekly", "interval": 1, "month": 0, "dayOfMonth": 0, "daysOfWeek": days,
                        "firstDayOfWeek": "sunday", "index": "first"},
            "range": {"type": "endDate", "startDate": first.astimezone(LONDON).date().isoformat(),
                      "endDate": until.isoformat(), "recurrenceTimeZone": ZONE, "numberOfOccurrences": 0},
        }
        people = invitees if invitees is not None else self._invitees(pupils)
        master = self._event(organizer, organizer, subject, first, end, people, meeting=meeting,
                             event_type="seriesMaster", recurrence=recurrence)
        self._local_times(master, first, end)
        for mailbox in copies:
            twin = self._event(mailbox, organizer, subject, first, end, people, meeting=meeting,
                               event_type="seriesMaster", recurrence=copy.deepcopy(recurrence), ical=master["iCalUId"])
            self._local_times(twin, first, end)
        self.lessons[name] = Lesson(name, subject, organizer, first, end, meeting["id"], master["iCalUId"])
        return master, meeting

    def _single(self, name: str, organizer: str, pupils: list[str], subject: str, start: datetime, minutes: int, *,
                settings: JSON) -> tuple[JSON, JSON]:
        end = start + timedelta(minutes=minutes)
        meeting = self._meeting(organizer, subject, start, end, channel=None, settings=copy.deepcopy(settings),
                                attendees=[(p, "attendee") for p in pupils])
        event = self._event(organizer, organizer, subject, start, end, self._invitees(pupils), meeting=meeting)
        self._local_times(event, start, end)
        for pupil in pupils:
            twin = self._event(pupil, organizer, subject, start, end, self._invitees(pupils), meeting=meeting,
                               ical=event["iCalUId"])
            self._local_times(twin, start, end)
        self.lessons[name] = Lesson(name, subject, organizer, start, end, meeting["id"], event["iCalUId"])
        return event, meeting

    def _step(self, at: datetime, action: str, **fields: Any) -> None:
        self.timeline.append({"at": graph_time(at, digits=0), "action": action, **fields})

    def _held(self, name: str, meeting: JSON, organizer: str, sessions: list[JSON], *,
              report: bool = True) -> JSON:
        """The call happened: its call record arrives 35 minutes after it ended (and its attendance report 10)."""
        record = self._call_record(organizer, meeting["joinWebUrl"], sessions)
        del self.tenant.call_records[record["id"]]  # it exists only once the timeline says so
        end = max(datetime.fromisoformat(s["endDateTime"].replace("Z", "+00:00")) for s in sessions)
        record["lastModifiedDateTime"] = graph_time(end + CALL_RECORD_DELAY)
        self._step(end, "addCallRecord", delayMinutes=CALL_RECORD_DELAY.total_seconds() / 60, callRecord=record)
        if report:
            self._step(end, "addAttendanceReport", delayMinutes=REPORT_DELAY.total_seconds() / 60,
                       meetingId=meeting["id"], report=self._attendance(sessions, organizer, set()))
        self.held[name] = record
        return record

    def _lesson(self, teacher: str, pupils: list[str], start: datetime, end: datetime, **kw: Any) -> list[JSON]:
        sessions, _ = self._lesson_sessions(teacher, pupils, start, end, **kw)
        return sessions

    # ------------------------------------------------------------------ the fortnight
    def build_fortnight(self) -> None:
        p = self.people
        self.held: dict[str, JSON] = {}
        okafor, reyes, shah, hughes = p["okafor"], p["reyes"], p["shah"], p["hughes"]
        strict = {"lobbyBypassSettings": {"scope": "organizer", "isDialInBypassEnabled": False}}
        open_lobby = {"lobbyBypassSettings": {"scope": "organization", "isDialInBypassEnabled": False}}

        # Year 9 Spanish: Mondays and Wednesdays 09:00-09:50 London, lobby open to the organisation at first.
        spanish_pupils = self.year9[:5]
        spanish, spanish_meeting = self._series(
            "spanish", okafor, spanish_pupils, spanish_pupils, "Year 9 Spanish", local(day(0), 9), 50,
            ["monday", "wednesday"], day(10), settings=open_lobby)
        mon23 = local(day(0), 9)
        self._held("spanish-mon-23", spanish_meeting, okafor,
                   self._lesson(okafor, spanish_pupils, mon23, mon23 + timedelta(minutes=50)))
        # After school two pupils reuse the series link; the lobby lets them in; no adult ever joins.
        reuse = local(day(0), 16)
        alone = [self._session(self._who(pupil), reuse + timedelta(seconds=40 * i), reuse + timedelta(minutes=18))
                 for i, pupil in enumerate(spanish_pupils[:2])]
        self._held("spanish-reused-link", spanish_meeting, okafor, alone)
        self._step(local(day(0), 18), "patchMeeting", meetingId=spanish_meeting["id"], patch=strict)
        # Wednesday 25th's lesson moved to Thursday 26th, 09:00.
        wed25, thu26 = local(day(2), 9), local(day(3), 9)
        self._step(local(day(1), 12), "moveOccurrence", mailbox=okafor, seriesMasterId=spanish["id"],
                   originalStart=graph_time(wed25, digits=0), start=calendar.in_zone(thu26, ZONE),
                   end=calendar.in_zone(thu26 + timedelta(minutes=50), ZONE))
        self._held("spanish-thu-26", spanish_meeting, okafor,
                   self._lesson(okafor, spanish_pupils, thu26, thu26 + timedelta(minutes=50)))
        # Monday 30th, British Summer Time: 09:00 London is 08:00Z. The first call record lacks Dev Evans's late
        # session (he stayed 11 minutes after the teacher left); the record's update adds it.
        mon30 = local(day(7), 9)
        sessions = self._lesson(okafor, spanish_pupils[:3] + spanish_pupils[4:], mon30, mon30 + timedelta(minutes=50))
        record = self._held("spanish-mon-30", spanish_meeting, okafor, sessions)
        late = self._session(self._who(spanish_pupils[3]), mon30 + timedelta(minutes=3),
                             mon30 + timedelta(minutes=62))
        self._step(mon30 + timedelta(minutes=62), "updateCallRecord", delayMinutes=90, callRecordId=record["id"],
                   addSessions=[late], addParticipants=[self._participant_v2(spanish_pupils[3])])
        # Wednesday 1 April's lesson cancelled the evening before.
        self._step(local(day(8), 17), "cancelOccurrence", mailbox=okafor, seriesMasterId=spanish["id"],
                   originalStart=graph_time(local(day(9), 9), digits=0))

        # Year 11 Maths: Tuesdays and Thursdays 14:00-15:00 London, invited as the year11@ group; chat left on.
        maths, maths_meeting = self._series(
            "maths", reyes, [], self.year11, "Year 11 Maths", local(day(1), 14), 60,
            ["tuesday", "thursday"], day(10), settings={**strict, "allowMeetingChat": "enabled"},
            invitees=[("Year 11", f"year11@{DOMAIN}")])
        for name, start in (("maths-tue-24", local(day(1), 14)), ("maths-thu-26", local(day(3), 14)),
                            ("maths-thu-2", local(day(10), 14))):
            self._held(name, maths_meeting, reyes, self._lesson(reyes, self.year11[:4], start,
                                                                start + timedelta(minutes=60)))
        tue31 = local(day(8), 14)
        first_move, second_move = local(day(9), 14), local(day(9), 15, 30)
        for at, where in ((local(day(4), 10), first_move), (local(day(7), 12), second_move)):
            self._step(at, "moveOccurrence", mailbox=reyes, seriesMasterId=maths["id"],
                       originalStart=graph_time(tue31, digits=0), start=calendar.in_zone(where, ZONE),
                       end=calendar.in_zone(where + timedelta(minutes=60), ZONE))
        self._held("maths-wed-1", maths_meeting, reyes,
                   self._lesson(reyes, self.year11[:4], second_move, second_move + timedelta(minutes=60)))

        # Year 9 tutor time: Fridays 08:40-09:00; from 30 March on Thursdays instead (the series edited).
        tutor, tutor_meeting = self._series(
            "tutor", shah, self.year9, self.year9, "Year 9 tutor time", local(day(4), 8, 40), 20, ["friday"],
            day(11), settings=strict)
        self._held("tutor-fri-27", tutor_meeting, shah,
                   self._lesson(shah, self.year9, local(day(4), 8, 40), local(day(4), 9)))
        thu2 = local(day(10), 8, 40)
        self._step(local(day(5), 10), "changePattern", mailbox=shah, seriesMasterId=tutor["id"],
                   recurrence={**copy.deepcopy(tutor["recurrence"]),
                               "pattern": {**tutor["recurrence"]["pattern"], "daysOfWeek": ["thursday"]},
                               "range": {**tutor["recurrence"]["range"], "startDate": day(10).isoformat()}},
                   start=calendar.in_zone(thu2, ZONE), end=calendar.in_zone(thu2 + timedelta(minutes=20), ZONE))
        self._held("tutor-thu-2", tutor_meeting, shah, self._lesson(shah, self.year9, thu2, local(day(10), 9)))

        # Science catch-up, Wednesday 25th 15:00: three pupils join, the teacher never does, cancels at 15:06.
        catch_pupils = [self.year9[0], self.year9[2], self.year9[5]]
        catch_start = local(day(2), 15)
        catch, catch_meeting = self._single("science-catch-up", hughes, catch_pupils, "Science catch-up",
                                            catch_start, 45, settings=open_lobby)
        pupils_in = [self._session(self._who(pupil), catch_start - timedelta(minutes=2) + timedelta(seconds=50 * i),
                                   catch_start + timedelta(minutes=10)) for i, pupil in enumerate(catch_pupils)]
        self._held("science-catch-up", catch_meeting, hughes, pupils_in)
        self._step(catch_start + timedelta(minutes=6), "deleteEvent", mailbox=hughes, eventId=catch["id"])

        # Year 11 revision clinic, Thursday 2 April 16:00-17:00 BST, with Kai Lowe (no consent) invited; the
        # event is deleted at 17:05, half an hour before its call record arrives.
        clinic_pupils = [self.year11[0], self.year11[4]]
        clinic_start = local(day(10), 16)
        clinic, clinic_meeting = self._single("revision-clinic", reyes, clinic_pupils, "Year 11 revision clinic",
                                              clinic_start, 60, settings=strict)
        self._held("revision-clinic", clinic_meeting, reyes,
                   self._lesson(reyes, clinic_pupils, clinic_start, clinic_start + timedelta(minutes=60)))
        self._step(clinic_start + timedelta(minutes=65), "deleteEvent", mailbox=reyes, eventId=clinic["id"])

        # Staff briefing, Mondays 08:15: no pupils, out of scope, logged as such.
        _, briefing_meeting = self._series(
            "briefing", shah, [], [], "Staff briefing", local(day(0), 8, 15), 20, ["monday"], day(7),
            settings=strict, invitees=self._invitees([okafor, reyes, hughes]))
        for name, n in (("briefing-mon-23", 0), ("briefing-mon-30", 7)):
            start = local(day(n), 8, 15)
            self._held(name, briefing_meeting, shah, self._lesson(shah, [okafor, reyes, hughes], start,
                                                                 start + timedelta(minutes=20)))
        self.tenant.timeline = sorted(self.timeline, key=lambda s: (s["at"], float(s.get("delayMinutes") or 0)))

    def _participant_v2(self, uid: str) -> JSON:
        return {"id": uid, "identity": {"user": {"id": uid, "displayName": self._name(uid),
                                                  "tenantId": self.tenant.tenant_id}},
                "administrativeUnitInfos": []}


def fortnight(seed: int = 7) -> Tenant:
    """Harbour Academy's tenant with its fortnight's timeline (nothing of it has happened yet)."""
    builder = Harbour(seed)
    builder.build_directory()
    builder.build_fortnight()
    return builder.tenant


def lessons(seed: int = 7) -> dict[str, Lesson]:
    """The fortnight's lessons by name (the series by their first occurrence)."""
    builder = Harbour(seed)
    builder.build_directory()
    builder.build_fortnight()
    return builder.lessons


def people(seed: int = 7) -> dict[str, str]:
    builder = Harbour(seed)
    builder.build_directory()
    return builder.people
