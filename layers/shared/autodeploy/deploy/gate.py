"""Step 2, gate: the release gates a target declares, asked in a fixed order: scan, bake (with
``after``), window, approval. The scan is asked first because its answer is final for the digest
everywhere, the approval last because it asks a person, who should only be asked about a push
that may otherwise go.

The first gate that is not open decides: REJECTED ends the push for that target with the gate's
reason (the findings' counts, the upstream alarm and when it fired, who denied it); WAITING
records the push ``WAITING`` with the gate, why and what reopens it, and makes it the target's
pending push, as a queued one is (a newer push supersedes it). Whatever reopens the gate (the
scan's completion, the upstream's success, a one-time schedule at the bake's end or the window's
opening, an approval) promotes the pending push, and promotion asks the gates again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from autodeploy.adapters.cloudwatch import CloudWatchReader
from autodeploy.adapters.discovery import TargetDiscovery
from autodeploy.adapters.ecr import EcrImages, Registry
from autodeploy.adapters.ecs import EcsServices
from autodeploy.adapters.ledger import Ledger, Queued
from autodeploy.adapters.scheduler import GateSchedules, schedule_name
from autodeploy.deploy.outcome import Decision, DeployOptions, DeployReport, Recorded
from autodeploy.deploy.recorder import Recorder
from autodeploy.errors import AutodeployError, RetryableError
from autodeploy.events import ImagePush
from autodeploy.gates.approval import Answer, ApprovalDecision, evaluate_approval
from autodeploy.gates.bake import AlarmTransition, evaluate_bake
from autodeploy.gates.scan import evaluate_scan
from autodeploy.gates.verdict import Gate, GateStatus, GateVerdict
from autodeploy.gates.window import evaluate_window
from autodeploy.records import DeploymentRecord, Reason, Status
from autodeploy.registration import Mode, Target, TargetKind
from autodeploy.rollout import PushRef

_log = logging.getLogger(__name__)

RELEASE_SOURCE = "autodeploy.gates"
RELEASE_DETAIL_TYPE = "Gate Release"
ALARMS_TAG = "autodeploy:alarms"
# An alarm already in ALARM when the bake began fails it: its last change before then is read too.
_ALARM_LOOKBACK = timedelta(days=1)
_UPSTREAM_HISTORY = 100  # records of the upstream searched for the digest's success


@dataclass(frozen=True, slots=True)
class GateSettings:
    scan_timeout: timedelta = timedelta(minutes=60)  # ScanTimeoutMinutes
    approval_timeout: timedelta = timedelta(hours=24)  # ApprovalTimeoutHours


def release_payload(target: str, sort_key: str, gate: str) -> dict[str, Any]:
    """What a one-time schedule sends the release function (events/gate-release.json)."""
    return {
        "source": RELEASE_SOURCE,
        "detail-type": RELEASE_DETAIL_TYPE,
        "target": target,
        "push": sort_key,
        "gate": gate,
    }


def target_label(target: Target) -> str:
    """How the CLI names the target: cluster/service, or the stack's name."""
    return f"{target.cluster}/{target.name}" if target.kind is TargetKind.SERVICE else target.name


