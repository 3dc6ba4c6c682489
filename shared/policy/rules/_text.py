"""Small helpers for plain-English summaries."""

from __future__ import annotations

from shared.evidence.meeting import Meeting, Person, Role


def duration(seconds: float) -> str:
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds} second{'s' if seconds != 1 else ''}"
    minutes, rest = divmod(seconds, 60)
    text = f"{minutes} minute{'s' if minutes != 1 else ''}"
    return f"{text} {rest} s" if rest and minutes < 10 else text


def capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def who(person: Person) -> str:
    role = {Role.STAFF: "staff member", Role.PUPIL: "pupil", Role.ADULT: "school account",
            Role.EXTERNAL: "person from outside the school"}[person.role]
    return f"{person.label} ({role})"


def meeting_name(m: Meeting) -> str:
    subject = m.online_meeting.get("subject") or m.event.get("subject")
    return f"'{subject}'" if isinstance(subject, str) and subject else "this meeting"


def person_evidence(person: Person) -> dict[str, object]:
    out: dict[str, object] = {"id": person.key, "displayName": person.name, "role": person.role.value}
    ident = person.identity
    if ident.upn:
        out["userPrincipalName"] = ident.upn
    if ident.tenant_id:
        out["tenantId"] = ident.tenant_id
    if ident.kind != "user":
        out["identityKind"] = ident.kind
    return out
