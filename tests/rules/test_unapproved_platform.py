"""Tests of the rule `unapproved-platform` (shared/policy/rules/unapproved_platform.py)."""

from __future__ import annotations

import pytest

from shared.policy.catalogue import catalogue
from tests.builders import (
    HEAD,
    RUBY,
    TEACHER,
    YEAR5_GROUP,
    channel_lesson,
    evaluate,
    event,
    evidence_text,
    finding,
    rules,
)


def invited_with(**event_fields):
    bundle = channel_lesson()
    bundle["event"] = event(**event_fields)
    return bundle


def platform_finding(bundle, policy=None):
    return finding(evaluate(bundle, policy), "unapproved-platform", None)


def test_teams_links_only_are_approved():
    assert "unapproved-platform" not in rules(evaluate(channel_lesson()))


def test_zoom_link_in_the_invitation_body_is_unapproved_platform():
    f = platform_finding(invited_with(
        body_extra='<p>If Teams fails: <a href="https://us02web.zoom.us/j/85512345678?pwd=aBcD">Zoom</a></p>'))
    assert f.severity == "medium"
    assert "zoom.us" in evidence_text(f)


def test_link_without_a_scheme_counts():
    f = platform_finding(invited_with(body_extra="<p>Backup: zoom.us/j/85512345678</p>"))
    assert "zoom.us" in evidence_text(f)


def test_link_hidden_behind_html_entities_counts():
    hidden = "<p>Backup: https&#58;&#47;&#47;meet&#46;google&#46;com/abc-defg-hij</p>"
    f = platform_finding(invited_with(body_extra=hidden))
    assert "meet.google.com" in evidence_text(f)


def test_link_wrapped_in_outlook_safe_links_counts():
    wrapped = ("https://eur01.safelinks.protection.outlook.com/?url=https%3A%2F%2Fmeet.google.com%2Fabc-defg-hij"
               "&amp;data=05%7C02%7Cs.patel%40elmgrove.sch.uk&amp;reserved=0")
    f = platform_finding(invited_with(body_extra=f'<p><a href="{wrapped}">Backup link</a></p>'))
    assert "meet.google.com" in evidence_text(f)


def test_consumer_teams_link_is_unapproved_platform():
    f = platform_finding(invited_with(location="https://teams.live.com/meet/9312345678901"))
    assert "teams.live.com" in evidence_text(f)


@pytest.mark.parametrize(("field", "value", "host"), [
    ("subject", "Year 5 catch-up (whereby.com/elmgrove-y5)", "whereby.com"),
    ("online_meeting_url", "https://elmgrove.webex.com/meet/s.patel", "webex.com"),
])
def test_links_in_the_subject_or_online_meeting_url_count(field, value, host):
    f = platform_finding(invited_with(**{field: value}))
    assert host in evidence_text(f)


def test_link_in_the_event_online_meeting_join_url_counts():
    bundle = channel_lesson()
    bundle["event"]["onlineMeeting"]["joinUrl"] = "https://global.gotomeeting.com/join/123456789"
    assert "gotomeeting.com" in evidence_text(platform_finding(bundle))


def test_link_in_the_locations_list_counts():
    bundle = channel_lesson()
    bundle["event"]["locations"].append({"displayName": "https://zoom.us/j/85512345678", "locationType": "default"})
    assert "zoom.us" in evidence_text(platform_finding(bundle))


def test_several_unapproved_links_give_one_finding():
    bundle = invited_with(subject="Lesson on zoom.us/j/1", body_extra="<p>https://meet.google.com/abc-defg-hij</p>")
    ev = evaluate(bundle)
    assert [f.rule for f in ev.findings].count("unapproved-platform") == 1


def test_unapproved_platform_needs_a_pupil_among_the_event_attendees():
    bundle = invited_with(attendees=(HEAD,), body_extra="<p>https://zoom.us/j/85512345678</p>")
    ev = evaluate(bundle)
    assert ev.in_scope  # a class-team channel meeting
    assert "unapproved-platform" not in rules(ev)


def test_pupil_attendee_by_own_address_brings_the_platform_rule_in():
    bundle = invited_with(attendees=(TEACHER, RUBY), body_extra="<p>https://zoom.us/j/85512345678</p>")
    assert "unapproved-platform" in rules(evaluate(bundle))


def test_platform_approved_by_the_school_policy_is_allowed(policy_file):
    policy = policy_file('[rules.unapproved-platform]\napproved_hosts = ["teams.microsoft.com", "zoom.us"]\n'
                         'unapproved_hosts = ["meet.google.com", "webex.com"]\n')
    bundle = invited_with(attendees=(YEAR5_GROUP,), body_extra="<p>https://zoom.us/j/85512345678</p>")
    assert "unapproved-platform" not in rules(evaluate(bundle, policy))
    assert "unapproved-platform" in rules(evaluate(bundle))


def test_unapproved_platform_example_evidence_is_exact():
    """The example on docs/rules/unapproved-platform.md gives exactly this evidence, value for value."""
    spec = catalogue()["unapproved-platform"]
    found = finding(evaluate(spec.example()), spec.id, None)
    expected = {"links": [{"where": "body", "host": "us02web.zoom.us", "platform": "zoom.us"}], "pupilsInvited": 2}
    assert found.evidence == expected
