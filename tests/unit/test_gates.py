"""The scan, bake and approval gates: open, or why not, and what reopens them."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import botocore
import pytest

from autodeploy.gates import Gate, GateStatus, GateVerdict
from autodeploy.gates.approval import Answer, ApprovalDecision, evaluate_approval
from autodeploy.gates.bake import AlarmTransition, evaluate_bake, first_alarm_during
from autodeploy.gates.scan import (
    COMPLETE_STATUSES,
    FAILED_STATUSES,
    PENDING_STATUSES,
    ScanReport,
    ScanThreshold,
    Severity,
    evaluate_scan,
    severity_counts,
)

PUSHED = datetime(2026, 11, 26, 10, 15, tzinfo=UTC)
MINUTE = timedelta(minutes=1)
ECR_MODEL = Path(botocore.__file__).parent / "data" / "ecr" / "2015-09-21" / "service-2.json.gz"


def ecr_enum(shape: str) -> set[str]:
    return set(json.loads(gzip.decompress(ECR_MODEL.read_bytes()))["shapes"][shape]["enum"])


# --- scan ----------------------------------------------------------------------------------------


def test_every_ecr_scan_status_is_classified():
    """botocore's ecr model, ScanStatus: every value is complete, pending or failed here."""
    known = COMPLETE_STATUSES | PENDING_STATUSES | FAILED_STATUSES
    assert ecr_enum("ScanStatus") <= known
    assert not (COMPLETE_STATUSES & FAILED_STATUSES) and not (PENDING_STATUSES & FAILED_STATUSES)


def test_every_ecr_severity_is_a_severity():
    """botocore's ecr model, FindingSeverity; UNTRIAGED is Amazon Inspector's (its user guide)."""
    assert ecr_enum("FindingSeverity") | {"UNTRIAGED"} == {s.value for s in Severity}


def test_thresholds_block_at_or_above():
    assert ScanThreshold.OFF.blocking == ()
    assert ScanThreshold.CRITICAL.blocking == (Severity.CRITICAL,)
    assert ScanThreshold.HIGH.blocking == (Severity.CRITICAL, Severity.HIGH)
    assert ScanThreshold.MEDIUM.blocking == (Severity.CRITICAL, Severity.HIGH, Severity.MEDIUM)


def test_counts_leave_out_total_and_refuse_nonsense():
    assert severity_counts({"CRITICAL": 7, "HIGH": 61, "MEDIUM": 62, "TOTAL": 158}) == {
        Severity.CRITICAL: 7,
        Severity.HIGH: 61,
        Severity.MEDIUM: 62,
    }
    for bad in ({"HIGH": -1}, {"HIGH": "3"}, {"HIGH": True}):
        with pytest.raises(ValueError, match="not a non-negative integer"):
            severity_counts(bad)


def scan(threshold: ScanThreshold, report: ScanReport | None, after: timedelta = MINUTE) -> GateVerdict:
    return evaluate_scan(threshold, report, PUSHED, PUSHED + after, timedelta(minutes=30))


def test_off_never_waits():
    assert scan(ScanThreshold.OFF, None).open


def test_findings_at_or_above_the_threshold_reject_with_the_counts():
    report = ScanReport("COMPLETE", {Severity.CRITICAL: 2, Severity.HIGH: 4, Severity.LOW: 9})
    verdict = scan(ScanThreshold.HIGH, report)
    assert verdict.status is GateStatus.REJECTED
    assert verdict.reason == (
        "scan found CRITICAL 2, HIGH 4 (at or above high); all findings: CRITICAL 2, HIGH 4, LOW 9"
    )


def test_findings_below_the_threshold_open_and_are_shown():
    report = ScanReport("ACTIVE", {Severity.MEDIUM: 3, Severity.UNTRIAGED: 1})
    verdict = scan(ScanThreshold.HIGH, report)
    assert verdict.open and verdict.reason == "scan complete, nothing at or above high (MEDIUM 3, UNTRIAGED 1)"
    assert scan(ScanThreshold.CRITICAL, ScanReport("INITIAL_SCAN_COMPLETE", {})).open


def test_a_scan_that_ended_without_findings_rejects():
    verdict = scan(ScanThreshold.CRITICAL, ScanReport("UNSUPPORTED_IMAGE", description="UnsupportedImageError"))
    assert verdict.status is GateStatus.REJECTED
    assert "scan ended UNSUPPORTED_IMAGE: UnsupportedImageError" in verdict.reason


def test_no_scan_yet_waits_until_the_timeout_then_rejects():
    waiting = scan(ScanThreshold.CRITICAL, None)
    assert waiting.status is GateStatus.WAITING
    assert waiting.reopens_at == PUSHED + timedelta(minutes=30)
    assert "Inspector2 Scan" in waiting.reopened_by
    pending = scan(ScanThreshold.CRITICAL, ScanReport("IN_PROGRESS"), after=timedelta(minutes=29, seconds=59))
    assert pending.status is GateStatus.WAITING and "scan IN_PROGRESS" in pending.reason
    late = scan(ScanThreshold.CRITICAL, ScanReport("IN_PROGRESS"), after=timedelta(minutes=30))
    assert late.status is GateStatus.REJECTED
    assert late.reason == "no completed scan within 30 minutes of the push (scan IN_PROGRESS); refused, failing closed"


# --- bake ----------------------------------------------------------------------------------------

SUCCEEDED = datetime(2026, 11, 26, 11, 0, tzinfo=UTC)
BAKE = timedelta(hours=2)


def change(alarm: str, minutes: float, old: str, new: str) -> AlarmTransition:
    return AlarmTransition(alarm, SUCCEEDED + timedelta(minutes=minutes), old, new)


