"""The meeting occurrence key: the same from the calendar event before a lesson and the call record after it.

A meeting is identified by its chat thread and message id (``chatInfo``); an occurrence by adding its
scheduled start. A call on a reused link outside every scheduled window is an occurrence of its own (keyed by
the call's start); a call with no meeting at all is keyed by its call record id. Keys are hashed so no
character or length can break a Table Storage key.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime


def _utc_minute(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, tz=UTC).strftime("%Y-%m-%dT%H:%MZ")


@dataclass(frozen=True, slots=True)
class OccurrenceKey:
    thread_id: str | None = None
    message_id: str | None = None
    start: str | None = None  # scheduled start (UTC, to the minute), or the call's start for an unscheduled call
    call_record_id: str | None = None  # only for a call with no meeting

    @classmethod
    def scheduled(cls, thread_id: str, message_id: str | None, scheduled_start: float) -> OccurrenceKey:
        return cls(thread_id.lower(), (message_id or "0"), _utc_minute(scheduled_start))

    @classmethod
    def unscheduled_use(cls, thread_id: str, message_id: str | None, call_start: float) -> OccurrenceKey:
        """A call on a meeting's link outside every scheduled window (pupils back in last week's link)."""
        return cls(thread_id.lower(), (message_id or "0"), "call@" + _utc_minute(call_start))

    @classmethod
    def call(cls, call_record_id: str) -> OccurrenceKey:
        return cls(call_record_id=call_record_id.lower())

    def canonical(self) -> str:
        if self.call_record_id:
            return f"call|{self.call_record_id}"
        return f"meeting|{self.thread_id}|{self.message_id}|{self.start}"

    @property
    def id(self) -> str:
        """A stable, storage-safe id: 32 hex characters of SHA-256 of the canonical form."""
        return hashlib.sha256(self.canonical().encode("utf-8")).hexdigest()[:32]
