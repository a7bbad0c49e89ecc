"""Use case: deploy one image push to the targets registered for its repository.

Per target, in order: is the tag deployable at all, is the target already running the digest,
does the policy accept it (never backwards), then act (or only plan, in dry-run) and record.
Acting takes the target's rollout lock first: when another rollout is in flight, the push waits
as the target's pending image instead (a newer one replaces it). One target's failure never
stops the others; transient failures are raised at the end so that Lambda retries the event, and
the retry finds the finished targets already done.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from functools import partial
from typing import Any

from autodeploy.adapters.cloudformation import CloudFormationStacks, NoUpdateNeeded, StackState
from autodeploy.adapters.discovery import TargetDiscovery
from autodeploy.adapters.ecr import EcrImages, Registry
from autodeploy.adapters.ecs import EcsServices, ServiceState, Started, TaskDefinition
from autodeploy.adapters.ecs_model import task_definition_model
from autodeploy.adapters.ledger import Claim, Ledger, Queued
from autodeploy.deployment_history import NO_CIRCUIT_BREAKER
from autodeploy.errors import (
    AutodeployError,
    InvalidImageReference,
    MisconfiguredTarget,
    PermanentError,
    RetryableError,
    TargetNotFound,
)
from autodeploy.events import ImagePush
from autodeploy.image_reference import ImageReference, is_valid_digest
from autodeploy.notifications import NOTIFIED, Notifier, notification_for
from autodeploy.policy import Deployed, ImageFacts, judge_push_against, tag_matches
from autodeploy.records import DeploymentRecord, Reason, Status
from autodeploy.registration import Mode, ParameterValue, Target, TargetKind, kind_of, resource_path
from autodeploy.rollout import InFlight, PushRef
from autodeploy.task_definition import clone_with_images, container_images, is_clone_of, select_containers

UPDATABLE_STACK_STATES = frozenset(
    {"CREATE_COMPLETE", "UPDATE_COMPLETE", "UPDATE_ROLLBACK_COMPLETE", "IMPORT_COMPLETE", "IMPORT_ROLLBACK_COMPLETE"}
)
_CLAIM_ATTEMPTS = 4
# The domain does not build the functions' Powertools logger (it reads POWERTOOLS_* when built).
_log = logging.getLogger(__name__)
# Decisions reconcile does not record: it asks every 15 minutes, and "nothing to do" is not news.
_NOOPS = frozenset({Reason.ALREADY_RUNNING, Reason.UNKNOWN_DEPLOYED, Reason.NOT_NEWER, Reason.TAG_FILTER})


@dataclass(frozen=True, slots=True)
class DeployOptions:
    """How a push is deployed. The defaults are those of a push arriving from ECR."""

    enforce_policy: bool = True  # False for a rollback a person asked for
    record_noops: bool = True  # False for reconcile: "already running" every 15 minutes is noise
    promoted: bool = False  # the push was the target's pending one, recorded QUEUED already
    resuming: bool = False  # the push holds the target's lock already (reconcile finishing a rollout)
    reason_prefix: str = ""
    require_known_deployed: bool = False  # reconcile: never act when the running image is not in ECR
    requested_by: str | None = None  # a rollback: remembered with the push if it has to wait

    @classmethod
    def rollback(cls, requested_by: str, promoted: bool = False) -> DeployOptions:
        """A rollback a person asked for: past the tag filter and "never backwards", now or when its turn comes."""
        return cls(
            enforce_policy=False,
            promoted=promoted,
            reason_prefix=f"rollback requested by {requested_by}: ",
            requested_by=requested_by,
        )


@dataclass(frozen=True, slots=True)
class Recorded:
    record: DeploymentRecord
    first_time: bool  # False: this push was already recorded for the target (a redelivery)


@dataclass(slots=True)
class DeployReport:
    push: ImagePush
    recorded: list[Recorded] = field(default_factory=list)
    retryable: list[str] = field(default_factory=list)
    ignored: str | None = None  # why the push concerned no target at all (counted, not recorded)

    def summary(self) -> dict[str, Any]:
        return {
            **({"ignored": self.ignored} if self.ignored else {}),
            "event_id": self.push.event_id,
            "repository": self.push.repository,
            "tag": self.push.tag,
            "digest": self.push.digest,
            "targets": [_summary_of(r) for r in self.recorded],
            "retrying": self.retryable,
        }

    def merge(self, other: DeployReport) -> None:
        self.recorded.extend(other.recorded)
        self.retryable.extend(other.retryable)


def _summary_of(recorded: Recorded) -> dict[str, Any]:
    """One target's outcome; a redelivered event says so and quotes what was recorded the first time."""
    record = recorded.record
    if recorded.first_time:
        return {"target": record.target, "tag": record.tag, "status": record.status.value, "reason": record.reason}
    return {
        "target": record.target,
        "tag": record.tag,
        "status": Status.SKIPPED.value,
        "reason": f"duplicate delivery: already recorded {record.status.value} ({record.reason})",
        "recorded_status": record.status.value,
        "duplicate": True,
    }


