"""Use case: release the pushes waiting at a release gate when the event that opens it comes.

- a scan completed (ECR's ``ECR Image Scan``, Inspector's ``Inspector2 Scan``): every target whose
  pending push is that image asks its gates again, with the scan the event reported (when it
  reports no counts, the scan gate reads the findings with DescribeImageScanFindings);
- a one-time schedule fired (the bake's end, the window's opening, a scan's or an approval's
  deadline): the push it names, if it still waits, asks its gates again;
- a rollout SUCCEEDED (the tracker calls ``downstream_of``): every target declaring
  ``autodeploy:after`` it asks its gates for that digest: at once when it has no bake, else the
  bake gate holds the push and schedules its end.

Releasing is promoting the target's pending push (``DeployOnPush.promote_pending``): a gate that
is still closed keeps it waiting, a rollout in flight keeps it queued. Reconcile does the same for
every idle target with a pending push, so a missed event delays a release by one round at most.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from autodeploy.deploy import DeployOnPush, DeployReport
from autodeploy.deploy.gate import RELEASE_DETAIL_TYPE, RELEASE_SOURCE
from autodeploy.errors import InvalidEvent
from autodeploy.events import ImageScanCompleted
from autodeploy.gates.scan import ScanReport
from autodeploy.gates.verdict import Gate
from autodeploy.records import PUSH_PREFIX, DeploymentRecord
from autodeploy.registration import Target, kind_of


@dataclass(frozen=True, slots=True)
class GateRelease:
    """What a one-time schedule sends (events/gate-release.json): the target, its waiting push, the gate."""

    target: str
    push: str  # the push's sort key in the ledger
    gate: Gate

    @classmethod
    def from_event(cls, event: object) -> GateRelease:
        if not isinstance(event, Mapping):
            raise InvalidEvent("a gate release is a JSON object")
        if (event.get("source"), event.get("detail-type")) != (RELEASE_SOURCE, RELEASE_DETAIL_TYPE):
            raise InvalidEvent(
                f"not a gate release: expected source {RELEASE_SOURCE!r}, detail-type {RELEASE_DETAIL_TYPE!r}"
            )
        target, push, gate = event.get("target"), event.get("push"), event.get("gate")
        if not isinstance(target, str) or kind_of(target) is None:
            raise InvalidEvent(f"target {str(target)[:80]!r} is not a service or stack ARN")
        if not isinstance(push, str) or not push.startswith(PUSH_PREFIX) or len(push) > 300:
            raise InvalidEvent(f"push {str(push)[:80]!r} is not a ledger push key ({PUSH_PREFIX}...)")
        if gate not in {g.value for g in Gate}:
            raise InvalidEvent(f"gate {str(gate)[:40]!r} is not one of {', '.join(g.value for g in Gate)}")
        return cls(target, push, Gate(str(gate)))


@dataclass(slots=True)
class ReleaseReport:
    released: list[DeployReport] = field(default_factory=list)
    notes: list[dict[str, str]] = field(default_factory=list)

    def note(self, target: str, why: str) -> None:
        self.notes.append({"target": target, "note": why})

    @property
    def retryable(self) -> list[str]:
        return [problem for report in self.released for problem in report.retryable]

    def summary(self) -> dict[str, Any]:
        return {
            "released": [t for report in self.released for t in report.summary()["targets"]],
            "notes": self.notes,
            "retrying": self.retryable,
        }


class ReleaseWaiting:
    def __init__(self, deployer: DeployOnPush) -> None:
        self._deployer = deployer
        self._ledger = deployer.ledger

    def on_scan(self, scan: ImageScanCompleted) -> ReleaseReport:
        report = ReleaseReport()
        # finding-severity-counts lists only severities with findings: none listed may be a clean
        # image or an event that carries no counts, so the findings are read then.
        known = ScanReport(scan.status, scan.counts) if scan.counts else None
        for target in self._deployer.discovery.find(scan.repository).targets:
            pending = self._ledger.state(target.arn).pending
            if pending is None or pending.digest != scan.digest or pending.account != scan.registry:
                continue
            self._promote(report, target, known)
        if not report.released:
            report.note(scan.repository, f"no target waits for {scan.digest}")
        return report

    def on_schedule(self, release: GateRelease) -> ReleaseReport:
        report = ReleaseReport()
        target = self._deployer.discovery.get(release.target)
        if target is None:
            report.note(release.target, "no longer a registered target")
            return report
        pending = self._ledger.state(target.arn).pending
        if pending is None or pending.sort_key != release.push:
            report.note(
                target.arn, f"the push no longer waits at the {release.gate} gate (released, superseded or decided)"
            )
            return report
        self._promote(report, target, None)
        return report

    def downstream_of(self, upstream: str, succeeded: DeploymentRecord, push_of: Any) -> ReleaseReport:
        """The digest SUCCEEDED on ``upstream``: the targets after it ask their gates for it.

        ``push_of``: the push that rolled out there (an ``ImagePush``), deployed where no push waits.
        """
        report = ReleaseReport()
        found = self._deployer.discovery.find(succeeded.repository).targets
        for target in found:
            after = target.gates.after
            if after is None or not after.matches(upstream):
                continue
            pending = self._ledger.state(target.arn).pending
            if pending is not None and pending.digest == succeeded.digest:
                self._promote(report, target, None)
            elif pending is None or pending.sort_key < succeeded.sort_key:
                report.released.append(self._deployer.deploy(push_of, [target]))
            else:
                report.note(target.arn, f"a newer push ({pending.tag or pending.digest}) waits there")
        return report

    def _promote(self, report: ReleaseReport, target: Target, scan: ScanReport | None) -> None:
        promoted = self._deployer.promote_pending(target, scan=scan)
        if promoted is not None:
            report.released.append(promoted)
