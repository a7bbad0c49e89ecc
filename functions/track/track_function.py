"""TrackFunction: ECS deployment and CloudFormation stack status changes -> rollout outcomes."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from autodeploy import wiring
from autodeploy.errors import InvalidEvent, PermanentError
from autodeploy.events import parse_rollout_event
from autodeploy.observability import logger, metrics, report_tracking, tracer
from autodeploy.origin import ignore_foreign


@logger.inject_lambda_context(correlation_id_path=correlation_paths.EVENT_BRIDGE)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    try:
        rollout_event = parse_rollout_event(event)
        if foreign := ignore_foreign(rollout_event.envelope, context.invoked_function_arn):
            return {"outcome": "ignored", "reason": foreign}
        metrics.add_metric(name="RolloutEventsReceived", unit=MetricUnit.Count, value=1)
        result = wiring.track_rollouts().handle(rollout_event)
    except (InvalidEvent, PermanentError) as exc:  # a retry cannot fix these: say why and return
        logger.error("rollout event not usable", extra={"reason": str(exc), "error": type(exc).__name__})
        metrics.add_metric(name="RolloutEventsRejected", unit=MetricUnit.Count, value=1)
        return {"outcome": "rejected", "reason": str(exc)}
    report_tracking(result)
    return result.summary()
