"""The pure decisions before a lesson: when a nudge goes, what enforce would change, the [prevent] policy keys."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from shared.enforce import required_changes
from shared.engine import Finding
from shared.nudges import Lesson, compose, decide
from shared.policy.policyfile import PolicyError, default_policy, load_policy
from shared.policy.prevent import PreventPolicy

LONDON = ZoneInfo("Europe/London")
NOW = datetime(2026, 3, 9, 10, 0, tzinfo=UTC).timestamp()  # Monday 10:00 in London
LESSON = Lesson("occ1", None, "t1", "Ms <b>Reid</b>", "reid@school.example", "Year 5 <Maths>", NOW + 86400,
                "https://teams.microsoft.com/l/meetup-join/x?a=1&b=2")
CHAT = ("meeting-chat-enabled",)


def go(lesson: Lesson = LESSON, rules: tuple[str, ...] = CHAT, before: frozenset[str] | None = None,
       sent: int = 0, now: float = NOW, policy: PreventPolicy | None = None, sender: str = "dsl@school.example"
       ) -> tuple[bool, str]:
    d = decide(lesson, rules, nudged_before=before, sent_today=sent, now=now, policy=policy or PreventPolicy(),
               zone=LONDON, sender=sender)
    return d.send, d.reason


def test_a_lesson_breaking_the_policy_is_nudged() -> None:
    assert go() == (True, "the lesson's options break the policy")


@pytest.mark.parametrize(("kwargs", "reason"), [
    ({"rules": ()}, "follow the policy"),
    ({"sender": ""}, "no sender"),
    ({"policy": PreventPolicy(nudges=False)}, "switched off"),
    ({"lesson": replace(LESSON, start=NOW + 15 * 86400)}, "more than 14 days"),
    ({"lesson": replace(LESSON, start=NOW - 60)}, "has started"),
    ({"before": frozenset(CHAT)}, "already told"),
    ({"sent": 5}, "daily cap"),
    ({"now": datetime(2026, 3, 9, 21, 0, tzinfo=UTC).timestamp()}, "quiet hours"),
])
def test_no_nudge(kwargs: dict[str, object], reason: str) -> None:
    sent, why = go(**kwargs)  # type: ignore[arg-type]
    assert not sent and reason in why


def test_worse_is_nudged_again() -> None:
    assert go(rules=("meeting-chat-enabled", "attendees-can-present"), before=frozenset(CHAT))[0]


def test_the_mail_is_autoescaped_and_says_what_why_how() -> None:
    mail = compose(LESSON, CHAT, None, LONDON, NOW)
    assert "Year 5 &lt;Maths&gt;" in mail.html and "<b>Reid</b>" not in mail.html
    assert "a=1&amp;b=2" in mail.html
    assert "Chat disabled for attendees" in mail.text and "Meeting options" in mail.text
    assert mail.message()["toRecipients"] == [{"emailAddress": {"address": "reid@school.example"}}]


def test_enforce_changes_only_opted_in_properties_with_an_open_finding() -> None:
    policy = replace(default_policy(), prevent=PreventPolicy(enforce=("allowMeetingChat", "allowedPresenters")))
    finding = Finding("meeting-chat-enabled", "medium", None, ("G2c",), "chat", {})
    meeting = {"allowMeetingChat": "enabled", "allowedPresenters": "everyone", "allowAttendeeToEnableMic": True}
    assert required_changes(meeting, [finding], policy) == {"allowMeetingChat": "disabled"}
    assert required_changes({"allowMeetingChat": "disabled"}, [finding], policy) == {}


def test_prevent_keys_in_the_policy_file(tmp_path: object) -> None:
    from pathlib import Path

    path = Path(str(tmp_path)) / "policy.toml"
    path.write_text('[prevent]\nenforce = ["allowMeetingChat"]\nenforce_mode = "on"\nhorizon_days = 7\n')
    prevent = load_policy(path).prevent
    assert prevent.enforce == ("allowMeetingChat",) and prevent.enforce_mode == "on" and prevent.horizon_days == 7
    path.write_text('[prevent]\nenforce = ["subject"]\n')
    with pytest.raises(PolicyError, match=r"prevent.enforce: 'subject' cannot be enforced"):
        load_policy(path)
