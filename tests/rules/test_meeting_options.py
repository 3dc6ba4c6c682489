"""Meeting-option rules: attendee-mic-allowed, meeting-chat-enabled, lobby-bypass-too-broad,
attendees-can-present, recording-allowed. Absent properties take Graph's default; an absent or
unknownFutureValue lobby scope is an unverified violation."""

from __future__ import annotations

import pytest

from shared.policy.catalogue import catalogue
from tests.builders import (
    ABSENT,
    AMELIA,
    HEAD,
    OLIVER,
    TEACHER,
    channel_lesson,
    evaluate,
    finding,
    online_meeting,
    rules,
)

SETTINGS_RULES = {"attendee-mic-allowed", "meeting-chat-enabled", "lobby-bypass-too-broad",
                  "attendees-can-present", "recording-allowed"}


def lesson_with(**settings):
    bundle = channel_lesson()
    bundle["onlineMeeting"] = online_meeting(**settings)
    return bundle


def test_strict_settings_raise_no_settings_finding():
    assert rules(evaluate(lesson_with())) & SETTINGS_RULES == set()


def test_settings_rules_do_not_fire_without_the_online_meeting():
    bundle = channel_lesson()
    del bundle["onlineMeeting"]
    assert rules(evaluate(bundle)) & SETTINGS_RULES == set()


# -- attendee-mic-allowed ---------------------------------------------------------------------------------


def test_attendees_allowed_to_unmute_is_attendee_mic_allowed():
    f = finding(evaluate(lesson_with(allowAttendeeToEnableMic=True)), "attendee-mic-allowed", None)
    assert f.severity == "low"
    assert True in f.evidence.values()


def test_absent_mic_setting_defaults_to_allowed():
    assert "attendee-mic-allowed" in rules(evaluate(lesson_with(allowAttendeeToEnableMic=ABSENT)))


def test_attendee_mic_off_is_compliant():
    assert "attendee-mic-allowed" not in rules(evaluate(lesson_with(allowAttendeeToEnableMic=False)))


# -- meeting-chat-enabled ---------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["enabled", "limited", "unknownFutureValue", ABSENT],
                         ids=["enabled", "limited", "unknownFutureValue", "absent"])
def test_meeting_chat_not_disabled_is_meeting_chat_enabled(mode):
    f = finding(evaluate(lesson_with(allowMeetingChat=mode)), "meeting-chat-enabled", None)
    assert f.severity == "medium"
    if mode == "limited":
        assert "limited" in f.evidence.values()


def test_meeting_chat_disabled_is_compliant():
    assert "meeting-chat-enabled" not in rules(evaluate(lesson_with(allowMeetingChat="disabled")))


# -- lobby-bypass-too-broad -------------------------------------------------------------------------------


@pytest.mark.parametrize("scope", ["organization", "organizationAndFederated", "everyone", "invited",
                                   "organizationExcludingGuests"])
def test_lobby_bypass_beyond_the_organiser_is_too_broad(scope):
    f = finding(evaluate(lesson_with(lobbyBypassSettings={"scope": scope, "isDialInBypassEnabled": False})),
                "lobby-bypass-too-broad", None)
    assert f.severity == "medium"
    assert scope in f.evidence.values()
    assert f.evidence.get("unverified") is not True


def test_only_the_organiser_bypassing_the_lobby_is_compliant():
    bundle = lesson_with(lobbyBypassSettings={"scope": "organizer", "isDialInBypassEnabled": False})
    assert "lobby-bypass-too-broad" not in rules(evaluate(bundle))


def test_absent_lobby_settings_are_an_unverified_violation():
    f = finding(evaluate(lesson_with(lobbyBypassSettings=ABSENT)), "lobby-bypass-too-broad", None)
    assert f.evidence.get("unverified") is True


def test_lobby_settings_without_a_scope_are_an_unverified_violation():
    f = finding(evaluate(lesson_with(lobbyBypassSettings={"isDialInBypassEnabled": False})),
                "lobby-bypass-too-broad", None)
    assert f.evidence.get("unverified") is True


def test_unknown_future_value_lobby_scope_is_an_unverified_violation():
    bundle = lesson_with(lobbyBypassSettings={"scope": "unknownFutureValue", "isDialInBypassEnabled": False})
    f = finding(evaluate(bundle), "lobby-bypass-too-broad", None)
    assert f.evidence.get("unverified") is True


def test_dial_in_callers_bypassing_the_lobby_is_too_broad():
    bundle = lesson_with(lobbyBypassSettings={"scope": "organizer", "isDialInBypassEnabled": True})
    f = finding(evaluate(bundle), "lobby-bypass-too-broad", None)
    assert True in f.evidence.values()


def test_absent_dial_in_bypass_defaults_to_false():
    bundle = lesson_with(lobbyBypassSettings={"scope": "organizer"})
    assert "lobby-bypass-too-broad" not in rules(evaluate(bundle))


def test_lobby_scope_allowed_by_the_school_policy_is_compliant(policy_file):
    policy = policy_file('[rules.lobby-bypass-too-broad]\nallowed_scopes = ["organizer", "invited"]\n')
    bundle = lesson_with(lobbyBypassSettings={"scope": "invited", "isDialInBypassEnabled": False})
    assert "lobby-bypass-too-broad" not in rules(evaluate(bundle, policy))


def test_lobby_scope_outside_the_school_policy_still_fires(policy_file):
    policy = policy_file('[rules.lobby-bypass-too-broad]\nallowed_scopes = ["organizer", "invited"]\n')
    bundle = lesson_with(lobbyBypassSettings={"scope": "organization", "isDialInBypassEnabled": False})
    assert "lobby-bypass-too-broad" in rules(evaluate(bundle, policy))


