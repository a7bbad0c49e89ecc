"""Use case: deploy one ECR push to every target registered for its repository.

Per target, in order: is the tag deployable at all, is the target already running the digest,
does the policy accept it (never backwards), then act (or only plan, in dry-run) and record.
One target's failure never stops the others; transient failures are raised at the end so that
Lambda retries the event, and the retry finds the finished targets already done.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from functools import partial
from typing import Any, Protocol

from autodeploy.adapters.cloudformation import CloudFormationStacks, NoUpdateNeeded, StackState
from autodeploy.adapters.discovery import TargetDiscovery
from autodeploy.adapters.ecr import EcrImages
from autodeploy.adapters.ecs import EcsServices, ServiceState, TaskDefinition
from autodeploy.errors import (
    InvalidImageReference,
    MisconfiguredTarget,
    PermanentError,
    RetryableError,
    TargetNotFound,
)
from autodeploy.events import ImagePush
from autodeploy.image_reference import ImageReference, is_valid_digest
from autodeploy.policy import ImageFacts, judge_push, tag_matches
from autodeploy.records import DeploymentRecord, Reason, Status
from autodeploy.registration import Mode, ParameterValue, Target, TargetKind, kind_of, resource_path
from autodeploy.task_definition import clone_with_images, container_images, is_clone_of, select_containers

UPDATABLE_STACK_STATES = frozenset(
    {"CREATE_COMPLETE", "UPDATE_COMPLETE", "UPDATE_ROLLBACK_COMPLETE", "IMPORT_COMPLETE", "IMPORT_ROLLBACK_COMPLETE"}
)


class RecordSink(Protocol):
    def record(self, record: DeploymentRecord) -> bool: ...


@dataclass(frozen=True, slots=True)
class Recorded:
    record: DeploymentRecord
    first_time: bool  # False: this push was already recorded for the target (a redelivery)


@dataclass(slots=True)
class DeployReport:
    push: ImagePush
    recorded: list[Recorded] = field(default_factory=list)
    retryable: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        return {
            "event_id": self.push.event_id,
            "repository": self.push.repository,
            "tag": self.push.tag,
            "digest": self.push.digest,
            "targets": [
                {
                    "target": r.record.target,
                    "status": r.record.status.value,
                    "reason": r.record.reason,
                    **({} if r.first_time else {"duplicate": True}),
                }
                for r in self.recorded
            ],
            "retrying": self.retryable,
        }


@dataclass(frozen=True, slots=True)
class _Plan:
    """What one target would get, and the facts the policy needs."""

    target: Target
    new_value: str
    previous: str
    deployed_key: str | None
    deployed_tags: tuple[str, ...]
    changes: dict[str, Any]
    service: ServiceState | None = None
    source: TaskDefinition | None = None
    reusable: TaskDefinition | None = None
    containers: tuple[str, ...] = ()
    stack: StackState | None = None


class _Outcome(Exception):
    """Internal: a target's decision reached before acting (skip, reject, fail)."""

    def __init__(self, status: Status, code: Reason, reason: str, **fields: Any) -> None:
        super().__init__(reason)
        self.status, self.code, self.reason, self.fields = status, code, reason, fields


