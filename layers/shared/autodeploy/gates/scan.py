"""The scan gate: wait for the image's vulnerability scan, refuse findings at or above a threshold.

Severities: ECR basic scanning reports CRITICAL, HIGH, MEDIUM, LOW, INFORMATIONAL and UNDEFINED
(botocore's ecr model, ``FindingSeverity``); Amazon Inspector (enhanced scanning) reports the same
but UNTRIAGED for UNDEFINED, and its ``Inspector2 Scan`` event counts only CRITICAL, HIGH and
MEDIUM (plus a TOTAL, not a severity). UNDEFINED and UNTRIAGED findings are shown, never counted
against a threshold: their severity is not known to be at or above it.

Scan status (botocore's ecr model, ``ScanStatus``): COMPLETE (basic) and ACTIVE (enhanced:
continuously monitored, findings current) carry findings, as does Inspector's
INITIAL_SCAN_COMPLETE event; IN_PROGRESS and PENDING are on the way; every other status means no
findings will come for this scan, and the gate fails closed: it rejects, naming the status. No
completed scan within the timeout (``ScanTimeoutMinutes``) after the push rejects too.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from autodeploy.gates.verdict import Gate, GateVerdict


class Severity(StrEnum):
    CRITICAL = "CRITICAL"
    HIGH = "HIGH"
    MEDIUM = "MEDIUM"
    LOW = "LOW"
    INFORMATIONAL = "INFORMATIONAL"
    UNDEFINED = "UNDEFINED"  # ECR basic scanning: the source gave no severity
    UNTRIAGED = "UNTRIAGED"  # Amazon Inspector: not triaged yet


class ScanThreshold(StrEnum):
    """``autodeploy:scan``: refuse findings at or above this severity; ``off`` never waits for a scan."""

    OFF = "off"
    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"

    @property
    def blocking(self) -> tuple[Severity, ...]:
        """The severities at or above the threshold, highest first."""
        order = (Severity.CRITICAL, Severity.HIGH, Severity.MEDIUM)
        return () if self is ScanThreshold.OFF else order[: order.index(Severity(self.value.upper())) + 1]


COMPLETE_STATUSES = frozenset({"COMPLETE", "ACTIVE", "INITIAL_SCAN_COMPLETE"})
PENDING_STATUSES = frozenset({"IN_PROGRESS", "PENDING"})
# botocore's ecr ScanStatus values that end a scan without findings (ACTIVE is enhanced scanning's complete).
FAILED_STATUSES = frozenset(
    {
        "FAILED",
        "UNSUPPORTED_IMAGE",
        "SCAN_ELIGIBILITY_EXPIRED",
        "FINDINGS_UNAVAILABLE",
        "LIMIT_EXCEEDED",
        "IMAGE_ARCHIVED",
        "IMAGE_SIZE_EXCEEDED",
    }
)
_NOT_SEVERITIES = frozenset({"TOTAL"})  # Inspector2 Scan's sum of the others


def severity_counts(raw: Mapping[Any, object]) -> dict[Severity, int]:
    """Counts by severity from ``finding-severity-counts`` / ``findingSeverityCounts``.

    A severity with no findings is absent (the ECR user guide: "will only return a value for a
    severity level if one exists"), so absent is zero. TOTAL and names this code does not know
    are left out; a count that is not a non-negative integer is a ``ValueError``.
    """
    counts: dict[Severity, int] = {}
    for name, count in raw.items():
        if not isinstance(count, int) or isinstance(count, bool) or count < 0:
            raise ValueError(f"the count of {name!r} findings is not a non-negative integer: {count!r}")
        if isinstance(name, str) and name in Severity.__members__ and name not in _NOT_SEVERITIES:
            counts[Severity(name)] = count
    return counts


def describe_counts(counts: Mapping[Severity, int]) -> str:
    shown = [f"{severity.value} {counts[severity]}" for severity in Severity if counts.get(severity)]
    return ", ".join(shown) or "no findings"


@dataclass(frozen=True, slots=True)
class ScanReport:
    """What is known of one image's scan: its status and, once complete, its counts.

    ``status`` None: no scan found yet (DescribeImageScanFindings' ScanNotFoundException).
    """

    status: str | None
    counts: Mapping[Severity, int] = field(default_factory=dict)
    description: str = ""
    completed_at: datetime | None = None

    @property
    def complete(self) -> bool:
        return self.status in COMPLETE_STATUSES

    @property
    def failed(self) -> bool:
        return self.status in FAILED_STATUSES


def evaluate_scan(
    threshold: ScanThreshold,
    report: ScanReport | None,
    pushed_at: datetime,
    now: datetime,
    timeout: timedelta,
) -> GateVerdict:
    """Open when the scan completed with nothing at or above the threshold; REJECTED on such findings, on a
    scan that ended without findings, or on none completed ``timeout`` after the push; else wait for it."""
    if threshold is ScanThreshold.OFF:
        return GateVerdict.opened(Gate.SCAN, "scan gate off")
    if report is not None and report.complete:
        found = {s: report.counts[s] for s in threshold.blocking if report.counts.get(s)}
        if found:
            return GateVerdict.rejected(
                Gate.SCAN,
                f"scan found {describe_counts(found)} (at or above {threshold.value}); all findings: "
                f"{describe_counts(report.counts)}",
            )
        return GateVerdict.opened(
            Gate.SCAN, f"scan complete, nothing at or above {threshold.value} ({describe_counts(report.counts)})"
        )
    if report is not None and report.failed:
        detail = f": {report.description}" if report.description else ""
        return GateVerdict.rejected(Gate.SCAN, f"scan ended {report.status}{detail}; no findings to judge the image by")
    deadline = pushed_at + timeout
    status = "no scan yet" if report is None or report.status is None else f"scan {report.status}"
    if now >= deadline:
        return GateVerdict.rejected(
            Gate.SCAN,
            f"no completed scan within {_minutes(timeout)} of the push ({status}); refused, failing closed",
        )
    return GateVerdict.waiting(
        Gate.SCAN,
        f"waiting for the image's scan ({status}); refused if none completes by {deadline:%Y-%m-%dT%H:%M:%SZ}",
        reopened_by="the scan's completion (ECR Image Scan or Inspector2 Scan event)",
        reopens_at=deadline,
    )


def _minutes(span: timedelta) -> str:
    minutes = int(span.total_seconds() // 60)
    return f"{minutes} minute" + ("" if minutes == 1 else "s")
