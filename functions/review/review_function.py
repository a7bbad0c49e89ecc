"""ReviewFunction: CloudWatch alarm state changes and the schedule -> scaling decisions."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from autodeploy import wiring
from autodeploy.errors import InvalidEvent
from autodeploy.events import parse_review_trigger
from autodeploy.observability import logger, metrics, report_review, tracer
from autodeploy.origin import ignore_foreign


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    try:
        trigger = parse_review_trigger(event)
    except InvalidEvent as exc:
        logger.error("review trigger not usable", extra={"reason": str(exc)})
        metrics.add_metric(name="ReviewTriggersRejected", unit=MetricUnit.Count, value=1)
        return {"outcome": "rejected", "reason": str(exc)}
    if trigger is not None and (foreign := ignore_foreign(trigger.envelope, context.invoked_function_arn)):
        return {"outcome": "ignored", "reason": foreign}
    reviewer = wiring.review_scaling()
    if trigger is None:
        report = reviewer.review_all()
    else:
        logger.set_correlation_id(trigger.envelope.id)
        report = reviewer.review_for_alarm(trigger.alarm_name)
    report_review(report)
    return report.summary()
