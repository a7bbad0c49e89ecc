"""What ECS recorded about a service deployment, and the rollout verdict it implies. Pure.

DescribeServices forgets a deployment once it has drained (replaced, rolled back, finished);
ECS's service-deployment history (ListServiceDeployments / DescribeServiceDeployments) keeps
its outcome for 90 days. A rollout whose deployment is no longer listed is judged from that
history, never from whatever the service runs now.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from autodeploy.records import Reason, Status

NO_CIRCUIT_BREAKER = (
    "the service has no deployment circuit breaker: ECS never reports its deployments FAILED, so a rollout "
    "that cannot reach a steady state ends TIMED_OUT, not ROLLED_BACK"
)

# Our UpdateService comes after the rollout's start is recorded; this much clock skew is allowed
# when the history is asked for the deployments created since.
CLOCK_SKEW = timedelta(seconds=5)

# ECS's ServiceDeploymentStatus values (botocore ecs service-2.json), by outcome.
UNDER_WAY = frozenset({"PENDING", "IN_PROGRESS", "STOP_REQUESTED", "ROLLBACK_REQUESTED", "ROLLBACK_IN_PROGRESS"})
FINISHED = frozenset({"SUCCESSFUL", "STOPPED", "ROLLBACK_SUCCESSFUL", "ROLLBACK_FAILED"})
ROLLING_BACK = frozenset({"ROLLBACK_REQUESTED", "ROLLBACK_IN_PROGRESS", "ROLLBACK_SUCCESSFUL", "ROLLBACK_FAILED"})


@dataclass(frozen=True, slots=True)
class ServiceDeployment:
    """One entry of a service's deployment history (ECS's ``ServiceDeployment``)."""

    arn: str
    status: str
    status_reason: str = ""
    created_at: datetime | None = None
    finished_at: datetime | None = None
    target_revision: str | None = None
    source_revisions: tuple[str, ...] = ()
    rollback_reason: str = ""
    rollback_revision: str | None = None  # the service revision the rollback restored
    circuit_breaker: bool = False  # as configured for this deployment, not as the service is now
    rollback_on_failure: bool = False
    circuit_breaker_status: str | None = None  # TRIGGERED, MONITORING, MONITORING_COMPLETE, DISABLED

    @property
    def finished(self) -> bool:
        return self.status in FINISHED

    @property
    def rolled_back(self) -> bool:
        return self.status in ROLLING_BACK or self.rollback_revision is not None


@dataclass(frozen=True, slots=True)
class Verdict:
    """How a rollout ends, judged from its deployment's history entry."""

    status: Status
    code: Reason
    reason: str


def verdict_of(deployment: ServiceDeployment) -> Verdict | None:
    """The rollout's end as ECS recorded it; None while the deployment is still under way."""
    why = f": {deployment.status_reason.rstrip('.')}" if deployment.status_reason else ""
    if deployment.status == "SUCCESSFUL":
        return Verdict(Status.SUCCEEDED, Reason.ROLLOUT_SUCCEEDED, f"ECS recorded the deployment SUCCESSFUL{why}")
    if deployment.status == "ROLLBACK_SUCCESSFUL":
        return Verdict(Status.ROLLED_BACK, Reason.ROLLED_BACK, f"ECS rolled the deployment back{_restored(deployment)}")
    if deployment.status == "ROLLBACK_FAILED":
        return Verdict(
            Status.FAILED,
            Reason.ROLLOUT_FAILED,
            f"the deployment failed and ECS could not roll it back{_restored(deployment)}",
        )
    if deployment.status == "STOPPED":
        return Verdict(
            Status.FAILED,
            Reason.DEPLOYMENT_STOPPED,
            f"ECS stopped the deployment before it completed (a later deployment replaced it, or a person "
            f"stopped it){why}",
        )
    return None


def _restored(deployment: ServiceDeployment) -> str:
    parts = []
    if deployment.rollback_revision:
        parts.append(f" to service revision {deployment.rollback_revision.rsplit('/', 1)[-1]}")
    reason = deployment.rollback_reason or deployment.status_reason
    if reason:
        parts.append(f": {reason.rstrip('.')}")
    return "".join(parts)
