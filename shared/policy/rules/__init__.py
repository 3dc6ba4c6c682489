"""The rules of ``docs/rules.md``, one small check each, grouped by what they look at."""

from shared.policy.rules import content, coverage, organiser, people, settings  # noqa: F401
