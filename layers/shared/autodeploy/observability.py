"""Logger, metrics and tracer shared by every function (configured by POWERTOOLS_* variables)."""

from __future__ import annotations

import os
from collections.abc import Callable
from functools import cache
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from autodeploy.records import Status

if TYPE_CHECKING:  # each function imports only the use case it runs
    from autodeploy.deploy import DeployReport
    from autodeploy.reconcile import ReconcileReport
    from autodeploy.scaling.reviewer import ReviewReport
    from autodeploy.tracking import TrackResult

logger = Logger()
metrics = Metrics()


class LazyTracer:
    """Powertools Tracer only when tracing is on: building one imports the X-Ray SDK, which costs
    more cold start than boto3 itself, even when disabled."""

    @staticmethod
    def enabled() -> bool:
        return os.environ.get("POWERTOOLS_TRACE_DISABLED", "false").lower() not in ("true", "1")

    @cache  # noqa: B019  # one Tracer per process, as Powertools intends
    def _tracer(self) -> Any:
        from aws_lambda_powertools import Tracer

        return Tracer()

    def capture_lambda_handler(self, handler: Callable[..., Any]) -> Callable[..., Any]:
        if not self.enabled():
            return handler
        wrapped: Callable[..., Any] = self._tracer().capture_lambda_handler(handler)
        return wrapped


tracer = LazyTracer()

_METRIC_BY_STATUS = {
    Status.IN_PROGRESS: "DeploymentsStarted",
    Status.QUEUED: "DeploymentsQueued",
    Status.WAITING: "DeploymentsWaiting",
    Status.PLANNED: "DeploymentsPlanned",
    Status.SKIPPED: "DeploymentsSkipped",
    Status.REJECTED: "DeploymentsRejected",
    Status.SUPERSEDED: "DeploymentsSuperseded",
    Status.SUCCEEDED: "DeploymentsSucceeded",
    Status.FAILED: "DeploymentsFailed",
    Status.ROLLED_BACK: "DeploymentsRolledBack",
    Status.TIMED_OUT: "DeploymentsTimedOut",
}


def report_deployments(report: DeployReport) -> None:
    """One structured log line and one metric per target decision; counts by reason too."""
    if report.ignored:
        logger.info("push ignored", extra={"reason": report.ignored, "digest": report.push.digest})
        metrics.add_metric(name="UntaggedPushesIgnored", unit=MetricUnit.Count, value=1)
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


def report_tracking(result: TrackResult) -> None:
    logger.info(
        "rollout event",
        extra={"target": result.target, "outcome": result.outcome, "why": result.why, **result.summary()},
    )
    record = result.record
    if result.outcome == "closed" and record is not None:
        metrics.add_metric(name=_METRIC_BY_STATUS[record.status], unit=MetricUnit.Count, value=1)
        if record.lead_time_seconds is not None:
            metrics.add_metric(name="LeadTime", unit=MetricUnit.Seconds, value=record.lead_time_seconds)
    if result.next_deploy is not None:
        report_deployments(result.next_deploy)
    for released in result.downstream:
        report_deployments(released)
    if "downstream_error" in result.details:
        logger.warning("targets after this one not released; reconcile will", extra=result.details)


def report_reconcile(report: ReconcileReport) -> None:
    logger.info("reconcile round", extra=report.summary())
    metrics.add_metric(name="ReconcileTargets", unit=MetricUnit.Count, value=report.targets)
    metrics.add_metric(name="ReconcileActions", unit=MetricUnit.Count, value=len(report.actions))
    for error in report.errors:
        logger.warning("reconcile could not finish a target", extra={"problem": error})
    for deploy in report.deploys:
        report_deployments(deploy)


def report_review(report: ReviewReport) -> None:
    for reviewed in report.reviewed:
        decision = reviewed.decision
        logger.info(
            "scaling decision",
            extra={
                "service": reviewed.service,
                "decision": decision.decision.value,
                "current_count": decision.current_count,
                "recommended_count": decision.recommended_count,
                "native_adjustment": decision.native.get("adjustment", 0),
                "applied": reviewed.applied,
                "mode": reviewed.mode.value,
                "reason": decision.reason,
                "findings": list(decision.findings),
            },
        )
        name = {"SCALE_OUT": "ScalingScaleOut", "SCALE_IN": "ScalingScaleIn", "HOLD": "ScalingHold"}
        metrics.add_metric(name=name[decision.decision.value], unit=MetricUnit.Count, value=1)
        if decision.diverges:
            metrics.add_metric(name="ScalingDivergence", unit=MetricUnit.Count, value=1)
        if reviewed.applied:
            metrics.add_metric(name="ScalingApplied", unit=MetricUnit.Count, value=1)
    metrics.add_metric(name="ScalingReviews", unit=MetricUnit.Count, value=len(report.reviewed))
    for problem in [*report.skipped, *report.errors]:
        logger.warning("scaling review problem", extra={"problem": problem})