def test_a_history_item_as_describe_alarm_history_returns_it():
    """AWS CLI Command Reference, ``cloudwatch describe-alarm-history``, example output (boto3 gives
    Timestamp as an aware datetime)."""
    item = {
        "Timestamp": datetime(2014, 3, 11, 22, 45, 41, 569000, tzinfo=UTC),
        "HistoryItemType": "StateUpdate",
        "AlarmName": "myalarm",
        "HistoryData": json.dumps(
            {
                "version": "1.0",
                "oldState": {"stateValue": "OK", "stateReason": "Threshold Crossed: 2 datapoints were not greater"},
                "newState": {"stateValue": "ALARM", "stateReason": "testing purposes"},
            }
        ),
        "HistorySummary": "Alarm updated from OK to ALARM",
    }
    assert AlarmTransition.from_history_item(item) == AlarmTransition(
        "myalarm", datetime(2014, 3, 11, 22, 45, 41, 569000, tzinfo=UTC), "OK", "ALARM"
    )
    assert AlarmTransition.from_history_item({**item, "HistoryItemType": "ConfigurationUpdate"}) is None
    with pytest.raises(ValueError, match="no old and new state"):
        AlarmTransition.from_history_item({**item, "HistoryData": "{}"})


def test_not_yet_succeeded_upstream_waits_for_it():
    verdict = evaluate_bake(None, BAKE, [], SUCCEEDED, "staging/web")
    assert verdict.status is GateStatus.WAITING and verdict.reopens_at is None
    assert verdict.reopened_by == "the digest's rollout succeeding on staging/web"


def test_baking_waits_until_the_end():
    verdict = evaluate_bake(SUCCEEDED, BAKE, [change("cpu", -60, "ALARM", "OK")], SUCCEEDED + MINUTE, "staging/web")
    assert verdict.status is GateStatus.WAITING and verdict.reopens_at == SUCCEEDED + BAKE


def test_a_quiet_bake_opens_at_its_end():
    history = [change("cpu", -60, "ALARM", "OK"), change("cpu", 121, "OK", "ALARM")]  # after the bake: not counted
    verdict = evaluate_bake(SUCCEEDED, BAKE, history, SUCCEEDED + BAKE, "staging/web")
    assert verdict.open and verdict.reason == "baked 2h on staging/web with no alarm in ALARM"


def test_an_alarm_during_the_bake_rejects_with_its_name_and_time():
    history = [
        change("errors", 45, "OK", "ALARM"),
        change("errors", 50, "ALARM", "OK"),
        change("cpu", 90, "OK", "ALARM"),
    ]
    verdict = evaluate_bake(SUCCEEDED, BAKE, history, SUCCEEDED + timedelta(hours=3), "staging/web")
    assert verdict.status is GateStatus.REJECTED
    assert verdict.reason.startswith("upstream alarm errors was in ALARM at 2026-11-26T11:45:00Z, during the bake")


def test_an_alarm_already_firing_when_the_bake_began_rejects_at_once():
    history = [change("cpu", -5, "OK", "ALARM")]
    assert first_alarm_during(history, SUCCEEDED, SUCCEEDED + BAKE) == ("cpu", SUCCEEDED)
    verdict = evaluate_bake(SUCCEEDED, BAKE, history, SUCCEEDED + MINUTE, "staging/web")
    assert verdict.status is GateStatus.REJECTED


# --- approval ------------------------------------------------------------------------------------

ASKED = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
DAY = timedelta(hours=24)
ALICE = "arn:aws:iam::123456789012:user/alice"


def approval(decision: ApprovalDecision | None, after: timedelta) -> GateVerdict:
    return evaluate_approval(ASKED, decision, ASKED + after, DAY, "prod/web", "sha256:abc")


def test_pending_says_what_to_run():
    verdict = approval(None, timedelta(hours=1))
    assert verdict.gate is Gate.APPROVAL and verdict.status is GateStatus.WAITING
    assert verdict.reopened_by.startswith("autodeploy approve prod/web sha256:abc")
    assert verdict.reopens_at == ASKED + DAY


def test_approved_by_someone_opens():
    verdict = approval(ApprovalDecision(Answer.APPROVED, ALICE, ASKED + timedelta(hours=2)), timedelta(hours=3))
    assert verdict.open and verdict.reason == f"approved by {ALICE} at 2026-11-26T14:00:00Z"


def test_denied_with_a_reason_rejects():
    decision = ApprovalDecision(Answer.DENIED, ALICE, ASKED + MINUTE, "freeze before the launch")
    verdict = approval(decision, timedelta(hours=1))
    assert verdict.status is GateStatus.REJECTED
    assert verdict.reason == f"denied by {ALICE} at 2026-11-26T12:01:00Z: freeze before the launch"


def test_no_answer_in_time_expires_and_a_late_one_does_not_revive_it():
    assert "the request expired at 2026-11-27T12:00:00Z" in approval(None, DAY).reason
    late = ApprovalDecision(Answer.APPROVED, ALICE, ASKED + DAY + MINUTE)
    assert approval(late, DAY + 2 * MINUTE).status is GateStatus.REJECTED


def test_a_verdict_is_consistent():
    with pytest.raises(ValueError, match="says what reopens it"):
        GateVerdict(Gate.SCAN, GateStatus.WAITING, "waiting")
    with pytest.raises(ValueError, match="timezone-aware"):
        GateVerdict.waiting(Gate.BAKE, "baking", "the bake's end", datetime(2026, 11, 26, 12, 0))
    with pytest.raises(ValueError, match="names who"):
        ApprovalDecision(Answer.APPROVED, "", ASKED)
