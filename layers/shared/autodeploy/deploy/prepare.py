"""Step 4, prepare: read each target and work out what it would get, or why there is nothing to do.

A service gets a clone of its running task definition with the pushed digest pinned in the selected
containers (an earlier attempt's clone for this very digest is reused); a stack gets its image
parameter set. Each plan carries the facts the policy needs: which images of the pushed repository
the target runs now, and where.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from autodeploy.adapters.cloudformation import CloudFormationStacks, StackState
from autodeploy.adapters.ecs import EcsServices, ServiceState, TaskDefinition
from autodeploy.deploy.outcome import Decided
from autodeploy.deployment_history import NO_CIRCUIT_BREAKER
from autodeploy.errors import InvalidImageReference, MisconfiguredTarget, PermanentError, RetryableError
from autodeploy.events import ImagePush
from autodeploy.image_reference import ImageReference, is_valid_digest
from autodeploy.records import Reason, Status
from autodeploy.registration import ParameterValue, Target, TargetKind
from autodeploy.task_definition import container_images, is_clone_of, select_containers

UPDATABLE_STACK_STATES = frozenset(
    {"CREATE_COMPLETE", "UPDATE_COMPLETE", "UPDATE_ROLLBACK_COMPLETE", "IMPORT_COMPLETE", "IMPORT_ROLLBACK_COMPLETE"}
)


@dataclass(frozen=True, slots=True)
class Plan:
    """What one target would get, and the facts the policy needs."""

    target: Target
    new_value: str
    previous: str
    # Per deployed image from the pushed repository: who runs it, its ECR key, tags it names.
    deployed: tuple[tuple[str, str | None, tuple[str, ...]], ...]
    changes: dict[str, Any]
    service: ServiceState | None = None
    source: TaskDefinition | None = None
    reusable: TaskDefinition | None = None
    containers: tuple[str, ...] = ()
    stack: StackState | None = None
    findings: tuple[str, ...] = ()


class Preparation:
    def __init__(self, services: EcsServices, stacks: CloudFormationStacks) -> None:
        self._services = services
        self._stacks = stacks

    def plan(self, push: ImagePush, registry: str, target: Target, services: dict[str, ServiceState]) -> Plan:
        if target.kind is TargetKind.SERVICE:
            return self.service(push, registry, target, services.get(target.arn))
        return self.stack(push, registry, target)

    def service(self, push: ImagePush, registry: str, target: Target, service: ServiceState | None) -> Plan:
        if service is None:
            raise Decided(Status.SKIPPED, Reason.TARGET_GONE, "the service no longer exists")
        if service.deployment_controller != "ECS":
            raise MisconfiguredTarget(
                f"service {service.name} uses the {service.deployment_controller} deployment controller; "
                "only ECS rolling deployments can be started by UpdateService"
            )
        # The family's latest revision is, in the common case, the running one: one call. When it is
        # a clone an earlier attempt registered for this very digest, it is reused, not duplicated.
        # A running revision that was deregistered (or is being deleted) is read by its ARN, which
        # ECS allows while a service uses it; its family may then have no ACTIVE revision at all.
        latest: TaskDefinition | None
        try:
            latest = self._services.task_definition(service.family)
        except PermanentError:
            latest = None
        if latest is not None and latest.definition.get("status", "ACTIVE") != "ACTIVE":
            latest = None
        source, reusable = latest, None
        if latest is None or latest.arn != service.task_definition_arn:
            if latest is not None and is_clone_of(
                latest.definition, latest.tags, service.task_definition_arn, push.digest
            ):
                reusable = latest
            source = self._services.task_definition(service.task_definition_arn)
        assert source is not None
        containers = select_containers(source.definition, registry, push.repository, target.containers)
        pinned = str(ImageReference(push.repository, registry, digest=push.digest))
        images = container_images(source.definition)
        if all(_runs_digest(images[c], registry, push.repository, push.digest) for c in containers):
            raise Decided(
                Status.SKIPPED,
                Reason.ALREADY_RUNNING,
                f"already running {push.digest}",
                task_definition_arn=source.arn,
                image=pinned,
            )
        # "Never backwards" compares every selected container that runs an image of this repository.
        deployed = tuple(
            (f"container {c}", *_ecr_key(images[c], registry, push.repository))
            for c in containers
            if not _runs_digest(images[c], registry, push.repository, push.digest)
        )
        previous = images[containers[0]]
        changes = {
            "task_definition": source.arn,
            "containers": [
                {"container": c, "before": images[c], "after": pinned} for c in containers if images[c] != pinned
            ],
        }
        return Plan(
            target,
            pinned,
            previous,
            tuple(d for d in deployed if d[1] is not None),
            changes,
            service=service,
            source=source,
            reusable=reusable,
            containers=tuple(containers),
            findings=() if service.circuit_breaker else (NO_CIRCUIT_BREAKER,),
        )

    def stack(self, push: ImagePush, registry: str, target: Target) -> Plan:
        stack = self._stacks.describe(target.arn)
        if stack is None:
            raise Decided(Status.SKIPPED, Reason.TARGET_GONE, "the stack no longer exists")
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
            raise Decided(
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
        return Plan(target, new_value, current, ((f"parameter {parameter}", key, tags),), changes, stack=stack)


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
