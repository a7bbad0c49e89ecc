"""DeployFunction: an ECR image push (EventBridge) -> deploy every registered target."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from autodeploy import wiring
from autodeploy.errors import InvalidEvent, PermanentError, RetryableError
from autodeploy.events import ImagePush
from autodeploy.observability import logger, metrics, report_deployments, tracer
from autodeploy.origin import ignore_foreign


@logger.inject_lambda_context(correlation_id_path=correlation_paths.EVENT_BRIDGE)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    try:
        push = ImagePush.from_event(event)
        if foreign := ignore_foreign(push.envelope, context.invoked_function_arn):
            return {"status": "ignored", "reason": foreign}
        metrics.add_metric(name="PushesReceived", unit=MetricUnit.Count, value=1)
        report = wiring.deploy_on_push().handle(push)
    except (InvalidEvent, PermanentError) as exc:  # a retry cannot fix these: say why and return
        logger.error("push not deployable", extra={"reason": str(exc), "error": type(exc).__name__})
        metrics.add_metric(name="PushesRejected", unit=MetricUnit.Count, value=1)
        return {"status": "rejected", "reason": str(exc)}
    report_deployments(report)
    if report.retryable:  # Lambda retries the event; targets already done are no-ops then
        metrics.add_metric(name="PushesRetried", unit=MetricUnit.Count, value=1)
        raise RetryableError("; ".join(report.retryable))
    return report.summary()
