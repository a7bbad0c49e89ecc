"""Use case: follow each rollout to its end, from the events ECS and CloudFormation send.

An event is matched to the rollout that caused it, never to "whatever is primary now": an ECS
event by its deployment id (learned on first sight from the revision's ``autodeploy:digest``
tag), a stack event by the ClientRequestToken our UpdateStack carried. The terminal record says
why in words a person can act on, the target's lock is released, a failed digest is quarantined,
and the target's pending push, if any, deploys next.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from autodeploy.adapters.cloudformation import CloudFormationStacks
from autodeploy.adapters.ecs import DeploymentView, EcsServices
from autodeploy.adapters.ledger import Ledger
from autodeploy.deploy import DeployOnPush, DeployReport
from autodeploy.deployment_history import CLOCK_SKEW, ServiceDeployment, verdict_of
from autodeploy.errors import AutodeployError, RetryableError
from autodeploy.events import EcsDeploymentEvent, StackStatusEvent
from autodeploy.notifications import Notifier, notification_for
from autodeploy.records import DeploymentRecord, Reason, Status
from autodeploy.release import ReleaseWaiting
from autodeploy.rollout import InFlight

STACK_OUTCOMES = {
    "UPDATE_COMPLETE": (Status.SUCCEEDED, Reason.ROLLOUT_SUCCEEDED),
    "UPDATE_ROLLBACK_COMPLETE": (Status.ROLLED_BACK, Reason.ROLLED_BACK),
    "UPDATE_ROLLBACK_FAILED": (Status.FAILED, Reason.ROLLOUT_FAILED),
    "UPDATE_FAILED": (Status.FAILED, Reason.ROLLOUT_FAILED),
}
_CLOCK_SKEW = timedelta(seconds=5)


@dataclass(slots=True)
class TrackResult:
    target: str
    outcome: str  # ignored / noted / closed
    why: str
    record: DeploymentRecord | None = None
    next_deploy: DeployReport | None = None
    details: dict[str, Any] = field(default_factory=dict)
    downstream: list[DeployReport] = field(default_factory=list)  # targets `after` this one, released

    def summary(self) -> dict[str, Any]:
        summary: dict[str, Any] = {"target": self.target, "outcome": self.outcome, "why": self.why}
        if self.record is not None:
            summary.update(
                status=self.record.status.value,
                reason=self.record.reason,
                lead_time_seconds=self.record.lead_time_seconds,
            )
        if self.next_deploy is not None:
            summary["next"] = self.next_deploy.summary()["targets"]
        if self.downstream:
            summary["downstream"] = [t for report in self.downstream for t in report.summary()["targets"]]
        return summary


class TrackRollouts:
    def __init__(
        self,
        deployer: DeployOnPush,
        services: EcsServices,
        stacks: CloudFormationStacks,
        notifier: Notifier,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._deployer = deployer
        self._ledger: Ledger = deployer.ledger
        self._services = services
        self._stacks = stacks
        self._notifier = notifier
        self._clock = clock

    def handle(self, event: EcsDeploymentEvent | StackStatusEvent) -> TrackResult:
        if isinstance(event, EcsDeploymentEvent):
            return self._on_service_event(event)
        return self._on_stack_event(event)

    def _on_service_event(self, event: EcsDeploymentEvent) -> TrackResult:
        target = event.service_arn
        in_flight = self._ledger.state(target).in_flight
        if in_flight is None:
            return TrackResult(target, "ignored", "no rollout of ours is in flight for this service")
        view: DeploymentView | None = None
        if in_flight.deployment_id is None:
            view = self._services.deployment(target, event.deployment_id)
            if view is None or view.digest != in_flight.push.digest:
                return TrackResult(
                    target, "ignored", f"deployment {event.deployment_id} does not carry {in_flight.push.digest}"
                )
            self._ledger.note_rollout(target, in_flight.sort_key, event.deployment_id, view.task_definition_arn)
            in_flight = replace(
                in_flight, deployment_id=event.deployment_id, task_definition_arn=view.task_definition_arn
            )
        elif in_flight.deployment_id != event.deployment_id:
            return TrackResult(
                target, "ignored", f"deployment {event.deployment_id} is not ours ({in_flight.deployment_id})"
            )

        if event.name == "SERVICE_DEPLOYMENT_IN_PROGRESS":
            return TrackResult(target, "noted", f"our deployment {event.deployment_id} is in progress")
        if event.name == "SERVICE_DEPLOYMENT_COMPLETED":
            return self.close(
                target,
                in_flight,
                Status.SUCCEEDED,
                Reason.ROLLOUT_SUCCEEDED,
                f"the service reached a steady state on the new image ({event.reason})".replace(" ()", ""),
                finished_at=event.envelope.time,
            )
        return self._close_failed(target, in_flight, event, view)

    def _close_failed(
        self, target: str, in_flight: InFlight, event: EcsDeploymentEvent, view: DeploymentView | None
    ) -> TrackResult:
        """Our deployment FAILED: rolled back or not, as ECS recorded it; then say why, as far as we can see."""
        failure: dict[str, Any] = {"deployment_reason": event.reason}
        unseen: list[str] = []
        described: AutodeployError | None = None
        if view is None:  # not read yet: the deployment id was already known
            try:
                view = self._services.deployment(target, event.deployment_id)
            except AutodeployError as exc:  # ECS's history can still judge it; the events are diagnostics
                unseen.append(f"the service and its events: {exc}")
                described = exc
        rolled_back = view is not None and view.rollback_enabled
        lead = (
            "the deployment circuit breaker rolled the service back to the previous image"
            if rolled_back
            else "the deployment failed"
        )
        status, code = (
            (Status.ROLLED_BACK, Reason.ROLLED_BACK) if rolled_back else (Status.FAILED, Reason.ROLLOUT_FAILED)
        )
        if view is None or view.task_definition_arn is None:
            # A late event: the service no longer lists the deployment. ECS's history has its outcome,
            # and the rollback setting it ran with (the service's may have changed since).
            try:
                recorded = self.history_of(target, in_flight)
            except AutodeployError as exc:
                if described is not None:
                    raise  # neither the service nor its history can be read: nothing to judge by yet
                recorded = None
                unseen.append(f"service-deployment history: {exc}")
            if recorded is None and described is not None:
                raise RetryableError(f"cannot judge {event.deployment_id}: {described}") from described
            if recorded is not None:
                failure["service_deployment"] = history_details(recorded)
                verdict = verdict_of(recorded)
                if verdict is not None:
                    status, code, lead = verdict.status, verdict.code, verdict.reason
                elif recorded.rolled_back or recorded.rollback_on_failure:
                    status, code = Status.ROLLED_BACK, Reason.ROLLED_BACK
                    lead = "the deployment circuit breaker is rolling the service back to the previous image"
        # Diagnostics only: a failure reading them leaves the reason shorter, never the rollout open.
        try:
            stopped = self._services.stopped_tasks(target, event.deployment_id)
        except AutodeployError as exc:
            stopped = []
            unseen.append(f"stopped tasks: {exc}")
        failure["stopped_tasks"] = stopped
        if view is not None and view.service_events:
            failure["service_events"] = view.service_events
        if unseen:
            failure["unseen"] = unseen
        return self.close(
            target,
            in_flight,
            status,
            code,
            f"{lead.rstrip('.')}: {event.reason.rstrip('.')}{_explain_tasks(stopped)}",
            finished_at=event.envelope.time,
            failure=failure,
        )

    def history_of(self, target: str, in_flight: InFlight) -> ServiceDeployment | None:
        """The rollout's deployment in ECS's service-deployment history (90 days), once UpdateService ran.

        By the ARN UpdateService returned; else the first deployment ECS created after the rollout
        started (the lock is taken before UpdateService, so no deployment of ours can come earlier).
        """
        if in_flight.service_deployment_arn:
            return self._services.service_deployment(in_flight.service_deployment_arn)
        since = self._services.service_deployments_since(target, in_flight.started_at - CLOCK_SKEW)
        return since[0] if since else None

    def _on_stack_event(self, event: StackStatusEvent) -> TrackResult:
        target = event.stack_id
        in_flight = self._ledger.state(target).in_flight
        if in_flight is None:
            return TrackResult(target, "ignored", "no rollout of ours is in flight for this stack")
        if event.client_request_token is not None and event.client_request_token != in_flight.token:
            return TrackResult(
                target, "ignored", f"operation {event.client_request_token} is not ours ({in_flight.token})"
            )
        if event.client_request_token is None and event.envelope.time < in_flight.started_at - _CLOCK_SKEW:
            return TrackResult(target, "ignored", "the event is older than our update")
        outcome = STACK_OUTCOMES.get(event.status)
        if outcome is None:
            return TrackResult(target, "noted", f"stack is {event.status}")
        status, code = outcome
        if status is Status.SUCCEEDED:
            return self.close(
                target, in_flight, status, code, "the stack update completed", finished_at=event.envelope.time
            )
        failed = self._stacks.failed_resources(target, in_flight.token)
        explained = "; ".join(f"{f['resource']} {f['status']}: {f['reason']}" for f in failed)
        reason = f"stack {event.status}" + (f": {event.status_reason}" if event.status_reason else "")
        if explained:
            reason += f" ({explained})"
        return self.close(
            target,
            in_flight,
            status,
            code,
            reason,
            finished_at=event.envelope.time,
            failure={"stack_status": event.status, "failed_resources": failed},
        )

    def close(
        self,
        target: str,
        in_flight: InFlight,
        status: Status,
        code: Reason,
        reason: str,
        *,
        finished_at: datetime | None = None,
        failure: dict[str, Any] | None = None,
    ) -> TrackResult:
        """End the rollout in flight: terminal record, lock released, quarantine, notify, next push."""
        record = self._ledger.get(target, in_flight.sort_key)
        if record is None or record.status is not Status.IN_PROGRESS:
            return TrackResult(target, "ignored", "the rollout was already closed")
        finished = finished_at or self._clock()
        lead_time = max(0, int((finished - in_flight.push.pushed_at).total_seconds()))
        closed = replace(
            record,
            status=status,
            reason_code=code,
            reason=reason,
            finished_at=finished,
            lead_time_seconds=lead_time,
            failure=failure or {},
            deployment_id=in_flight.deployment_id or record.deployment_id,
            task_definition_arn=in_flight.task_definition_arn or record.task_definition_arn,
        )
        # A digest that timed out is held back too: reconcile's catch-up must not start it again
        # (a service without a circuit breaker would time out again); a new push deploys it.
        failed = status in (Status.FAILED, Status.ROLLED_BACK, Status.TIMED_OUT)
        succeeded = {
            "digest": record.digest,
            "image": record.image,
            "tag": record.tag,
            "at": finished.isoformat(),
            "sk": record.sort_key,
        }
        after = self._ledger.finish(
            closed,
            quarantine=f"{status.value}: {reason}"[:400] if failed else None,
            succeeded=succeeded if status is Status.SUCCEEDED else None,
        )
        if after is None:
            return TrackResult(target, "ignored", "the rollout was already closed")
        self._notifier.publish([notification_for(closed)])
        result = TrackResult(target, "closed", reason, record=closed)
        if after.pending is not None and after.in_flight is None:
            registered = self._deployer.discovery.get(target)
            if registered is not None:
                result.next_deploy = self._deployer.promote_pending(registered)
        if status is Status.SUCCEEDED:
            # The targets `after` this one may take the digest now (or once their bake ends). The
            # rollout is closed whatever happens here: a release that fails is reconcile's to catch up.
            try:
                released = ReleaseWaiting(self._deployer).downstream_of(target, closed, in_flight.push.to_push())
                result.downstream = released.released
            except AutodeployError as exc:
                result.details["downstream_error"] = str(exc)
        return result


def _explain_tasks(stopped: list[dict[str, Any]]) -> str:
    if not stopped:
        return ""
    parts = []
    for task in stopped[:3]:
        exits = ", ".join(
            f"{c['name']} exited {c['exit_code']}" + (f" ({c['reason']})" if c.get("reason") else "")
            for c in task["containers"]
            if "exit_code" in c
        )
        parts.append(f"task {task['task'][:8]} stopped: {task['stopped_reason']}" + (f"; {exits}" if exits else ""))
    return ". " + ". ".join(parts)


def history_details(deployment: ServiceDeployment) -> dict[str, Any]:
    """What ECS recorded about a deployment, for the record's failure details."""
    details: dict[str, Any] = {"arn": deployment.arn, "status": deployment.status}
    for key, value in (
        ("status_reason", deployment.status_reason),
        ("rollback_reason", deployment.rollback_reason),
        ("rolled_back_to", deployment.rollback_revision),
        ("circuit_breaker", deployment.circuit_breaker_status),
    ):
        if value:
            details[key] = value
    return details
