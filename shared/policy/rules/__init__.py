"""The rules, one module each (or one per small family); importing a module registers its rules.

``MODULES`` is the catalogue's order: the README's tables, ``docs/rules`` and the digest list rules in it.
"""

from importlib import import_module

MODULES = (
    "organiser",
    "meeting_options",
    "not_in_class_team_general",
    "session_recorded",
    "uninvited_attendee",
    "pupil_screen_shared",
    "pupils_unsupervised",
    "consent_missing",
    "unapproved_platform",
    "unscheduled_call_with_pupil",
    "outdated_teams_client",
    "one_to_one_with_pupil",
    "evidence_unavailable",
)

for _name in MODULES:
    import_module(f"{__name__}.{_name}")
