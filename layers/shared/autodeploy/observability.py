"""Logger, metrics and tracer shared by every function (configured by POWERTOOLS_* variables)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit

from autodeploy.records import Status

if TYPE_CHECKING:  # only the deploy function reports deployments; others must not import it
    from autodeploy.deploy import DeployReport

logger = Logger()
metrics = Metrics()
tracer = Tracer()

_METRIC_BY_STATUS = {
    Status.IN_PROGRESS: "DeploymentsStarted",
    Status.PLANNED: "DeploymentsPlanned",
    Status.SKIPPED: "DeploymentsSkipped",
    Status.REJECTED: "DeploymentsRejected",
    Status.FAILED: "DeploymentsFailed",
}


def report_deployments(report: DeployReport) -> None:
    """One structured log line and one metric per target decision; counts by reason too."""
    for recorded in report.recorded:
        record = recorded.record
        logger.info(
            "deployment decision",
            extra={
                "target": record.target,
                "status": record.status.value,
                "reason_code": record.reason_code.value,
                "reason": record.reason,
                "repository": record.repository,
                "tag": record.tag,
                "digest": record.digest,
                "image": record.image,
                "previous_image": record.previous_image,
                "task_definition_arn": record.task_definition_arn,
                "stack_id": record.stack_id,
                "duplicate": not recorded.first_time,
            },
        )
        if not recorded.first_time:
            metrics.add_metric(name="DuplicateDeliveries", unit=MetricUnit.Count, value=1)
            continue
        metrics.add_metric(name=_METRIC_BY_STATUS[record.status], unit=MetricUnit.Count, value=1)
        metrics.add_metric(name=f"Reason_{record.reason_code.value}", unit=MetricUnit.Count, value=1)
    for problem in report.retryable:
        logger.warning("will retry", extra={"problem": problem})
