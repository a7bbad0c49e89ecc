"""Step 6, act: take the target's rollout lock, then register and point the service at the new
revision (or update the stack's parameter), and keep what the tracker needs to follow the rollout.

The lock is taken before acting: a push that loses the race waits as the target's pending push.
A rollout that cannot start after the lock was taken is recorded with its reason, the lock freed,
and the target's pending push (if any) promoted.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import Any

from autodeploy.adapters.cloudformation import CloudFormationStacks, NoUpdateNeeded
from autodeploy.adapters.discovery import TargetDiscovery
from autodeploy.adapters.ecs import EcsServices, Started
from autodeploy.adapters.ecs_model import task_definition_model
from autodeploy.adapters.ledger import Ledger
from autodeploy.deploy.outcome import Decision, DeployOptions, DeployReport
from autodeploy.deploy.prepare import Plan
from autodeploy.deploy.queue import RolloutQueue
from autodeploy.deploy.recorder import Recorder
from autodeploy.errors import AutodeployError, MisconfiguredTarget, PermanentError, TargetNotFound
from autodeploy.events import ImagePush
from autodeploy.records import DeploymentRecord, Reason, Status
from autodeploy.registration import Target, TargetKind
from autodeploy.rollout import InFlight, PushRef
from autodeploy.task_definition import clone_with_images

# The domain does not build the functions' Powertools logger (it reads POWERTOOLS_* when built).
_log = logging.getLogger(__name__)


class Rollouts:
    def __init__(
        self,
        services: EcsServices,
        stacks: CloudFormationStacks,
        ledger: Ledger,
        discovery: TargetDiscovery,
        queue: RolloutQueue,
        recorder: Recorder,
        promote_pending: Callable[[Target], DeployReport | None],
        clock: Callable[[], datetime],
    ) -> None:
        self._services = services
        self._stacks = stacks
        self._ledger = ledger
        self._discovery = discovery
        self._queue = queue
        self._recorder = recorder
        self._promote_pending = promote_pending
        self._clock = clock

    def start(
        self,
        report: DeployReport,
        push: ImagePush,
        plan: Plan,
        options: DeployOptions,
        why: str,
        common: dict[str, Any],
    ) -> Decision:
        target = plan.target
        token = re.sub(r"[^-a-zA-Z0-9]", "-", f"autodeploy-{push.event_id}")[:128]
        record = self._recorder.record_of(
            push, target, Decision(Status.IN_PROGRESS, Reason.DEPLOYED, f"rollout started ({why})", common)
        )
        in_flight = InFlight(
            PushRef.of(push, options.requested_by),
            image=common["image"],
            started_at=record.recorded_at,
            previous_image=plan.previous,
            token=token if target.kind is TargetKind.STACK else None,
        )
        claimed = self._queue.claim(report, record, in_flight, options, common)
        if claimed is not None:
            return claimed
        try:
            done = self._act(push, plan, common, token)
        except (PermanentError, TargetNotFound) as exc:
            refused = Reason.MISCONFIGURED if isinstance(exc, MisconfiguredTarget) else Reason.REJECTED_BY_AWS
            status, code = (
                (Status.SKIPPED, Reason.TARGET_GONE) if isinstance(exc, TargetNotFound) else (Status.FAILED, refused)
            )
            return self._end_early(report, record, status, code, str(exc))
        if done.status is Status.SKIPPED:
            return self._end_early(report, record, done.status, done.code, done.reason, **done.fields)
        return replace(done, reason=record.reason, recorded=True)

    def _act(self, push: ImagePush, plan: Plan, common: dict[str, Any], token: str) -> Decision:
        if plan.service is not None and plan.source is not None:
            if plan.reusable is not None:
                new_arn = plan.reusable.arn
            else:
                images = dict.fromkeys(plan.containers, common["image"])
                source = plan.source
                request = clone_with_images(
                    source.definition, source.tags, images, push.digest, task_definition_model(), source.unmodeled
                ).request
                new_arn = self._services.register(request)
            started = self._services.point_service_at(plan.service, new_arn)
            if started.deployment_id is not None:
                self._keep_deployment(plan, push, started, new_arn)
            return Decision(
                Status.IN_PROGRESS,
                Reason.DEPLOYED,
                "",
                {**common, "task_definition_arn": new_arn, "deployment_id": started.deployment_id},
            )
        assert plan.stack is not None
        assert plan.target.parameter is not None
        try:
            stack_id = self._stacks.update_parameter(plan.stack, plan.target.parameter, plan.new_value, token)
        except NoUpdateNeeded:
            return Decision(
                Status.SKIPPED,
                Reason.ALREADY_RUNNING,
                "CloudFormation found nothing to update",
                {"stack_id": plan.stack.stack_id},
            )
        return Decision(Status.IN_PROGRESS, Reason.DEPLOYED, "", {**common, "stack_id": stack_id})

    def _keep_deployment(self, plan: Plan, push: ImagePush, started: Started, task_definition_arn: str) -> None:
        """Keep the deployment UpdateService started in the rollout in flight: the tracker and reconcile
        judge the rollout by it, and by ECS's history of it once DescribeServices forgets it. The
        rollout has started either way: if this write fails, the tracker learns the id from the
        first event (by the revision's digest tag) and reconcile from the service's history."""
        assert started.deployment_id is not None
        try:
            self._ledger.note_rollout(
                plan.target.arn,
                PushRef.of(push).sort_key,
                started.deployment_id,
                task_definition_arn,
                service_deployment_arn=started.service_deployment_arn,
                findings=plan.findings,
            )
        except AutodeployError as exc:
            _log.warning("could not keep the deployment id", extra={"target": plan.target.arn, "error": str(exc)})

    def _end_early(
        self, report: DeployReport, record: DeploymentRecord, status: Status, code: Reason, reason: str, **fields: Any
    ) -> Decision:
        """The lock was taken but the rollout could not start: record why, free the lock, move on."""
        ended = replace(record, status=status, reason_code=code, reason=reason, finished_at=self._clock(), **fields)
        after = self._ledger.finish(ended)
        if after is not None and after.pending is not None:
            target = self._discovery.get(record.target)
            if target is not None:
                promoted = self._promote_pending(target)
                if promoted is not None:
                    report.merge(promoted)
        return Decision(status, code, reason, fields, recorded=True)
