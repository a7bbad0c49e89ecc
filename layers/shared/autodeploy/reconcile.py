"""Use case: the scheduled catch-up, because ECR and ECS events are delivered on a best-effort basis.

Per registered target: a rollout in flight whose events were missed is closed from what the
service or stack shows, one whose function died before it started is finished, one that takes
too long is TIMED_OUT; a pending push whose rollout ended is deployed; and an idle target that
does not run the newest deployable image (by its policy) gets it, unless that digest is
quarantined for it. The one-rollout-at-a-time rule holds throughout: all of it goes through
the same lock.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from autodeploy.adapters.cloudformation import CloudFormationStacks
from autodeploy.adapters.ecr import EcrImages
from autodeploy.adapters.ecs import EcsServices
from autodeploy.deploy import DeployOnPush, DeployOptions, DeployReport
from autodeploy.deployment_history import CLOCK_SKEW, NO_CIRCUIT_BREAKER, verdict_of
from autodeploy.errors import AutodeployError
from autodeploy.events import ECR_DETAIL_TYPE, ECR_SOURCE, EventEnvelope, ImagePush
from autodeploy.policy import ImageFacts, newest_deployable
from autodeploy.records import Reason, Status
from autodeploy.registration import Target, TargetKind
from autodeploy.rollout import InFlight, TargetState
from autodeploy.tracking import STACK_OUTCOMES, TrackRollouts, history_details


@dataclass(slots=True)
class ReconcileReport:
    targets: int = 0
    actions: list[dict[str, Any]] = field(default_factory=list)
    deploys: list[DeployReport] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def note(self, target: Target, action: str, **details: Any) -> None:
        self.actions.append({"target": target.arn, "action": action, **details})

    def summary(self) -> dict[str, Any]:
        return {
            "targets": self.targets,
            "actions": self.actions,
            "deployed": [t for d in self.deploys for t in d.summary()["targets"]],
            "errors": self.errors,
        }


class Reconcile:
    def __init__(
        self,
        deployer: DeployOnPush,
        tracker: TrackRollouts,
        services: EcsServices,
        stacks: CloudFormationStacks,
        images: EcrImages,
        rollout_timeout_minutes: int = 60,
        resume_after_minutes: int = 5,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._deployer = deployer
        self._ledger = deployer.ledger
        self._tracker = tracker
        self._services = services
        self._stacks = stacks
        self._images = images
        self._timeout = timedelta(minutes=rollout_timeout_minutes)
        self._resume_after = timedelta(minutes=resume_after_minutes)
        self._clock = clock

    def run(self) -> ReconcileReport:
        report = ReconcileReport()
        found = self._deployer.discovery.find_all()
        report.targets = len(found.targets)
        # Never deployed here either (a push could not find them, e.g. a padded repository tag): say why.
        report.errors.extend(f"misconfigured: {problem}" for _, problem in found.misconfigured)
        states = self._ledger.states(t.arn for t in found.targets)
        idle: dict[tuple[str, str], list[Target]] = defaultdict(list)
        for target in found.targets:
            state = states[target.arn]
            try:
                if state.in_flight is not None:
                    self._check_in_flight(report, target, state.in_flight)
                elif state.pending is not None:
                    promoted = self._deployer.promote_pending(target)
                    if promoted is not None:
                        report.note(target, "deployed the pending push", tag=state.pending.tag)
                        report.deploys.append(promoted)
                else:
                    idle[(target.repository, str(target.tag_filter))].append(target)
            except AutodeployError as exc:  # one target's trouble must not stop the round
                report.errors.append(f"{target.arn}: {exc}")
        listings: dict[str, list[ImageFacts]] = {}
        for (repository, _), targets in idle.items():
            try:
                if repository not in listings:
                    listings[repository] = self._images.list_tagged(repository)
                self._catch_up(report, targets, listings[repository], states)
            except AutodeployError as exc:
                report.errors.append(f"{repository}: {exc}")
        return report

    def _catch_up(
        self, report: ReconcileReport, targets: list[Target], images: list[ImageFacts], states: dict[str, TargetState]
    ) -> None:
        newest = newest_deployable(targets[0].tag_filter, images)
        if newest is None:
            return
        image, tag = newest
        # A digest that already succeeded here and no longer runs was replaced by a later deployment
        # (a person's update-service, a stack): catch-up never reverts it. Quarantined ones stay out.
        eligible = [
            t
            for t in targets
            if image.digest not in states[t.arn].quarantined
            and states[t.arn].last_succeeded.get("digest") != image.digest
        ]
        if not eligible:
            return
        account, region = _account_region(eligible[0].arn)
        envelope = EventEnvelope(
            f"reconcile-{image.digest[7:23]}", ECR_SOURCE, ECR_DETAIL_TYPE, account, region, image.pushed_at
        )
        push = ImagePush(envelope, targets[0].repository, image.digest, tag)
        deployed = self._deployer.deploy(
            push, eligible, DeployOptions(record_noops=False, require_known_deployed=True, reason_prefix="catch-up: ")
        )
        for recorded in deployed.recorded:
            if recorded.first_time:
                report.actions.append(
                    {"target": recorded.record.target, "action": f"catch-up {recorded.record.status}", "tag": tag}
                )
        report.deploys.append(deployed)
        report.errors.extend(deployed.retryable)

    def _check_in_flight(self, report: ReconcileReport, target: Target, in_flight: InFlight) -> None:
        age = self._clock() - in_flight.started_at
        if age < self._resume_after:
            return  # its events are probably on their way
        if target.kind is TargetKind.SERVICE:
            closed = self._check_service(report, target, in_flight)
        else:
            closed = self._check_stack(report, target, in_flight)
        if not closed and age >= self._timeout:
            minutes = int(self._timeout.total_seconds() // 60)
            why = f"no terminal state within {minutes} minutes of the rollout's start"
            if NO_CIRCUIT_BREAKER in in_flight.findings:
                why += " (the service has no deployment circuit breaker, so ECS never reports a failure)"
            result = self._tracker.close(target.arn, in_flight, Status.TIMED_OUT, Reason.TIMED_OUT, why)
            report.note(target, "timed out", outcome=result.outcome)

    def _check_service(self, report: ReconcileReport, target: Target, in_flight: InFlight) -> bool:
        """Close a rollout whose events were missed, from what ECS shows or recorded; never re-apply it.

        Once UpdateService ran (its deployment id is kept), the rollout is judged by that deployment
        only: listed by DescribeServices, or else from ECS's service-deployment history. It is never
        resumed then: that would re-apply a revision ECS rolled back, or revert a later deployment.
        """
        service = self._services.describe([target.arn]).get(target.arn)
        if service is None:
            self._tracker.close(
                target.arn, in_flight, Status.FAILED, Reason.TARGET_GONE, "the service was deleted during its rollout"
            )
            report.note(target, "closed: service gone")
            return True
        if in_flight.deployment_id is not None:
            listed = next((d for d in service.deployments if d.get("id") == in_flight.deployment_id), None)
            if listed is not None:
                return self._judge_listed(report, target, in_flight, listed, service.rollback_on_failure)
            return self._judge_from_history(report, target, in_flight)
        # The deployment id was never kept: find ours by the digest its revision carries.
        for deployment in service.deployments:
            view = self._services.deployment(target.arn, deployment["id"])
            if view is None or view.digest != in_flight.push.digest:
                continue
            return self._judge_listed(report, target, in_flight, deployment, view.rollback_enabled)
        # No listed deployment is ours: UpdateService never ran, or its deployment has drained since.
        try:
            since = self._services.service_deployments_since(target.arn, in_flight.started_at - CLOCK_SKEW)
        except AutodeployError as exc:
            report.errors.append(f"{target.arn}: not resumed, its deployment history is unreadable: {exc}")
            return False
        if not since:
            self._resume(report, target, in_flight, "resumed a rollout that never started")
            return False
        first = since[0]
        self._tracker.close(
            target.arn,
            in_flight,
            Status.FAILED,
            Reason.REPLACED,
            f"not resumed: ECS deployed the service since this rollout started ({first.arn.rsplit('/', 1)[-1]}, "
            f"{first.status}) and lists no deployment of ours; resuming could re-apply a rolled-back revision "
            "or revert a later deployment (seen by reconcile)",
            failure={"service_deployment": history_details(first)},
        )
        report.note(target, "closed a rollout overtaken by another deployment", status=first.status)
        return True

    def _judge_listed(
        self, report: ReconcileReport, target: Target, in_flight: InFlight, deployment: dict[str, Any], rollback: bool
    ) -> bool:
        state = deployment.get("rolloutState")
        if state == "COMPLETED":
            self._tracker.close(
                target.arn,
                in_flight,
                Status.SUCCEEDED,
                Reason.ROLLOUT_SUCCEEDED,
                "the service reached a steady state on the new image (seen by reconcile)",
            )
            report.note(target, "closed a rollout whose completion event was missed")
            return True
        if state == "FAILED":
            reason = deployment.get("rolloutStateReason", "the deployment failed") + " (seen by reconcile)"
            self._tracker.close(
                target.arn,
                in_flight,
                Status.ROLLED_BACK if rollback else Status.FAILED,
                Reason.ROLLED_BACK if rollback else Reason.ROLLOUT_FAILED,
                reason,
            )
            report.note(target, "closed a rollout whose failure event was missed")
            return True
        return False  # ours, still rolling out

    def _judge_from_history(self, report: ReconcileReport, target: Target, in_flight: InFlight) -> bool:
        """Our deployment has drained from DescribeServices: ECS's history says how it ended."""
        try:
            recorded = self._tracker.history_of(target.arn, in_flight)
        except AutodeployError as exc:
            report.errors.append(f"{target.arn}: the deployment history is unreadable: {exc}")
            return False  # judged next round, or TIMED_OUT; never resumed
        verdict = verdict_of(recorded) if recorded is not None else None
        if recorded is None or verdict is None:
            return False  # not recorded yet, or still under way (a rollback in progress)
        self._tracker.close(
            target.arn,
            in_flight,
            verdict.status,
            verdict.code,
            f"{verdict.reason} (seen by reconcile in ECS's deployment history)",
            failure={"service_deployment": history_details(recorded)},
        )
        report.note(target, f"closed a drained rollout from ECS's history: {recorded.status}")
        return True

    def _resume(self, report: ReconcileReport, target: Target, in_flight: InFlight, action: str) -> None:
        """Finish a rollout that holds the lock but never started, with the push it was for."""
        options = DeployOptions(resuming=True, enforce_policy=False, reason_prefix="resumed by reconcile: ")
        report.deploys.append(self._deployer.deploy(in_flight.push.to_push(), [target], options))
        report.note(target, action)

    def _check_stack(self, report: ReconcileReport, target: Target, in_flight: InFlight) -> bool:
        stack = self._stacks.describe(target.arn)
        if stack is None:
            self._tracker.close(
                target.arn, in_flight, Status.FAILED, Reason.TARGET_GONE, "the stack was deleted during its rollout"
            )
            report.note(target, "closed: stack gone")
            return True
        if stack.status.endswith("_IN_PROGRESS"):
            return False  # still updating; its event will come
        # Our UpdateStack comes after the lock was taken, so its update time is later than the start;
        # a parameter that already holds our value says the same where no update time is kept.
        ours = {in_flight.push.tag, in_flight.push.digest, in_flight.image} - {None}
        updated_since = (stack.last_updated is not None and stack.last_updated >= in_flight.started_at) or (
            stack.parameters.get(target.parameter or "") in ours
        )
        if not updated_since:
            # Our UpdateStack never ran (the function died, or every retry met a busy stack): finish it.
            self._resume(report, target, in_flight, "resumed a stack update that never started")
            return False
        status, code = STACK_OUTCOMES.get(stack.status, (Status.SUCCEEDED, Reason.ROLLOUT_SUCCEEDED))
        self._tracker.close(target.arn, in_flight, status, code, f"stack {stack.status} (seen by reconcile)")
        report.note(target, f"closed a stack rollout whose event was missed: {stack.status}")
        return True


def _account_region(arn: str) -> tuple[str, str]:
    parts = arn.split(":")
    return parts[4], parts[3]
