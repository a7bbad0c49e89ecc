"""Use case: deploy one image push to the targets registered for its repository.

A push runs through named steps, each in its own module:

1. accept   (accept.py)   does the target take this tag at all (`autodeploy:tags`);
2. gate     (gate.py)     its release gates (scan, bake, window, approval): a push that waits is
                          the target's pending push, WAITING; a refused one is REJECTED;
3. queue    (queue.py)    a target whose rollout is in flight keeps the push as its pending one;
4. prepare  (prepare.py)  read the target: what it runs, what it would get, or nothing to do;
5. judge    (judge.py)    the policy: never backwards; dry-run targets only plan;
6. act      (act.py)      take the rollout lock, register and update (or update the stack), record.

A pending push is promoted (``promote_pending``) when the rollout in flight ends or when the event
that opens its gate arrives; promotion asks the gates again.

Between queue and prepare, dispatch (dispatch.py) keeps the free targets that fit one work message
and hands the rest to the rollout workers (the work queue), which run prepare -> judge -> act for
them (``deploy_handed_off``).

One target's failure never stops the others (recorder.py turns each step's errors into that
target's decision); transient failures are raised at the end so that Lambda retries the event,
and the retry finds the finished targets already done.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from functools import partial

from autodeploy.adapters.cloudformation import CloudFormationStacks
from autodeploy.adapters.cloudwatch import CloudWatchReader
from autodeploy.adapters.discovery import TargetDiscovery
from autodeploy.adapters.ecr import EcrImages, Registry
from autodeploy.adapters.ecs import EcsServices, ServiceState
from autodeploy.adapters.ledger import Ledger
from autodeploy.adapters.scheduler import GateSchedules
from autodeploy.deploy.accept import accept
from autodeploy.deploy.act import Rollouts
from autodeploy.deploy.dispatch import Dispatch
from autodeploy.deploy.gate import GateInputs, GateSettings, ReleaseGates
from autodeploy.deploy.judge import judge
from autodeploy.deploy.outcome import Decision, DeployOptions, DeployReport
from autodeploy.deploy.prepare import Plan, Preparation
from autodeploy.deploy.queue import RolloutQueue
from autodeploy.deploy.recorder import Recorder
from autodeploy.events import ImagePush
from autodeploy.gates.scan import ScanReport
from autodeploy.gates.verdict import Gate, GateVerdict
from autodeploy.notifications import NOTIFIED, Notification, Notifier, notification_for
from autodeploy.policy import ImageFacts
from autodeploy.records import DeploymentRecord, Reason, Status
from autodeploy.registration import Target, TargetKind
from autodeploy.rollout_news import waiting_at

# A push held at a gate is news too: the team learns what it waits for and what to run.
_NOTIFIED = NOTIFIED | {Status.WAITING}


def _is_news(record: DeploymentRecord) -> bool:
    """Rollouts and held pushes; a refusal only when a release gate made it (a vulnerable image, an alarm)."""
    return record.status in _NOTIFIED or record.reason_code is Reason.GATE_REJECTED


def _notification(record: DeploymentRecord) -> Notification:
    """A held push's notification carries its gate, what opens it and the steps a person can take."""
    if record.status is not Status.WAITING or record.gate is None:
        return notification_for(record)
    held = GateVerdict.waiting(Gate(record.gate), record.reason, record.reopened_by or "-", record.reopens_at)
    return notification_for(record, **waiting_at(held))


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
        cloudwatch: CloudWatchReader,
        schedules: GateSchedules | None = None,
        gate_settings: GateSettings | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        hand_off: Callable[[Sequence[str]], None] | None = None,
    ) -> None:
        self._discovery = discovery
        self._services = services
        self._images = images
        self._ledger = ledger
        self._notifier = notifier
        self._registry_for = registry_for
        self._recorder = Recorder(ledger, clock)
        self._queue = RolloutQueue(ledger, self._recorder)
        inputs = GateInputs(ledger, images, discovery, services, cloudwatch)
        self._gates = ReleaseGates(inputs, ledger, self._recorder, schedules, gate_settings or GateSettings(), clock)
        self._preparation = Preparation(services, stacks)
        self._dispatch = Dispatch(hand_off, self._recorder)
        self._rollouts = Rollouts(
            services, stacks, ledger, discovery, self._queue, self._recorder, self.promote_pending, clock
        )

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
            self._recorder.record(
                report, self._recorder.bare_record(push, arn, Status.FAILED, Reason.MISCONFIGURED, str(problem))
            )
        report.merge(self.deploy(push, found.targets))
        return report

    @property
    def gates(self) -> ReleaseGates:
        return self._gates

    def promote_pending(self, target: Target, scan: ScanReport | None = None) -> DeployReport | None:
        """Deploy the target's pending push, now that its rollout in flight has ended or the event
        that opens its gate came (``scan``: the scan its completion event reported). Its gates are
        asked again: one still closed keeps it pending. While a rollout is in flight, only the
        gates are asked (its turn comes when the rollout ends)."""
        state = self._ledger.state(target.arn)
        pending = state.pending
        if pending is None:
            return None
        if state.in_flight is not None:
            if not target.gates.declared or pending.requested_by:
                return None
            return self.deploy(pending.to_push(), [target], DeployOptions(promoted=True, gates_only=True, scan=scan))
        if str(state.last_succeeded.get("sk", "")) > pending.sort_key:
            # A push newer than this one already succeeded (ECR push times are only to the second).
            push = pending.to_push()
            report = DeployReport(push)
            decision = Decision(Status.SUPERSEDED, Reason.SUPERSEDED, "a newer push was deployed while it waited")
            self._recorder.decide(report, push, target, decision, DeployOptions(promoted=True))
            return report
        if pending.requested_by:  # a person asked for this rollback: its turn has come, the policy stays out
            return self.deploy(pending.to_push(), [target], DeployOptions.rollback(pending.requested_by, promoted=True))
        return self.deploy(pending.to_push(), [target], DeployOptions(promoted=True, scan=scan))

    def deploy(self, push: ImagePush, targets: list[Target], options: DeployOptions = DeployOptions()) -> DeployReport:
        report = DeployReport(push)
        accepted, refused = accept(push, targets, options)
        for target, decision in refused:
            self._recorder.decide(report, push, target, decision, options)
        passing = self._gates.passing(report, push, accepted, options)
        if passing:
            self._roll_out(report, push, passing, options)
        self._publish(report)
        return report

    def deploy_handed_off(
        self, push: ImagePush, targets: list[Target], keep_going: Callable[[], bool]
    ) -> tuple[DeployReport, list[Target]]:
        """A rollout worker's part of a push (queue ran where it arrived): prepare -> judge -> act.

        ``keep_going`` is asked before each target is acted on; the targets not acted on once it
        says no are returned, untouched, for another invocation.
        """
        report = DeployReport(push)
        left = self._roll_out(report, push, targets, DeployOptions(), keep_going, handed_off=True)
        self._publish(report)
        return report, left

    def _publish(self, report: DeployReport) -> None:
        self._notifier.publish(
            [_notification(r.record) for r in report.recorded if r.first_time and _is_news(r.record)]
        )

    def _roll_out(
        self,
        report: DeployReport,
        push: ImagePush,
        targets: list[Target],
        options: DeployOptions,
        keep_going: Callable[[], bool] = lambda: True,
        handed_off: bool = False,
    ) -> list[Target]:
        registry = self._registry_for(push.envelope.account, push.envelope.region)
        if not (options.promoted or options.resuming or handed_off):
            targets = self._queue.free_targets(report, push, registry, targets, options)
            targets = self._dispatch.hand_off(report, push, targets, options)
        plans = self._prepare(report, push, registry, targets, options)
        facts = self._image_facts(report, push, plans, options) if plans else None
        if facts is None:
            return []
        for done, plan in enumerate(plans):
            if not keep_going():
                return [p.target for p in plans[done:]]
            act = partial(self._judge_and_act, report, push, registry, plan, facts, options)
            self._recorder.guard(report, push, plan.target, options, act)
        return []

    def _prepare(
        self, report: DeployReport, push: ImagePush, registry: str, targets: list[Target], options: DeployOptions
    ) -> list[Plan]:
        """Every target's plan; the services are described in one call per ten."""
        if not targets:
            return []
        service_arns = [t.arn for t in targets if t.kind is TargetKind.SERVICE]
        services: dict[str, ServiceState] | None = self._recorder.for_all(
            report, push, targets, options, lambda: self._services.describe(service_arns) if service_arns else {}
        )
        if services is None:
            return []
        return [
            plan
            for target in targets
            if (
                plan := self._recorder.guard(
                    report, push, target, options, partial(self._preparation.plan, push, registry, target, services)
                )
            )
        ]

    def _image_facts(
        self, report: DeployReport, push: ImagePush, plans: list[Plan], options: DeployOptions
    ) -> dict[str, ImageFacts] | None:
        """The pushed image and every deployed one it is compared with, from the push's own registry."""
        keys = [push.digest, *(key for p in plans for _, key, _ in p.deployed if key)]
        origin = Registry(push.envelope.account, push.envelope.region)  # where the push happened
        facts: dict[str, ImageFacts] | None = self._recorder.for_all(
            report, push, [p.target for p in plans], options, lambda: self._images.lookup(push.repository, keys, origin)
        )
        return facts

    def _judge_and_act(
        self,
        report: DeployReport,
        push: ImagePush,
        registry: str,
        plan: Plan,
        facts: dict[str, ImageFacts],
        options: DeployOptions,
    ) -> Decision:
        verdict = judge(push, registry, plan, facts, options)
        if isinstance(verdict, Decision):
            return verdict
        return self._rollouts.start(report, push, plan, options, verdict.why, verdict.common)