class GateInputs:
    """What the gates judge by, read from AWS and the ledger."""

    def __init__(
        self,
        ledger: Ledger,
        images: EcrImages,
        discovery: TargetDiscovery,
        services: EcsServices,
        cloudwatch: CloudWatchReader,
    ) -> None:
        self._ledger = ledger
        self._images = images
        self._discovery = discovery
        self._services = services
        self._cloudwatch = cloudwatch

    def upstream(self, target: Target) -> str | None:
        """The registered target ``autodeploy:after`` names, by ARN; None when none is registered."""
        after = target.gates.after
        if after is None:
            return None
        if after.arn is not None:
            return after.arn
        found = self._discovery.find(target.repository).targets
        return next((t.arn for t in found if after.matches(t.arn)), None)

    def succeeded_at(self, upstream: str, digest: str) -> datetime | None:
        """When the digest's rollout SUCCEEDED on the upstream (its latest success), if it did."""
        for record in self._ledger.history(upstream, limit=_UPSTREAM_HISTORY):
            if record.digest == digest and record.status is Status.SUCCEEDED:
                return record.finished_at or record.recorded_at
        return None

    def alarm_history(self, upstream: str, start: datetime, end: datetime) -> list[AlarmTransition]:
        """The upstream's alarms' state changes: its deployment configuration's alarms (a service)
        and those its ``autodeploy:alarms`` tag names (space separated)."""
        names = set(self._discovery.tag_words(upstream, ALARMS_TAG))
        if ":ecs:" in upstream:
            service = self._services.describe([upstream]).get(upstream)
            if service is not None:
                names.update(service.alarms)
        return self._cloudwatch.alarm_history(names, start, end) if names else []

    def scan(self, push: ImagePush) -> Any:
        return self._images.scan_report(
            push.repository, push.digest, Registry(push.envelope.account, push.envelope.region)
        )

    def approval(self, target: str, digest: str, now: datetime) -> tuple[datetime, ApprovalDecision | None]:
        """When approval was first asked for (now, the first time), and the answer, if any."""
        request = self._ledger.request_approval(target, digest, now.isoformat())
        requested_at = datetime.fromisoformat(str(request["requested_at"]))
        if "answer" not in request:
            return requested_at, None
        answered = ApprovalDecision(
            Answer(str(request["answer"])),
            str(request["by"]),
            datetime.fromisoformat(str(request["answered_at"])),
            str(request.get("reason", "")),
        )
        return requested_at, answered


