"""Before the lesson: what the pipeline does after recording a scheduled-stage evaluation of a lesson with
pupils — nudge the organising teacher (``shared/nudges.py``) about options that break the policy.

Called by the evaluator after recording (a failure here never costs the evaluation: it is logged and the
next notification or preflight tries again).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from shared.digest.mail import MailSender
from shared.engine import Evaluation
from shared.nudges import Lesson, compose, decide, open_setting_rules
from shared.policy.policyfile import Policy
from shared.records.exemptions import series_id_of
from shared.store.findings import MeetingFacts
from shared.store.nudges import NudgeLedger

log = logging.getLogger("vcaudit.prevent")


@dataclass(frozen=True, slots=True)
class NudgeResult:
    sent: bool
    reason: str
    rules: tuple[str, ...] = ()


def lesson_of(facts: MeetingFacts, bundle: dict[str, Any], evaluation: Evaluation) -> Lesson:
    users = (bundle.get("directory") or {}).get("users") or {}
    organiser = users.get(facts.organiser_id or "") or {}
    address = organiser.get("mail") or organiser.get("userPrincipalName") or ""
    meeting = bundle.get("onlineMeeting") or {}
    event = bundle.get("event") or {}
    join = meeting.get("joinWebUrl") or (event.get("onlineMeeting") or {}).get("joinUrl") or ""
    recurring = event.get("type") in ("occurrence", "exception", "seriesMaster") or bool(event.get("seriesMasterId"))
    return Lesson(facts.occurrence_id, series_id_of(bundle) if recurring else None, facts.organiser_id or "",
                  facts.organiser_name or organiser.get("displayName") or "", str(address), facts.subject or "",
                  facts.start, str(join))


def nudge(ledger: NudgeLedger, mailer: MailSender, run: Callable[[Awaitable[Any]], Any], *, sender: str,
          policy: Policy, zone: ZoneInfo, facts: MeetingFacts, bundle: dict[str, Any], evaluation: Evaluation,
          now: float) -> NudgeResult:
    """Nudge the organiser of this lesson if its open setting findings call for it; at most once per claim."""
    if not evaluation.in_scope or "scheduled" not in evaluation.stages:  # in scope: staff with pupils
        return NudgeResult(False, "not a scheduled lesson with pupils")
    lesson = lesson_of(facts, bundle, evaluation)
    rules = open_setting_rules(evaluation.findings)
    previous, etag = ledger.nudged(lesson.key) if rules else (None, None)
    day = datetime.fromtimestamp(now, tz=UTC).astimezone(zone).date().isoformat()
    sent_today = ledger.sent_today(lesson.organiser_id, day) if rules and lesson.organiser_id else 0
    decision = decide(lesson, rules, nudged_before=previous, sent_today=sent_today, now=now,
                      policy=policy.prevent, zone=zone, sender=sender)
    if not decision.send:
        log.info("no nudge: %s", decision.reason)
        return NudgeResult(False, decision.reason)
    if not ledger.claim(lesson.key, rules, previous, etag, now):
        return NudgeResult(False, "another evaluation of this lesson is nudging")
    mail = compose(lesson, rules, previous, zone, now)
    result = run(mailer.send_mail(sender, mail.message()))
    if result.failed_clearly:
        ledger.release(lesson.key, previous)
        log.warning("nudge not sent (%s); a later evaluation will try again", result.detail)
        return NudgeResult(False, f"not sent: {result.detail}")
    ledger.count_sent(lesson.organiser_id, day)
    ledger.log(facts.week, lesson.key, facts.occurrence_id, lesson.organiser_id, rules, now,
               "sent" if result.accepted else "unknown")
    return NudgeResult(True, decision.reason, rules)


def notify_enforced(mailer: MailSender, run: Callable[[Awaitable[Any]], Any], *, sender: str, lesson: Lesson,
                    note: str, zone: ZoneInfo, now: float) -> bool:
    """Tell the teacher what vcaudit changed (once: a change is made once)."""
    if not sender or not lesson.organiser_address:
        return False
    mail = compose(lesson, (), None, zone, now, enforced=note)
    return bool(run(mailer.send_mail(sender, mail.message())).accepted)


def after_evaluation(evaluator: Any, occurrence: Any, facts: MeetingFacts, evaluation: Evaluation,
                     now: float) -> NudgeResult | None:
    """The evaluator's hook after recording: enforce (when the policy opts in), then nudge. Never raises: the
    evaluation is already recorded, and the next notification or preflight looks again."""
    if getattr(evaluator, "_prevent_reentry", False):
        return None
    try:
        from dataclasses import replace

        from shared.digest.mail import GraphMailSender
        from shared.enforce import enforce
        from shared.graph.meeting_options import update_meeting_options

        runtime = evaluator.runtime
        settings = runtime.settings
        bundle = occurrence.bundle
        transport = evaluator.session.graph.transport if getattr(evaluator, "nudge_mailer", None) is None else None
        mailer: MailSender = getattr(evaluator, "nudge_mailer", None) or GraphMailSender.over(transport)
        if evaluation.in_scope and "scheduled" in evaluation.stages and evaluator.policy.prevent.enforce:
            graph = evaluator.session.graph.transport

            def patch(organiser: str, meeting_id: str, changes: dict[str, Any]) -> Awaitable[Any]:
                return update_meeting_options(graph.sender, graph.base_url, organiser, meeting_id, changes)

            series = series_id_of(bundle) or ""
            done = enforce(policy=evaluator.policy, allowed=settings.enforce_allowed, facts=facts, bundle=bundle,
                           findings=evaluation.findings, channel="/" in series or bool(evaluation.team),
                           now=now, zone=evaluator.zone, stores=runtime.stores, patch=patch, run=evaluator.session.run)
            if done.outcome == "enforced":
                patched = dict(bundle)
                patched["onlineMeeting"] = {**(bundle.get("onlineMeeting") or {}), **done.changes, **done.meeting}
                evaluator._prevent_reentry = True
                try:  # the options as Graph now holds them: the findings they fix are resolved (prevented)
                    evaluator.record(replace(occurrence, bundle=patched))
                finally:
                    evaluator._prevent_reentry = False
                notify_enforced(mailer, evaluator.session.run, sender=settings.digest_sender,
                                lesson=lesson_of(facts, patched, evaluation), note=done.note, zone=evaluator.zone,
                                now=now)
                bundle = patched
                from shared.engine import evaluate_raw

                evaluation = evaluate_raw(patched, evaluator.policy)
        return nudge(runtime.stores.nudges, mailer, evaluator.session.run, sender=settings.digest_sender,
                     policy=evaluator.policy, zone=evaluator.zone, facts=facts, bundle=bundle,
                     evaluation=evaluation, now=now)
    except Exception:
        log.exception("enforce or nudge failed; the next evaluation will try again")
        return None