class DeployOnPush:
    def __init__(
        self,
        discovery: TargetDiscovery,
        services: EcsServices,
        stacks: CloudFormationStacks,
        images: EcrImages,
        ledger: RecordSink,
        registry_for: Callable[[str, str], str],
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._discovery = discovery
        self._services = services
        self._stacks = stacks
        self._images = images
        self._ledger = ledger
        self._registry_for = registry_for
        self._clock = clock

    def handle(self, push: ImagePush) -> DeployReport:
        report = DeployReport(push)
        found = self._discovery.find(push.repository)
        for arn, problem in found.misconfigured:
            self._record(report, self._bare_record(push, arn, Status.FAILED, Reason.MISCONFIGURED, str(problem)))

        eligible = []
        for target in found.targets:
            if push.tag is None:
                self._decide(
                    report,
                    push,
                    target,
                    _Outcome(Status.SKIPPED, Reason.NO_TAG, "a push without an image tag is not deployable"),
                )
                continue
            matched = tag_matches(target.tag_filter, push.tag)
            if not matched.accepted:
                self._decide(report, push, target, _Outcome(Status.SKIPPED, Reason.TAG_FILTER, matched.reason))
                continue
            eligible.append(target)
        if not eligible:
            return report

        registry = self._registry_for(push.envelope.account, push.envelope.region)
        service_arns = [t.arn for t in eligible if t.kind is TargetKind.SERVICE]
        services = self._for_all(
            report, push, eligible, lambda: self._services.describe(service_arns) if service_arns else {}
        )
        if services is None:
            return report
        plans = [
            plan
            for target in eligible
            if (plan := self._guard(report, push, target, partial(self._prepare, push, registry, target, services)))
        ]
        if not plans:
            return report
        keys = [push.digest, *(p.deployed_key for p in plans if p.deployed_key)]
        facts = self._for_all(
            report, push, [p.target for p in plans], lambda: self._images.lookup(push.repository, keys)
        )
        if facts is None:
            return report
        for plan in plans:
            self._guard(report, push, plan.target, partial(self._execute, push, registry, plan, facts))
        return report

    # -- preparing: read the target, decide whether there is anything to do ---------------------

    def _prepare(self, push: ImagePush, registry: str, target: Target, services: dict[str, ServiceState]) -> _Plan:
        if target.kind is TargetKind.SERVICE:
            return self._prepare_service(push, registry, target, services.get(target.arn))
        return self._prepare_stack(push, registry, target)

    def _prepare_service(self, push: ImagePush, registry: str, target: Target, service: ServiceState | None) -> _Plan:
        if service is None:
            raise _Outcome(Status.SKIPPED, Reason.TARGET_GONE, "the service no longer exists")
        if service.deployment_controller != "ECS":
            raise MisconfiguredTarget(
                f"service {service.name} uses the {service.deployment_controller} deployment controller; "
                "only ECS rolling deployments can be started by UpdateService"
            )
        # The family's latest revision is, in the common case, the running one: one call. When it is
        # a clone an earlier attempt registered for this very digest, it is reused, not duplicated.
        latest = self._services.task_definition(service.family)
        source, reusable = latest, None
        if latest.arn != service.task_definition_arn:
            reusable = (
                latest
                if is_clone_of(latest.definition, latest.tags, service.task_definition_arn, push.digest)
                else None
            )
            source = self._services.task_definition(service.task_definition_arn)
        containers = select_containers(source.definition, registry, push.repository, target.containers)
        pinned = str(ImageReference(push.repository, registry, digest=push.digest))
        images = container_images(source.definition)
        if all(_runs_digest(images[c], registry, push.repository, push.digest) for c in containers):
            raise _Outcome(
                Status.SKIPPED,
                Reason.ALREADY_RUNNING,
                f"already running {push.digest}",
                task_definition_arn=source.arn,
                image=pinned,
            )
        previous = images[containers[0]]
        key, tags = _ecr_key(previous, registry, push.repository)
        changes = {
            "task_definition": source.arn,
            "containers": [
                {"container": c, "before": images[c], "after": pinned} for c in containers if images[c] != pinned
            ],
        }
        return _Plan(
            target,
            pinned,
            previous,
            key,
            tags,
            changes,
            service=service,
            source=source,
            reusable=reusable,
            containers=tuple(containers),
        )

    def _prepare_stack(self, push: ImagePush, registry: str, target: Target) -> _Plan:
        stack = self._stacks.describe(target.arn)
        if stack is None:
            raise _Outcome(Status.SKIPPED, Reason.TARGET_GONE, "the stack no longer exists")
        if stack.status.endswith("_IN_PROGRESS"):
            raise RetryableError(f"stack {stack.name} is busy ({stack.status})")
        if stack.status not in UPDATABLE_STACK_STATES:
            raise MisconfiguredTarget(
                f"stack {stack.name} is {stack.status} and cannot be updated until it is repaired"
            )
        parameter = target.parameter or ""
        if parameter not in stack.parameters:
            known = ", ".join(sorted(stack.parameters)) or "none"
            raise MisconfiguredTarget(f"stack {stack.name} has no parameter {parameter!r} (parameters: {known})")
        pinned = str(ImageReference(push.repository, registry, digest=push.digest))
        new_value = {
            ParameterValue.TAG: push.tag or "",
            ParameterValue.DIGEST: push.digest,
            ParameterValue.IMAGE: pinned,
        }[target.value]
        current = stack.parameters[parameter]
        if current == new_value:
            raise _Outcome(
                Status.SKIPPED,
                Reason.ALREADY_RUNNING,
                f"parameter {parameter} already is {new_value}",
                stack_id=stack.stack_id,
                image=pinned,
            )
        key: str | None
        tags: tuple[str, ...]
        if target.value is ParameterValue.TAG:
            key, tags = current or None, (current,)
        elif target.value is ParameterValue.DIGEST:
            key, tags = (current if is_valid_digest(current) else None), ()
        else:
            key, tags = _ecr_key(current, registry, push.repository)
        changes = {
            "parameter": parameter,
            "before": current,
            "after": new_value,
            "method": "UpdateStack with the previous template; every other parameter keeps its value",
        }
        return _Plan(target, new_value, current, key, tags, changes, stack=stack)

    # -- executing: judge by policy, then act or plan ----------------------------------------------

    def _execute(self, push: ImagePush, registry: str, plan: _Plan, facts: dict[str, ImageFacts]) -> _Outcome:
        pushed = facts.get(push.digest)
        if pushed is None:
            return _Outcome(Status.SKIPPED, Reason.IMAGE_GONE, f"the pushed image {push.digest} is no longer in ECR")
        verdict = judge_push(
            plan.target.tag_filter,
            push.tag or "",
            pushed,
            facts.get(plan.deployed_key) if plan.deployed_key else None,
            plan.deployed_tags,
        )
        pinned = str(ImageReference(push.repository, registry, digest=push.digest))
        common: dict[str, Any] = {"previous_image": plan.previous, "image": pinned, "plan": plan.changes}
        if not verdict.accepted:
            return _Outcome(Status.REJECTED, Reason.NOT_NEWER, verdict.reason, **common)
        if plan.target.mode is Mode.DRY_RUN:
            return _Outcome(Status.PLANNED, Reason.DRY_RUN, f"dry run: would deploy ({verdict.reason})", **common)
        if plan.service is not None and plan.source is not None:
            if plan.reusable is not None:
                new_arn = plan.reusable.arn
            else:
                images = dict.fromkeys(plan.containers, pinned)
                new_arn = self._services.register(
                    clone_with_images(plan.source.definition, plan.source.tags, images, push.digest).request
                )
            deployment_id = self._services.point_service_at(plan.service, new_arn)
            return _Outcome(
                Status.IN_PROGRESS,
                Reason.DEPLOYED,
                f"rollout started ({verdict.reason})",
                task_definition_arn=new_arn,
                deployment_id=deployment_id,
                **common,
            )
        assert plan.stack is not None and plan.target.parameter is not None
        token = re.sub(r"[^-a-zA-Z0-9]", "-", f"autodeploy-{push.event_id}")[:128]
        try:
            stack_id = self._stacks.update_parameter(plan.stack, plan.target.parameter, plan.new_value, token)
        except NoUpdateNeeded:
            return _Outcome(
                Status.SKIPPED,
                Reason.ALREADY_RUNNING,
                "CloudFormation found nothing to update",
                stack_id=plan.stack.stack_id,
                **common,
            )
        return _Outcome(
            Status.IN_PROGRESS, Reason.DEPLOYED, f"stack update started ({verdict.reason})", stack_id=stack_id, **common
        )

    # -- recording ----------------------------------------------------------------------------------

    def _guard(self, report: DeployReport, push: ImagePush, target: Target, step: Callable[[], Any]) -> Any:
        """Run one target's step; record the outcome it reached or the error it met.

        Returns the step's result when it is neither (a plan to carry on with), else None.
        """
        try:
            result = step()
        except _Outcome as outcome:
            result = outcome
        except RetryableError as exc:
            report.retryable.append(f"{target.arn}: {exc}")
            return None
        except TargetNotFound as exc:
            result = _Outcome(Status.SKIPPED, Reason.TARGET_GONE, str(exc))
        except PermanentError as exc:
            code = (
                Reason.MISCONFIGURED
                if isinstance(exc, (MisconfiguredTarget, InvalidImageReference))
                else Reason.REJECTED_BY_AWS
            )
            result = _Outcome(Status.FAILED, code, str(exc))
        if isinstance(result, _Outcome):
            self._decide(report, push, target, result)
            return None
        return result

    def _for_all(self, report: DeployReport, push: ImagePush, targets: list[Target], step: Callable[[], Any]) -> Any:
        """A step shared by many targets: a transient failure retries the push, a permanent one fails them all."""
        try:
            return step()
        except RetryableError as exc:
            report.retryable.append(f"{push.repository}: {exc}")
        except PermanentError as exc:
            for target in targets:
                self._decide(report, push, target, _Outcome(Status.FAILED, Reason.REJECTED_BY_AWS, str(exc)))
        return None

    def _decide(self, report: DeployReport, push: ImagePush, target: Target, outcome: _Outcome) -> None:
        record = replace(
            self._bare_record(push, target.arn, outcome.status, outcome.code, outcome.reason),
            target_kind=target.kind.value,
            target_name=target.name,
            mode=target.mode.value,
            **outcome.fields,
        )
        self._record(report, record)

    def _bare_record(self, push: ImagePush, arn: str, status: Status, code: Reason, reason: str) -> DeploymentRecord:
        kind = kind_of(arn)
        return DeploymentRecord(
            target=arn,
            target_kind=kind.value if kind else "unknown",
            target_name=resource_path(arn).rsplit("/", 1)[-1] if arn.count(":") >= 5 else arn,
            repository=push.repository,
            tag=push.tag,
            digest=push.digest,
            status=status,
            reason_code=code,
            reason=reason,
            event_id=push.event_id,
            pushed_at=push.envelope.time,
            recorded_at=self._clock(),
        )

    def _record(self, report: DeployReport, record: DeploymentRecord) -> None:
        try:
            first = self._ledger.record(record)
        except RetryableError as exc:
            report.retryable.append(f"{record.target}: {exc}")
            return
        report.recorded.append(Recorded(record, first))


def _runs_digest(image: str, registry: str, repository: str, digest: str) -> bool:
    try:
        ref = ImageReference.parse(image)
    except InvalidImageReference:
        return False
    return ref.digest == digest and ref.is_from(registry, repository)


def _ecr_key(image: str, registry: str, repository: str) -> tuple[str | None, tuple[str, ...]]:
    """How to look the deployed image up in the pushed repository, and the tag it names (if any)."""
    try:
        ref = ImageReference.parse(image)
    except InvalidImageReference:
        return None, ()
    if not ref.is_from(registry, repository):
        return None, ()
    tags = (ref.tag,) if ref.tag else ()
    return ref.digest or ref.tag or "latest", tags
