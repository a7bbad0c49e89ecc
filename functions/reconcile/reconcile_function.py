"""ReconcileFunction (scheduled): close missed or stuck rollouts, deploy what ECR events missed."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from autodeploy import wiring
from autodeploy.errors import InvalidEvent
from autodeploy.events import parse_schedule_trigger
from autodeploy.observability import logger, metrics, report_reconcile, tracer


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    try:
        parse_schedule_trigger(event)
    except InvalidEvent as exc:  # only the schedule runs reconcile: say why and return
        logger.error("reconcile trigger not usable", extra={"reason": str(exc)})
        return {"outcome": "rejected", "reason": str(exc)}
    report = wiring.reconcile().run()
    report_reconcile(report)
    return report.summary()