def test_dial_in_bypass_fires_even_when_the_scope_is_allowed(policy_file):
    policy = policy_file('[rules.lobby-bypass-too-broad]\nallowed_scopes = ["organizer", "invited"]\n')
    bundle = lesson_with(lobbyBypassSettings={"scope": "invited", "isDialInBypassEnabled": True})
    assert "lobby-bypass-too-broad" in rules(evaluate(bundle, policy))


# -- attendees-can-present --------------------------------------------------------------------------------


@pytest.mark.parametrize("presenters", ["everyone", "organization", "unknownFutureValue", ABSENT],
                         ids=["everyone", "organization", "unknownFutureValue", "absent"])
def test_everyone_or_the_organisation_presenting_is_attendees_can_present(presenters):
    f = finding(evaluate(lesson_with(allowedPresenters=presenters)), "attendees-can-present", None)
    assert f.severity == "medium"


def test_only_the_organiser_presenting_is_compliant():
    assert "attendees-can-present" not in rules(evaluate(lesson_with(allowedPresenters="organizer")))


@pytest.mark.parametrize("role", ["presenter", "coorganizer"])
def test_pupil_given_a_presenter_role_is_attendees_can_present(role):
    bundle = lesson_with(allowedPresenters="roleIsPresenter", attendees=((AMELIA, role), (OLIVER, "attendee")))
    f = finding(evaluate(bundle), "attendees-can-present", None)
    assert AMELIA.id in str(f.evidence)
    assert OLIVER.id not in str(f.evidence)


def test_role_is_presenter_with_only_staff_presenting_is_compliant():
    bundle = lesson_with(allowedPresenters="roleIsPresenter",
                         attendees=((HEAD, "presenter"), (AMELIA, "attendee"), (OLIVER, "attendee")))
    assert "attendees-can-present" not in rules(evaluate(bundle))


def test_pupil_organiser_is_not_an_attendee_presenter():
    # the organiser is organiser-not-staff's business, not attendees-can-present's
    bundle = lesson_with(organizer=AMELIA, allowedPresenters="roleIsPresenter",
                         attendees=((TEACHER, "presenter"), (OLIVER, "attendee")))
    found = rules(evaluate(bundle))
    assert "attendees-can-present" not in found
    assert "organiser-not-staff" in found


# -- recording-allowed ------------------------------------------------------------------------------------


@pytest.mark.parametrize("setting", [
    {"recordAutomatically": True},
    {"allowRecording": True},
    {"allowRecording": ABSENT},
    {"allowTranscription": True},
    {"allowTranscription": ABSENT},
], ids=["recordAutomatically", "allowRecording", "allowRecording-absent", "allowTranscription",
        "allowTranscription-absent"])
def test_recording_or_transcription_possible_is_recording_allowed(setting):
    f = finding(evaluate(lesson_with(**setting)), "recording-allowed", None)
    assert f.severity == "medium"


def test_absent_record_automatically_defaults_to_false():
    assert "recording-allowed" not in rules(evaluate(lesson_with(recordAutomatically=ABSENT)))


def test_recording_and_transcription_off_is_compliant():
    bundle = lesson_with(recordAutomatically=False, allowRecording=False, allowTranscription=False)
    assert "recording-allowed" not in rules(evaluate(bundle))


def test_auto_recording_evidence_names_the_setting():
    f = finding(evaluate(lesson_with(recordAutomatically=True)), "recording-allowed", None)
    assert "recordAutomatically" in str(f.evidence)


def test_attendee_mic_allowed_example_evidence_is_exact():
    """The example on docs/rules/attendee-mic-allowed.md gives exactly this evidence, value for value."""
    spec = catalogue()["attendee-mic-allowed"]
    found = finding(evaluate(spec.example()), spec.id, None)
    expected = {"allowAttendeeToEnableMic": True}
    assert found.evidence == expected


def test_meeting_chat_enabled_example_evidence_is_exact():
    """The example on docs/rules/meeting-chat-enabled.md gives exactly this evidence, value for value."""
    spec = catalogue()["meeting-chat-enabled"]
    found = finding(evaluate(spec.example()), spec.id, None)
    expected = {"allowMeetingChat": "enabled"}
    assert found.evidence == expected


def test_lobby_bypass_too_broad_example_evidence_is_exact():
    """The example on docs/rules/lobby-bypass-too-broad.md gives exactly this evidence, value for value."""
    spec = catalogue()["lobby-bypass-too-broad"]
    found = finding(evaluate(spec.example()), spec.id, None)
    expected = {"lobbyBypassSettings.scope": "organization",
                "allowedScopes": ["organizer"],
                "isDialInBypassEnabled": True}
    assert found.evidence == expected


def test_attendees_can_present_example_evidence_is_exact():
    """The example on docs/rules/attendees-can-present.md gives exactly this evidence, value for value."""
    spec = catalogue()["attendees-can-present"]
    found = finding(evaluate(spec.example()), spec.id, None)
    expected = {"allowedPresenters": "everyone"}
    assert found.evidence == expected


def test_recording_allowed_example_evidence_is_exact():
    """The example on docs/rules/recording-allowed.md gives exactly this evidence, value for value."""
    spec = catalogue()["recording-allowed"]
    found = finding(evaluate(spec.example()), spec.id, None)
    expected = {"recordAutomatically": False,
                "allowRecording": None,
                "allowTranscription": None,
                "defaults": {"allowRecording": True, "allowTranscription": True, "recordAutomatically": False}}
    assert found.evidence == expected
