"""Helpers shared by the tests of the rules about who was there."""

from __future__ import annotations

from tests.builders import (
    PRIVATE_THREAD,
    call_record,
    channel_lesson,
    directory,
    event,
    join_url,
    lesson_sessions,
    online_meeting,
    session,
    subjects,
)


def lesson_with_present(*extra, bundle=None, **record):
    """The compliant channel lesson with more people present for the whole lesson."""
    bundle = bundle or channel_lesson()
    join = bundle["callRecord"]["joinWebUrl"]
    sessions = [*lesson_sessions(), *(session(p, "09:05", "09:40") for p in extra)]
    bundle["callRecord"] = call_record(sessions, join_web_url=join, **record)
    return bundle


def uninvited(ev):
    return subjects(ev, "uninvited-attendee")


def private_meeting(event_attendees, present, online_attendees=()):
    """A private calendar meeting of the teacher; ``present`` people attend the whole lesson."""
    bundle = channel_lesson()
    bundle["event"] = event(thread=PRIVATE_THREAD, attendees=event_attendees)
    bundle["onlineMeeting"] = online_meeting(thread=PRIVATE_THREAD, attendees=online_attendees)
    bundle["callRecord"] = call_record(lesson_sessions(pupils=present), join_web_url=join_url(PRIVATE_THREAD))
    return bundle


def group_call_without_a_meeting(*present):
    return {"directory": directory(),
            "callRecord": call_record([session(p, "15:30", "15:40") for p in present], join_web_url=None)}