class ReleaseGates:
    def __init__(
        self,
        inputs: GateInputs,
        ledger: Ledger,
        recorder: Recorder,
        schedules: GateSchedules | None,
        settings: GateSettings,
        clock: Callable[[], datetime],
    ) -> None:
        self._inputs = inputs
        self._ledger = ledger
        self._recorder = recorder
        self._schedules = schedules
        self._settings = settings
        self._clock = clock

    def passing(
        self, report: DeployReport, push: ImagePush, targets: list[Target], options: DeployOptions
    ) -> list[Target]:
        """The targets whose gates are all open; the others' pushes are recorded WAITING or REJECTED."""
        if not options.enforce_policy:  # a rollback a person asked for: past every gate
            return list(targets)
        passing = []
        for target in targets:
            if not target.gates.declared:
                passing.append(target)
                continue
            ask = partial(self.first_closed, push, target, options)
            verdict: GateVerdict | None = self._recorder.guard(report, push, target, options, ask)
            if verdict is None:  # an error, recorded or to be retried
                continue
            if verdict.open:
                if options.gates_only:
                    self._queue_behind_rollout(report, push, target)
                else:
                    passing.append(target)
            elif verdict.status is GateStatus.REJECTED:
                rejected = Decision(
                    Status.REJECTED,
                    Reason.GATE_REJECTED,
                    f"{verdict.gate} gate: {verdict.reason}",
                    {"gate": verdict.gate.value},
                )
                self._recorder.decide(report, push, target, rejected, options)
            else:
                self._wait(report, push, target, verdict, options)
        return passing

    def first_closed(self, push: ImagePush, target: Target, options: DeployOptions) -> GateVerdict:
        """The first gate, in order, that is not open; else the last one asked (open)."""
        now = self._clock()
        verdict = GateVerdict.opened(Gate.SCAN, "no gate declared")
        for gate in target.gates.declared:
            verdict = self._ask(gate, push, target, options, now)
            if not verdict.open:
                return verdict
        return verdict

    def _ask(self, gate: Gate, push: ImagePush, target: Target, options: DeployOptions, now: datetime) -> GateVerdict:
        gates = target.gates
        if gate is Gate.SCAN:
            report = options.scan if options.scan is not None else self._inputs.scan(push)
            return evaluate_scan(gates.scan, report, push.envelope.time, now, self._settings.scan_timeout)
        if gate is Gate.BAKE:
            if options.promoted_by:
                return GateVerdict.opened(Gate.BAKE, f"promoted past the bake by {options.promoted_by}")
            return self._bake(push, target, now)
        if gate is Gate.WINDOW:
            return evaluate_window(gates.window, now)
        requested_at, decision = self._inputs.approval(target.arn, push.digest, now)
        return evaluate_approval(
            requested_at, decision, now, self._settings.approval_timeout, target_label(target), push.digest
        )

    def _bake(self, push: ImagePush, target: Target, now: datetime) -> GateVerdict:
        after = target.gates.after
        upstream = self._inputs.upstream(target)
        if upstream is None:
            return GateVerdict.waiting(
                Gate.BAKE,
                f"{after} is not a registered target for repository {target.repository}",
                reopened_by=f"registering {after} for {target.repository} and the digest succeeding there",
            )
        succeeded = self._inputs.succeeded_at(upstream, push.digest)
        bake = target.gates.bake_time
        history: list[AlarmTransition] = []
        # The alarms are read once the bake is over (at its end, by the schedule): one read per bake.
        if succeeded is not None and bake and now >= succeeded + bake:
            history = self._inputs.alarm_history(upstream, succeeded - _ALARM_LOOKBACK, succeeded + bake)
        return evaluate_bake(succeeded, bake, history, now, str(after))

    def _wait(
        self, report: DeployReport, push: ImagePush, target: Target, verdict: GateVerdict, options: DeployOptions
    ) -> None:
        fields = {"gate": verdict.gate.value, "reopened_by": verdict.reopened_by, "reopens_at": verdict.reopens_at}
        if target.mode is Mode.DRY_RUN:
            planned = Decision(
                Status.PLANNED, Reason.DRY_RUN, f"dry run: would wait at the {verdict.gate} gate: {verdict.reason}"
            )
            self._recorder.decide(report, push, target, planned, options)
            return
        record = self._recorder.record_of(
            push, target, Decision(Status.WAITING, Reason.GATE_WAITING, verdict.reason, fields)
        )
        try:
            if options.promoted:
                self._hold_pending(report, record)
            else:
                self._hold_new(report, push, record, options)
        except RetryableError as exc:
            report.retryable.append(f"{target.arn}: {exc}")

    def _hold_pending(self, report: DeployReport, record: DeploymentRecord) -> None:
        """The pending push, asked again, still waits: at the same gate till the same time (nothing new,
        nothing said), or somewhere else now (recorded, notified, scheduled)."""
        current = self._ledger.get(record.target, record.sort_key)
        same = (
            current is not None
            and current.status is Status.WAITING
            and (current.gate, current.reopens_at, current.reason) == (record.gate, record.reopens_at, record.reason)
        )
        if same and current is not None:
            report.recorded.append(Recorded(current, False))
            return
        if not self._ledger.hold(record):
            return  # no longer pending: superseded or decided meanwhile
        report.recorded.append(Recorded(record, True))
        self._schedule(record)

    def _hold_new(
        self, report: DeployReport, push: ImagePush, record: DeploymentRecord, options: DeployOptions
    ) -> None:
        queued = self._ledger.enqueue(record, PushRef.of(push, options.requested_by), held=True)
        if queued.outcome is Queued.QUEUED:
            superseded = self._ledger.get(record.target, queued.replaced) if queued.replaced else None
            if superseded is not None:
                report.recorded.append(Recorded(superseded, True))
            report.recorded.append(Recorded(record, True))
            self._schedule(record)
        elif queued.outcome is Queued.SUPERSEDED:
            newer = replace(
                record,
                status=Status.SUPERSEDED,
                reason_code=Reason.SUPERSEDED,
                reason="a newer push already waits for this target",
            )
            self._recorder.record(report, replace(newer, reopened_by=None, reopens_at=None))
        else:  # DUPLICATE: a redelivery
            report.recorded.append(Recorded(self._ledger.get(record.target, record.sort_key) or record, False))

    def _queue_behind_rollout(self, report: DeployReport, push: ImagePush, target: Target) -> None:
        """Every gate is open but a rollout is in flight: the pending push now only waits its turn."""
        record = self._recorder.record_of(
            push,
            target,
            Decision(Status.QUEUED, Reason.QUEUED, "every gate is open; waiting for the rollout in flight"),
        )
        if self._ledger.hold(record):
            report.recorded.append(Recorded(record, True))

    def _schedule(self, record: DeploymentRecord) -> None:
        """A wait that ends at a known time is looked at again then, whether or not an event comes.
        A schedule that cannot be made leaves the wait to reconcile (every round asks the gates again)."""
        if self._schedules is None or record.reopens_at is None or record.gate is None:
            return
        name = schedule_name(record.target, record.sort_key, record.reopens_at)
        try:
            self._schedules.release_at(
                record.reopens_at, name, release_payload(record.target, record.sort_key, record.gate)
            )
        except AutodeployError as exc:
            _log.warning(
                "could not schedule the gate's release; reconcile will look again",
                extra={"target": record.target, "gate": record.gate, "error": str(exc)},
            )
