"""Use case: check every registered target before its first push (`autodeploy verify`).

Like ``ecspresso verify``: each target's registration tags, what the deployer will touch (the
service's containers and its task and execution roles, the stack's parameter and service role),
whether the running image is in ECR (else "never backwards" has nothing to compare with), and, for
services under scaling review, the alarms that drive their step policies. Each check is OK, WARN
(works, but not as well as it could) or FAIL (the deployer would record FAILED).
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from enum import StrEnum

from autodeploy.adapters.autoscaling import AutoScalingReader, resource_id
from autodeploy.adapters.cloudformation import CloudFormationStacks
from autodeploy.adapters.cloudwatch import CloudWatchReader
from autodeploy.adapters.discovery import TargetDiscovery
from autodeploy.adapters.ecr import EcrImages
from autodeploy.adapters.ecs import EcsServices, ServiceState
from autodeploy.adapters.iam import IamRoles
from autodeploy.deploy.prepare import UPDATABLE_STACK_STATES
from autodeploy.deployment_history import NO_CIRCUIT_BREAKER
from autodeploy.errors import AutodeployError, InvalidImageReference, MisconfiguredTarget
from autodeploy.image_reference import ImageReference
from autodeploy.registration import Target, TargetKind, display_name
from autodeploy.task_definition import container_images, select_containers

ECS_TASKS = "ecs-tasks.amazonaws.com"
SERVICE_DIMENSIONS = frozenset({"ClusterName", "ServiceName"})


class Outcome(StrEnum):
    OK = "OK"
    WARN = "WARN"
    FAIL = "FAIL"


@dataclass(frozen=True, slots=True)
class Check:
    subject: str
    outcome: Outcome
    detail: str


@dataclass(slots=True)
class TargetChecks:
    arn: str
    name: str
    checks: list[Check] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return any(c.outcome is Outcome.FAIL for c in self.checks)

    def add(self, subject: str, outcome: Outcome, detail: str) -> None:
        self.checks.append(Check(subject, outcome, detail))


class VerifyTargets:
    def __init__(
        self,
        discovery: TargetDiscovery,
        services: EcsServices,
        stacks: CloudFormationStacks,
        images: EcrImages,
        roles: IamRoles,
        autoscaling: AutoScalingReader,
        cloudwatch: CloudWatchReader,
        registry_for: Callable[[str, str], str],
        reviewed: Callable[[], Collection[str]],  # the ARNs of the services the scaling review covers
    ) -> None:
        self._discovery = discovery
        self._services = services
        self._stacks = stacks
        self._images = images
        self._roles = roles
        self._autoscaling = autoscaling
        self._cloudwatch = cloudwatch
        self._registry_for = registry_for
        self._reviewed = reviewed

    def run(self, only: str | None = None) -> list[TargetChecks]:
        found = self._discovery.find_all()
        results: list[TargetChecks] = []
        for arn, problem in found.misconfigured:
            if only in (None, arn):
                checks = TargetChecks(arn, display_name(arn))
                checks.add("tags", Outcome.FAIL, str(problem).removeprefix(f"{arn}: "))
                results.append(checks)
        targets = [t for t in found.targets if only in (None, t.arn)]
        services = self._services.describe(t.arn for t in targets if t.kind is TargetKind.SERVICE)
        reviewed = self._reviewed()
        for target in targets:
            checks = TargetChecks(target.arn, display_name(target.arn))
            checks.add(
                "tags", Outcome.OK, f"repository {target.repository}, tags {target.tag_filter}, mode {target.mode}"
            )
            try:
                if target.kind is TargetKind.SERVICE:
                    self._service(checks, target, services.get(target.arn))
                    if target.arn in reviewed:
                        self._alarms(checks, target)
                else:
                    self._stack(checks, target)
            except AutodeployError as exc:
                checks.add("read", Outcome.FAIL, str(exc))
            results.append(checks)
        return results

    def _service(self, checks: TargetChecks, target: Target, service: ServiceState | None) -> None:
        if service is None:
            checks.add("service", Outcome.FAIL, "the service does not exist or is not ACTIVE")
            return
        if service.deployment_controller != "ECS":
            checks.add(
                "service",
                Outcome.FAIL,
                f"deployment controller {service.deployment_controller!r}: only 'ECS' rolling deployments are started "
                "by UpdateService",
            )
            return
        checks.add("service", Outcome.OK, f"ACTIVE, running {service.task_definition_arn.rsplit('/', 1)[-1]}")
        if not service.circuit_breaker:
            checks.add("circuit breaker", Outcome.WARN, NO_CIRCUIT_BREAKER)
        elif not service.rollback_on_failure:
            checks.add(
                "circuit breaker", Outcome.WARN, "on without rollback: a failed rollout stays on the bad revision"
            )
        else:
            checks.add("circuit breaker", Outcome.OK, "on, with rollback")
        definition = self._services.task_definition(service.task_definition_arn).definition
        account, region = target.arn.split(":")[4], target.arn.split(":")[3]
        registry = self._registry_for(account, region)
        try:
            containers = select_containers(definition, registry, target.repository, target.containers)
        except MisconfiguredTarget as exc:
            checks.add("containers", Outcome.FAIL, str(exc))
            return
        checks.add("containers", Outcome.OK, ", ".join(containers))
        try:
            self._running_image(checks, target, container_images(definition)[containers[0]])
        except AutodeployError as exc:  # a missing repository, say: the other checks still run
            checks.add("running image", Outcome.FAIL, str(exc))
        for label, key in (("task role", "taskRoleArn"), ("execution role", "executionRoleArn")):
            role = definition.get(key)
            if role:
                self._role(checks, label, str(role), ECS_TASKS)

    def _running_image(self, checks: TargetChecks, target: Target, image: str) -> None:
        try:
            ref = ImageReference.parse(image)
        except InvalidImageReference as exc:
            checks.add("running image", Outcome.WARN, str(exc))
            return
        key = ref.digest or ref.tag or "latest"
        if self._images.lookup(target.repository, [key]).get(key) is None:
            checks.add(
                "running image",
                Outcome.WARN,
                f"{image!r} is not in ECR repository {target.repository}: the first push cannot be compared with it "
                "(it proceeds) and reconcile will not catch up",
            )
        else:
            checks.add("running image", Outcome.OK, f"{image} is in ECR")

    def _role(self, checks: TargetChecks, label: str, role_arn: str, service: str) -> None:
        trusted = self._roles.trusted_services(role_arn)
        if trusted is None:
            checks.add(label, Outcome.FAIL, f"{role_arn} does not exist")
        elif service not in trusted:
            allowed = ", ".join(sorted(trusted)) or "no service"
            checks.add(label, Outcome.FAIL, f"{role_arn} trusts {allowed}, not {service}")
        else:
            checks.add(label, Outcome.OK, f"{role_arn} trusts {service}")

    def _stack(self, checks: TargetChecks, target: Target) -> None:
        stack = self._stacks.describe(target.arn)
        if stack is None:
            checks.add("stack", Outcome.FAIL, "the stack does not exist")
            return
        if stack.status.endswith("_IN_PROGRESS"):
            checks.add("stack", Outcome.WARN, f"{stack.status}: a push now would wait for it (Lambda retries)")
        elif stack.status not in UPDATABLE_STACK_STATES:
            checks.add("stack", Outcome.FAIL, f"{stack.status}: it cannot be updated until it is repaired")
        else:
            checks.add("stack", Outcome.OK, stack.status)
        parameter = target.parameter or ""
        if parameter in stack.parameters:
            checks.add("parameter", Outcome.OK, f"{parameter} = {stack.parameters[parameter]!r}")
        else:
            known = ", ".join(sorted(stack.parameters)) or "none"
            checks.add("parameter", Outcome.FAIL, f"no parameter {parameter!r} (parameters: {known})")
        if stack.role_arn:
            self._role(checks, "service role", stack.role_arn, "cloudformation.amazonaws.com")
        else:
            checks.add(
                "service role",
                Outcome.WARN,
                "none: CloudFormation acts with the deployer's own permissions, which cover only a service "
                "stack's image change",
            )

    def _alarms(self, checks: TargetChecks, target: Target) -> None:
        rid = resource_id(target.arn)
        if rid not in self._autoscaling.scalable_targets([rid]):
            checks.add("scaling", Outcome.WARN, "no scalable target: the reviewer can only observe")
            return
        policies = self._autoscaling.policies([rid]).get(rid)
        arns = [p.arn for p in policies.views] if policies else []
        alarms = self._cloudwatch.alarms_acting_on(arns) if arns else []
        if not alarms:
            checks.add("alarms", Outcome.WARN, "no alarm invokes the service's step policies")
            return
        for alarm in alarms:
            dimensions = {d["Name"] for d in alarm.get("Dimensions", [])}
            missing = sorted(SERVICE_DIMENSIONS - dimensions)
            name = alarm["AlarmName"]
            if missing and alarm.get("Namespace") in ("AWS/ECS", "ECS/ContainerInsights"):
                present = ", ".join(sorted(dimensions)) or "none"
                checks.add(
                    f"alarm {name}",
                    Outcome.FAIL,
                    f"dimensions {present}: lacks {', '.join(missing)}, so it can never see the service's data",
                )
            else:
                checks.add(f"alarm {name}", Outcome.OK, f"{alarm.get('Namespace')} {alarm.get('MetricName')}")
