"""The DSL's mail: the hourly digest timer and the quarter-hourly alert flush.

``digest_timer`` fires every hour (app setting ``VCAUDIT_SCHEDULE_DIGEST``, default ``0 5 * * * *``) and sends
the weekly digest once the school's local time has passed the configured weekday and hour; the digests table
makes it exactly once. ``alert_flush`` sends same-day alerts that waited for their quarter hour. The
evaluation worker calls ``shared.digest.alerts.alert_new_findings`` itself for new findings.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

import azure.functions as func

from shared.runtime import Runtime, runtime

bp = func.Blueprint()
log = logging.getLogger("vcaudit.digest")
T = TypeVar("T")


async def with_mail(app: Runtime, work: Callable[[Any], Awaitable[T]]) -> T:
    """Run ``work(ctx)`` with a mail context whose sender is Graph (the runtime's transport when injected)."""
    from shared.digest.collect import MailContext
    from shared.digest.mail import GraphMailSender

    ctx = MailContext.open(app.stores, app.settings, queues=app.queues, policy=app.policy)
    if app.graph_transport is not None:
        ctx.mailer = GraphMailSender.over(app.graph_transport)
        return await work(ctx)
    from shared.graph.session import graph_transport

    async with graph_transport(app.settings.graph_base_url) as transport:
        ctx.mailer = GraphMailSender.over(transport)
        return await work(ctx)


async def digest_tick(now: datetime | None = None) -> Any:
    from shared.digest.scheduler import run_timer

    moment = now or datetime.now(tz=UTC)
    run = await with_mail(runtime(), lambda ctx: run_timer(ctx, moment))
    if run is not None:
        log.info("digest %s: %s", run.week, ", ".join(f"{d.role} {d.status}" for d in run.deliveries))
    return run


async def alert_tick(now: datetime | None = None) -> Any:
    from shared.digest.alerts import flush_alerts

    moment = now or datetime.now(tz=UTC)
    return await with_mail(runtime(), lambda ctx: flush_alerts(ctx, moment))


@bp.function_name("digest_timer")
@bp.timer_trigger(schedule="%VCAUDIT_SCHEDULE_DIGEST%", arg_name="timer", run_on_startup=False, use_monitor=True)
async def digest_timer(timer: func.TimerRequest) -> None:
    await digest_tick()


@bp.function_name("alert_flush")
@bp.timer_trigger(schedule="0 1,16,31,46 * * * *", arg_name="timer", run_on_startup=False, use_monitor=True)
async def alert_flush(timer: func.TimerRequest) -> None:
    await alert_tick()
