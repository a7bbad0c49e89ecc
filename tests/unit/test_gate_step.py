"""The deploy pipeline's gate step: which gate decides, in which order, and what it reads.

Pure: the gate step's inputs are a fake that records what was asked, so each test also shows
that a gate after the deciding one is never asked (the approval request is never opened for a
push the scan refuses).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from autodeploy.deploy.gate import GateSettings, ReleaseGates, release_payload, target_label
from autodeploy.deploy.outcome import DeployOptions
from autodeploy.events import ECR_DETAIL_TYPE, ECR_SOURCE, EventEnvelope, ImagePush
from autodeploy.gates.approval import Answer, ApprovalDecision
from autodeploy.gates.bake import AlarmTransition
from autodeploy.gates.scan import ScanReport, Severity
from autodeploy.gates.verdict import Gate, GateStatus
from autodeploy.registration import Target, parse_target

NOW = datetime(2026, 3, 4, 10, 0, tzinfo=UTC)  # a Wednesday
DIGEST = "sha256:" + "a" * 64
PROD = "arn:aws:ecs:us-east-1:123456789012:service/main/prod"
STAGING = "arn:aws:ecs:us-east-1:123456789012:service/main/staging"


def target(**gates: str) -> Target:
    return parse_target(PROD, {"autodeploy:repository": "web", **{f"autodeploy:{k}": v for k, v in gates.items()}})


def push(pushed_at: datetime = NOW - timedelta(minutes=5)) -> ImagePush:
    envelope = EventEnvelope("event-1", ECR_SOURCE, ECR_DETAIL_TYPE, "123456789012", "us-east-1", pushed_at)
    return ImagePush(envelope, "web", DIGEST, "v1")


class FakeInputs:
    def __init__(
        self,
        scan: ScanReport | None = None,
        upstream: str | None = STAGING,
        succeeded: datetime | None = None,
        history: list[AlarmTransition] | None = None,
        approval: ApprovalDecision | None = None,
    ) -> None:
        self._scan, self._upstream, self._succeeded = scan, upstream, succeeded
        self._history, self._approval = history or [], approval
        self.asked: list[str] = []

    def scan(self, push: ImagePush) -> ScanReport | None:
        self.asked.append("scan")
        return self._scan

    def upstream(self, target: Target) -> str | None:
        self.asked.append("upstream")
        return self._upstream

    def succeeded_at(self, upstream: str, digest: str) -> datetime | None:
        self.asked.append("succeeded_at")
        return self._succeeded

    def alarm_history(self, upstream: str, start: datetime, end: datetime) -> list[AlarmTransition]:
        self.asked.append(f"alarm_history {start:%H:%M}-{end:%H:%M}")
        return self._history

    def approval(self, target: str, digest: str, now: datetime) -> tuple[datetime, ApprovalDecision | None]:
        self.asked.append("approval")
        return NOW - timedelta(hours=1), self._approval


def gates(inputs: FakeInputs) -> ReleaseGates:
    settings = GateSettings(scan_timeout=timedelta(minutes=30), approval_timeout=timedelta(hours=24))
    return ReleaseGates(inputs, None, None, None, settings, lambda: NOW)  # type: ignore[arg-type]


CLEAN = ScanReport("COMPLETE", {Severity.LOW: 2})
CRITICAL = ScanReport("COMPLETE", {Severity.CRITICAL: 1, Severity.HIGH: 3})


def test_a_target_without_gates_is_open_and_reads_nothing() -> None:
    inputs = FakeInputs()
    verdict = gates(inputs).first_closed(push(), target(), DeployOptions())
    assert verdict.open
    assert inputs.asked == []


def test_scan_findings_reject_before_any_other_gate_is_asked() -> None:
    inputs = FakeInputs(scan=CRITICAL, succeeded=NOW - timedelta(hours=3))
    chosen = target(scan="critical", after="main/staging", bake="1h", approval="required")
    verdict = gates(inputs).first_closed(push(), chosen, DeployOptions())
    assert verdict.status is GateStatus.REJECTED and verdict.gate is Gate.SCAN
    assert "CRITICAL 1" in verdict.reason
    assert inputs.asked == ["scan"]  # no approval request was opened for a refused image


def test_a_scan_still_running_waits_until_its_deadline_and_fails_closed_after() -> None:
    waiting = gates(FakeInputs(scan=ScanReport("IN_PROGRESS"))).first_closed(
        push(), target(scan="high"), DeployOptions()
    )
    assert waiting.status is GateStatus.WAITING
    assert waiting.reopens_at == NOW - timedelta(minutes=5) + timedelta(minutes=30)
    late = gates(FakeInputs(scan=None)).first_closed(
        push(NOW - timedelta(hours=1)), target(scan="high"), DeployOptions()
    )
    assert late.status is GateStatus.REJECTED
    assert "failing closed" in late.reason


def test_the_scan_an_event_reported_is_used_instead_of_reading_it() -> None:
    inputs = FakeInputs(scan=CRITICAL)
    verdict = gates(inputs).first_closed(push(), target(scan="critical"), DeployOptions(scan=CLEAN))
    assert verdict.open
    assert inputs.asked == []


def test_bake_waits_for_the_upstream_success_then_for_its_end_and_reads_alarms_once_at_the_end() -> None:
    chosen = target(after="main/staging", bake="2h")
    not_yet = FakeInputs(succeeded=None)
    verdict = gates(not_yet).first_closed(push(), chosen, DeployOptions())
    assert (verdict.status, verdict.gate, verdict.reopens_at) == (GateStatus.WAITING, Gate.BAKE, None)
    assert "main/staging" in verdict.reopened_by

    baking = FakeInputs(succeeded=NOW - timedelta(hours=1))
    verdict = gates(baking).first_closed(push(), chosen, DeployOptions())
    assert verdict.status is GateStatus.WAITING and verdict.reopens_at == NOW + timedelta(hours=1)
    assert not any(a.startswith("alarm_history") for a in baking.asked)

    baked = FakeInputs(succeeded=NOW - timedelta(hours=2))
    assert gates(baked).first_closed(push(), chosen, DeployOptions()).open
    # From a day before the success (an alarm already in ALARM then fails the bake) to the bake's end.
    assert baked.asked == ["upstream", "succeeded_at", "alarm_history 08:00-10:00"]


def test_an_upstream_alarm_during_the_bake_rejects_naming_it_and_when() -> None:
    fired = AlarmTransition("staging-5xx", NOW - timedelta(minutes=30), "OK", "ALARM")
    inputs = FakeInputs(succeeded=NOW - timedelta(hours=2), history=[fired])
    verdict = gates(inputs).first_closed(push(), target(after="main/staging", bake="2h"), DeployOptions())
    assert verdict.status is GateStatus.REJECTED
    assert "staging-5xx" in verdict.reason and "09:30:00Z" in verdict.reason


def test_after_without_bake_opens_on_the_upstream_success_without_reading_alarms() -> None:
    inputs = FakeInputs(succeeded=NOW - timedelta(seconds=1))
    assert gates(inputs).first_closed(push(), target(after="main/staging"), DeployOptions()).open
    assert inputs.asked == ["upstream", "succeeded_at"]


def test_an_upstream_that_is_not_registered_holds_the_push() -> None:
    verdict = gates(FakeInputs(upstream=None)).first_closed(push(), target(after="main/staging"), DeployOptions())
    assert verdict.status is GateStatus.WAITING and "not a registered target" in verdict.reason


def test_a_manual_promotion_passes_the_bake_but_not_the_other_gates() -> None:
    inputs = FakeInputs(scan=CLEAN, succeeded=None)
    chosen = target(scan="critical", after="main/staging", bake="2h", approval="required")
    verdict = gates(inputs).first_closed(push(), chosen, DeployOptions(promoted_by="arn:aws:iam::1:user/ana"))
    assert verdict.gate is Gate.APPROVAL and verdict.status is GateStatus.WAITING
    assert "succeeded_at" not in inputs.asked


def test_outside_the_window_waits_for_its_opening() -> None:
    verdict = gates(FakeInputs()).first_closed(push(), target(window="Mon-Fri 13:00-17:00 UTC"), DeployOptions())
    assert verdict.status is GateStatus.WAITING and verdict.gate is Gate.WINDOW
    assert verdict.reopens_at == datetime(2026, 3, 4, 13, 0, tzinfo=UTC)


def test_approval_waits_saying_what_to_run_and_opens_or_rejects_on_the_answer() -> None:
    chosen = target(approval="required")
    waiting = gates(FakeInputs()).first_closed(push(), chosen, DeployOptions())
    assert waiting.status is GateStatus.WAITING
    assert waiting.reopened_by.startswith(f"autodeploy approve main/prod {DIGEST}")
    approved = ApprovalDecision(Answer.APPROVED, "arn:aws:iam::1:user/ana", NOW - timedelta(minutes=1))
    assert gates(FakeInputs(approval=approved)).first_closed(push(), chosen, DeployOptions()).open
    denied = ApprovalDecision(Answer.DENIED, "arn:aws:iam::1:user/bo", NOW - timedelta(minutes=1), "CVE-2026-1")
    verdict = gates(FakeInputs(approval=denied)).first_closed(push(), chosen, DeployOptions())
    assert verdict.status is GateStatus.REJECTED and "CVE-2026-1" in verdict.reason


@pytest.mark.parametrize(
    ("tags", "asked"),
    [
        ({"window": "Mon-Fri 13:00-17:00 UTC", "approval": "required"}, ["window"]),
        ({"after": "main/staging", "window": "Mon-Fri 13:00-17:00 UTC"}, ["bake"]),
    ],
)
def test_the_first_closed_gate_in_order_decides(tags: dict[str, str], asked: list[str]) -> None:
    inputs = FakeInputs(succeeded=None)
    verdict = gates(inputs).first_closed(push(), target(**tags), DeployOptions())
    assert verdict.gate.value == asked[0]
    assert "approval" not in inputs.asked


def test_the_scheduled_release_names_the_target_push_and_gate() -> None:
    payload: dict[str, Any] = release_payload(PROD, "push#2026-03-04T09:55:00+00:00#event-1", "window")
    assert payload == {
        "source": "autodeploy.gates",
        "detail-type": "Gate Release",
        "target": PROD,
        "push": "push#2026-03-04T09:55:00+00:00#event-1",
        "gate": "window",
    }
    assert target_label(target()) == "main/prod"
