"""The digest names what is not watched, and for how long, in the DSL's words."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from shared.digest.collect import not_watched_sentence
from shared.graph.subscriptions import StoredSubscription


def test_a_mailbox_outside_the_granted_scope_reads_as_a_dsl_sentence() -> None:
    row = StoredSubscription("/users/u-1/events", "", status="failing", error_status=403,
                             error_code="ErrorAccessDenied", error_message="Access is denied.",
                             failing_since=datetime(2026, 3, 10, 7, tzinfo=UTC), label="Mrs Khan's calendar")
    now = datetime(2026, 3, 13, 9, tzinfo=UTC)  # the Friday of that week
    assert not_watched_sentence(row, now, ZoneInfo("Europe/London")) == (
        "Mrs Khan's calendar has not been watched since Tuesday: the mailbox is outside the scope the school granted")


def test_a_refused_permission_is_not_called_a_mailbox_scope() -> None:
    row = StoredSubscription("communications/callRecords", "", status="failing", error_status=403,
                             failing_since=datetime(2026, 3, 13, 7, tzinfo=UTC),
                             label="Teams call records (who joined every meeting and call)")
    sentence = not_watched_sentence(row, datetime(2026, 3, 13, 9, tzinfo=UTC), ZoneInfo("Europe/London"))
    assert sentence.startswith("Teams call records") and "since today" in sentence
    assert "permission" in sentence and "mailbox" not in sentence
