"""The pipeline's timers: subscriptions (ensure and renew), preflight, reconcile, the pending sweep and
retention (``shared.upkeep``, ``shared.scheduling``). Schedules are app settings (``VCAUDIT_SCHEDULE_*``)."""

from __future__ import annotations

import logging

import azure.functions as func

from shared.runtime import runtime

bp = func.Blueprint()
log = logging.getLogger("vcaudit.worker")


@bp.function_name("subscriptions_timer")
@bp.timer_trigger(arg_name="timer", schedule="%VCAUDIT_SCHEDULE_SUBSCRIPTIONS%", run_on_startup=False)
def subscriptions_timer(timer: func.TimerRequest) -> None:
    report = runtime().pipeline.ensure_subscriptions()
    log.info("subscriptions: %d created, %d renewed, %d recreated, %d deleted, %d failed", len(report.created),
             len(report.renewed), len(report.recreated), len(report.deleted), len(report.failed))


@bp.function_name("preflight_timer")
@bp.timer_trigger(arg_name="timer", schedule="%VCAUDIT_SCHEDULE_PREFLIGHT%", run_on_startup=False)
def preflight_timer(timer: func.TimerRequest) -> None:
    log.info("preflight: %d meeting(s) re-checked", runtime().pipeline.preflight())


@bp.function_name("reconcile_timer")
@bp.timer_trigger(arg_name="timer", schedule="%VCAUDIT_SCHEDULE_RECONCILE%", run_on_startup=False)
def reconcile_timer(timer: func.TimerRequest) -> None:
    log.info("reconcile: %d evaluation(s) scheduled", runtime().pipeline.reconcile())


@bp.function_name("pending_sweep_timer")
@bp.timer_trigger(arg_name="timer", schedule="0 */10 * * * *", run_on_startup=False)
def pending_sweep_timer(timer: func.TimerRequest) -> None:
    """Every ten minutes: re-enqueue the pending evaluations past their due time (a lost enqueue, a crashed
    worker, a message kept in the poison queue), so owed work is re-driven without waiting for reconcile."""
    swept = runtime().pipeline.sweep()
    if swept:
        log.warning("sweep: %d overdue evaluation(s) re-enqueued", swept)


@bp.function_name("retention_timer")
@bp.timer_trigger(arg_name="timer", schedule="%VCAUDIT_SCHEDULE_RETENTION%", run_on_startup=False)
def retention_timer(timer: func.TimerRequest) -> None:
    report = runtime().pipeline.retention()
    log.info("retention: %s", report)