@dataclass(frozen=True, slots=True)
class _Plan:
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


@dataclass(frozen=True, slots=True)
class _Decision:
    """A target's outcome. ``recorded``: the ledger already has it (written with the lock)."""

    status: Status
    code: Reason
    reason: str
    fields: dict[str, Any] = field(default_factory=dict)
    recorded: bool = False
    first_time: bool = True


class _Decided(Exception):
    """Internal: a target's decision reached before acting (skip, reject, fail)."""

    def __init__(self, status: Status, code: Reason, reason: str, **fields: Any) -> None:
        super().__init__(reason)
        self.decision = _Decision(status, code, reason, fields)


class DeployOnPush:
    def __init__(
        self,
        discovery: TargetDiscovery,
        services: EcsServices,
        stacks: CloudFormationStacks,
        images: EcrImages,
        ledger: Ledger,
        notifier: Notifier,
        registry_for: Callable[[str, str], str],
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._discovery = discovery
        self._services = services
        self._stacks = stacks
        self._images = images
        self._ledger = ledger
        self._notifier = notifier
        self._registry_for = registry_for
        self._clock = clock

    @property
    def ledger(self) -> Ledger:
        return self._ledger

    @property
    def discovery(self) -> TargetDiscovery:
        return self._discovery

    @property
    def images(self) -> EcrImages:
        return self._images

    def handle(self, push: ImagePush) -> DeployReport:
        """A push from ECR: every target registered for its repository.

        A push without a tag is not deployable anywhere: a multi-architecture push sends one such
        event per child manifest (and one with the tag for the index), so it is counted by the
        handler rather than recorded SKIPPED for every target each time.
        """
        report = DeployReport(push)
        if push.tag is None:
            report.ignored = "a push by digest alone (a child manifest of a multi-architecture image) deploys nothing"
            return report
        found = self._discovery.find(push.repository)
        for arn, problem in found.misconfigured:
            self._record(report, self._bare_record(push, arn, Status.FAILED, Reason.MISCONFIGURED, str(problem)))
        report.merge(self.deploy(push, found.targets))
        return report

    def promote_pending(self, target: Target) -> DeployReport | None:
        """Deploy the target's pending push, now that its rollout in flight has ended."""
        state = self._ledger.state(target.arn)
        pending = state.pending
        if pending is None or state.in_flight is not None:
            return None
        if str(state.last_succeeded.get("sk", "")) > pending.sort_key:
            # A push newer than this one already succeeded (ECR push times are only to the second).
            push = pending.to_push()
            report = DeployReport(push)
            decision = _Decision(Status.SUPERSEDED, Reason.SUPERSEDED, "a newer push was deployed while it waited")
            self._decide(report, push, target, decision, DeployOptions(promoted=True))
            return report
        if pending.requested_by:  # a person asked for this rollback: its turn has come, the policy stays out
            return self.deploy(pending.to_push(), [target], DeployOptions.rollback(pending.requested_by, promoted=True))
        return self.deploy(pending.to_push(), [target], DeployOptions(promoted=True))

    def deploy(self, push: ImagePush, targets: list[Target], options: DeployOptions = DeployOptions()) -> DeployReport:
        report = DeployReport(push)
        eligible = []
        for target in targets:
            if not options.enforce_policy:  # a rollback: the image was chosen by a person, not by its tag
                eligible.append(target)
                continue
            if push.tag is None:
                decision = _Decision(Status.SKIPPED, Reason.NO_TAG, "a push without an image tag is not deployable")
                self._decide(report, push, target, decision, options)
                continue
            matched = tag_matches(target.tag_filter, push.tag)
            if not matched.accepted:
                self._decide(
                    report, push, target, _Decision(Status.SKIPPED, Reason.TAG_FILTER, matched.reason), options
                )
                continue
            eligible.append(target)
        if eligible:
            self._deploy_eligible(report, push, eligible, options)
        self._notifier.publish(
            [notification_for(r.record) for r in report.recorded if r.first_time and r.record.status in NOTIFIED]
        )
        return report

    def _deploy_eligible(
        self, report: DeployReport, push: ImagePush, eligible: list[Target], options: DeployOptions
    ) -> None:
        registry = self._registry_for(push.envelope.account, push.envelope.region)
        if not (options.promoted or options.resuming):
            eligible = self._queue_behind_rollouts(report, push, registry, eligible, options)
            if not eligible:
                return
        service_arns = [t.arn for t in eligible if t.kind is TargetKind.SERVICE]
        services = self._for_all(
            report, push, eligible, options, lambda: self._services.describe(service_arns) if service_arns else {}
        )
        if services is None:
            return
        plans = [
            plan
            for target in eligible
            if (
                plan := self._guard(
                    report, push, target, options, partial(self._prepare, push, registry, target, services)
                )
            )
        ]
        if not plans:
            return
        keys = [push.digest, *(key for p in plans for _, key, _ in p.deployed if key)]
        origin = Registry(push.envelope.account, push.envelope.region)  # where the push happened
        facts = self._for_all(
            report, push, [p.target for p in plans], options, lambda: self._images.lookup(push.repository, keys, origin)
        )
        if facts is None:
            return
        for plan in plans:
            self._guard(
                report, push, plan.target, options, partial(self._execute, report, push, registry, plan, facts, options)
            )

    def _queue_behind_rollouts(
        self, report: DeployReport, push: ImagePush, registry: str, targets: list[Target], options: DeployOptions
    ) -> list[Target]:
        """Queue the push at once where a rollout is in flight; return the targets that are free.

        One BatchGetItem spares a burst of pushes every per-target read: the policy judges a
        waiting push when it is promoted, against what is deployed then.
        """
        applying = [t for t in targets if t.mode is Mode.APPLY]
        if not applying:
            return targets
        states = self._for_all(
            report, push, applying, DeployOptions(), lambda: self._ledger.states(t.arn for t in applying)
        )
        if states is None:
            return []
        pinned = str(ImageReference(push.repository, registry, digest=push.digest))
        ref = PushRef.of(push, options.requested_by)
        waiting = options.reason_prefix + "waiting for the rollout in flight"
        free = []
        for target in targets:
            state = states.get(target.arn)
            if state is None or state.in_flight is None or state.in_flight.sort_key == ref.sort_key:
                free.append(target)
                continue
            flying = state.in_flight.push
            if flying.digest == push.digest:
                rolling = _Decision(Status.SKIPPED, Reason.ALREADY_RUNNING, f"already rolling out {push.digest}")
                self._decide(report, push, target, rolling, DeployOptions())
                continue
            if ref.sort_key < state.in_flight.sort_key:
                newer = f"the newer push {flying.tag or flying.digest} is rolling out"
                self._decide(
                    report, push, target, _Decision(Status.SUPERSEDED, Reason.SUPERSEDED, newer), DeployOptions()
                )
                continue
            queued_record = self._record_of(
                push, target, _Decision(Status.QUEUED, Reason.QUEUED, waiting, {"image": pinned})
            )
            try:
                queued = self._ledger.enqueue(queued_record, ref)
            except RetryableError as exc:
                report.retryable.append(f"{target.arn}: {exc}")
                continue
            if queued.outcome is Queued.LOCK_FREE:
                free.append(target)  # the rollout in flight ended meanwhile: deploy now
                continue
            if queued.replaced:
                superseded = self._ledger.get(target.arn, queued.replaced)
                if superseded is not None:
                    report.recorded.append(Recorded(superseded, True))
            decision = {
                Queued.QUEUED: _Decision(Status.QUEUED, Reason.QUEUED, waiting, {"image": pinned}, recorded=True),
                Queued.SUPERSEDED: _Decision(
                    Status.SUPERSEDED,
                    Reason.SUPERSEDED,
                    "a newer push already waits for this target",
                    {"image": pinned},
                ),
                Queued.DUPLICATE: _Decision(
                    Status.QUEUED, Reason.QUEUED, "already waiting", {"image": pinned}, recorded=True, first_time=False
                ),
            }[queued.outcome]
            self._decide(report, push, target, decision, DeployOptions())
        return free

    # -- preparing: read the target, decide whether there is anything to do ---------------------

    def _prepare(self, push: ImagePush, registry: str, target: Target, services: dict[str, ServiceState]) -> _Plan:
        if target.kind is TargetKind.SERVICE:
            return self._prepare_service(push, registry, target, services.get(target.arn))
        return self._prepare_stack(push, registry, target)

    def _prepare_service(self, push: ImagePush, registry: str, target: Target, service: ServiceState | None) -> _Plan:
        if service is None:
            raise _Decided(Status.SKIPPED, Reason.TARGET_GONE, "the service no longer exists")
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
            raise _Decided(
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
        return _Plan(
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

    def _prepare_stack(self, push: ImagePush, registry: str, target: Target) -> _Plan:
        stack = self._stacks.describe(target.arn)
        if stack is None:
            raise _Decided(Status.SKIPPED, Reason.TARGET_GONE, "the stack no longer exists")
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
            raise _Decided(
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
        return _Plan(target, new_value, current, ((f"parameter {parameter}", key, tags),), changes, stack=stack)

    # -- executing: judge by policy, then act or plan ----------------------------------------------

    def _execute(
        self,
        report: DeployReport,
        push: ImagePush,
        registry: str,
        plan: _Plan,
        facts: dict[str, ImageFacts],
        options: DeployOptions,
    ) -> _Decision:
        pushed = facts.get(push.digest)
        if pushed is None:
            return _Decision(Status.SKIPPED, Reason.IMAGE_GONE, f"the pushed image {push.digest} is no longer in ECR")
        deployed = [Deployed(where, facts.get(key) if key else None, tags) for where, key, tags in plan.deployed]
        verdict = judge_push_against(plan.target.tag_filter, push.tag or "", pushed, deployed)
        pinned = str(ImageReference(push.repository, registry, digest=push.digest))
        common: dict[str, Any] = {"previous_image": plan.previous, "image": pinned, "plan": plan.changes}
        if plan.stack is not None:
            common["stack_id"] = plan.stack.stack_id
        if plan.findings:
            common["findings"] = plan.findings
        if options.require_known_deployed and not (deployed and all(d.facts is not None for d in deployed)):
            why = "the running image is not in ECR, so a catch-up deploy could go backwards"
            return _Decision(Status.SKIPPED, Reason.UNKNOWN_DEPLOYED, why, common)
        if options.enforce_policy and not verdict.accepted:
            status = Status.SUPERSEDED if options.promoted else Status.REJECTED
            code = Reason.SUPERSEDED if options.promoted else Reason.NOT_NEWER
            return _Decision(status, code, verdict.reason, common)
        why = options.reason_prefix + verdict.reason if options.enforce_policy else options.reason_prefix.rstrip(": ")
        if plan.target.mode is Mode.DRY_RUN:
            return _Decision(Status.PLANNED, Reason.DRY_RUN, f"dry run: would deploy ({why})", common)
        return self._start_rollout(report, push, plan, options, why, common)

    def _start_rollout(
        self,
        report: DeployReport,
        push: ImagePush,
        plan: _Plan,
        options: DeployOptions,
        why: str,
        common: dict[str, Any],
    ) -> _Decision:
        target = plan.target
        token = re.sub(r"[^-a-zA-Z0-9]", "-", f"autodeploy-{push.event_id}")[:128]
        record = self._record_of(
            push, target, _Decision(Status.IN_PROGRESS, Reason.DEPLOYED, f"rollout started ({why})", common)
        )
        in_flight = InFlight(
            PushRef.of(push, options.requested_by),
            image=common["image"],
            started_at=record.recorded_at,
            previous_image=plan.previous,
            token=token if target.kind is TargetKind.STACK else None,
        )
        claimed = self._claim(report, record, in_flight, options, common)
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

    def _claim(
        self,
        report: DeployReport,
        record: DeploymentRecord,
        in_flight: InFlight,
        options: DeployOptions,
        common: dict[str, Any],
    ) -> _Decision | None:
        """Take the target's rollout lock (None), or queue behind the rollout in flight (a decision)."""
        if options.resuming:
            return None
        for _ in range(_CLAIM_ATTEMPTS):
            claim = self._ledger.begin(record, in_flight, promoted=options.promoted)
            if claim is Claim.STARTED:
                return None
            if claim is Claim.DUPLICATE:
                state = self._ledger.state(record.target)
                if state.in_flight is not None and state.in_flight.sort_key == record.sort_key:
                    return None  # an earlier attempt of this push took the lock, then died: finish it
                stored = self._ledger.get(record.target, record.sort_key) or record  # report what was recorded
                return _Decision(
                    stored.status, stored.reason_code, stored.reason, common, recorded=True, first_time=False
                )
            if options.promoted:  # another push took the lock first; this one stays pending
                return _Decision(Status.QUEUED, Reason.QUEUED, "still waiting", common, recorded=True, first_time=False)
            waiting = options.reason_prefix + "waiting for the rollout in flight"
            queued = self._ledger.enqueue(
                replace(record, status=Status.QUEUED, reason_code=Reason.QUEUED, reason=waiting), in_flight.push
            )
            if queued.outcome is Queued.QUEUED:
                superseded = self._ledger.get(record.target, queued.replaced) if queued.replaced else None
                if superseded is not None:
                    report.recorded.append(Recorded(superseded, True))
                return _Decision(Status.QUEUED, Reason.QUEUED, waiting, common, recorded=True)
            if queued.outcome is Queued.SUPERSEDED:
                return _Decision(
                    Status.SUPERSEDED, Reason.SUPERSEDED, "a newer push already waits for this target", common
                )
            if queued.outcome is Queued.DUPLICATE:
                return _Decision(
                    Status.QUEUED, Reason.QUEUED, "already waiting", common, recorded=True, first_time=False
                )
            # LOCK_FREE: the rollout in flight ended meanwhile; try to start again.
        raise RetryableError(f"could not take or queue for the rollout lock of {record.target_name}")

    def _act(self, push: ImagePush, plan: _Plan, common: dict[str, Any], token: str) -> _Decision:
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
            return _Decision(
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
            return _Decision(
                Status.SKIPPED,
                Reason.ALREADY_RUNNING,
                "CloudFormation found nothing to update",
                {"stack_id": plan.stack.stack_id},
            )
        return _Decision(Status.IN_PROGRESS, Reason.DEPLOYED, "", {**common, "stack_id": stack_id})

    def _keep_deployment(self, plan: _Plan, push: ImagePush, started: Started, task_definition_arn: str) -> None:
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
    ) -> _Decision:
        """The lock was taken but the rollout could not start: record why, free the lock, move on."""
        ended = replace(record, status=status, reason_code=code, reason=reason, finished_at=self._clock(), **fields)
        after = self._ledger.finish(ended)
        if after is not None and after.pending is not None:
            target = self._discovery.get(record.target)
            if target is not None:
                promoted = self.promote_pending(target)
                if promoted is not None:
                    report.merge(promoted)
        return _Decision(status, code, reason, fields, recorded=True)

    # -- recording ----------------------------------------------------------------------------------

    def _guard(
        self, report: DeployReport, push: ImagePush, target: Target, options: DeployOptions, step: Callable[[], Any]
    ) -> Any:
        """Run one target's step; record the decision it reached or the error it met.

        Returns the step's result when it is neither (a plan to carry on with), else None.
        """
        try:
            result = step()
        except _Decided as decided:
            result = decided.decision
        except RetryableError as exc:
            report.retryable.append(f"{target.arn}: {exc}")
            return None
        except TargetNotFound as exc:
            result = _Decision(Status.SKIPPED, Reason.TARGET_GONE, str(exc))
        except PermanentError as exc:
            misconfigured = isinstance(exc, (MisconfiguredTarget, InvalidImageReference))
            result = _Decision(
                Status.FAILED, Reason.MISCONFIGURED if misconfigured else Reason.REJECTED_BY_AWS, str(exc)
            )
        if isinstance(result, _Decision):
            self._decide(report, push, target, result, options)
            return None
        return result

    def _for_all(
        self,
        report: DeployReport,
        push: ImagePush,
        targets: list[Target],
        options: DeployOptions,
        step: Callable[[], Any],
    ) -> Any:
        """A step shared by many targets: a transient failure retries the push, a permanent one fails them all."""
        try:
            return step()
        except RetryableError as exc:
            report.retryable.append(f"{push.repository}: {exc}")
        except PermanentError as exc:
            for target in targets:
                self._decide(report, push, target, _Decision(Status.FAILED, Reason.REJECTED_BY_AWS, str(exc)), options)
        return None

    def _decide(
        self, report: DeployReport, push: ImagePush, target: Target, decision: _Decision, options: DeployOptions
    ) -> None:
        record = self._record_of(push, target, decision)
        if decision.recorded:
            report.recorded.append(Recorded(record, decision.first_time))
        elif options.promoted:
            # The push was recorded QUEUED: its record moves on rather than being written anew.
            self._ledger.set_outcome(
                target.arn, record.sort_key, decision.status, decision.code, decision.reason, Status.QUEUED
            )
            self._ledger.release_pending(target.arn, record.sort_key)
            report.recorded.append(Recorded(record, True))
        elif options.record_noops or decision.code not in _NOOPS:
            self._record(report, record)

    def _record_of(self, push: ImagePush, target: Target, decision: _Decision) -> DeploymentRecord:
        return replace(
            self._bare_record(push, target.arn, decision.status, decision.code, decision.reason),
            target_kind=target.kind.value,
            target_name=target.name,
            mode=target.mode.value,
            **decision.fields,
        )

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
            if not first:  # a redelivery: report what the ledger holds, not what this delivery would have done
                record = self._ledger.get(record.target, record.sort_key) or record
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
