"""ReleaseFunction: the events that open a release gate -> the pushes waiting there ask their gates again.

A scan's completion (ECR Image Scan, Inspector2 Scan, from EventBridge) or a one-time schedule at
a bake's end, a window's opening, or a scan's or approval's deadline (EventBridge Scheduler).
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from autodeploy import wiring
from autodeploy.deploy.gate import RELEASE_SOURCE
from autodeploy.errors import InvalidEvent, PermanentError, RetryableError
from autodeploy.events import ImageScanCompleted
from autodeploy.observability import logger, metrics, report_deployments, tracer
from autodeploy.origin import ignore_foreign
from autodeploy.release import GateRelease


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    try:
        if isinstance(event, dict) and event.get("source") == RELEASE_SOURCE:
            report = wiring.release_waiting().on_schedule(GateRelease.from_event(event))
        else:
            scan = ImageScanCompleted.from_event(event)
            if foreign := ignore_foreign(scan.envelope, context.invoked_function_arn):
                return {"status": "ignored", "reason": foreign}
            report = wiring.release_waiting().on_scan(scan)
    except (InvalidEvent, PermanentError) as exc:  # a retry cannot fix these: say why and return
        logger.error("gate release not usable", extra={"reason": str(exc), "error": type(exc).__name__})
        metrics.add_metric(name="GateReleasesRejected", unit=MetricUnit.Count, value=1)
        return {"status": "rejected", "reason": str(exc)}
    metrics.add_metric(name="GateReleasesReceived", unit=MetricUnit.Count, value=1)
    for released in report.released:
        report_deployments(released)
    if report.retryable:
        raise RetryableError("; ".join(report.retryable))
    return report.summary()
