"""Scan-completed events, shaped as AWS documents them.

- ``ECR Image Scan`` (basic scanning): Amazon ECR User Guide, "Amazon ECR events and EventBridge",
  "Event for a completed image scan": detail ``scan-status``, ``repository-name`` (a name),
  ``finding-severity-counts`` ("will only return a value for a severity level if one exists"),
  ``image-digest``, ``image-tags``.
- ``Inspector2 Scan`` (enhanced scanning): Amazon Inspector User Guide, "Amazon EventBridge event
  schema for Amazon Inspector events", "Amazon ECR image initial scan"; and the ECR User Guide,
  "Event for an initial image scan (enhanced scanning)": source ``aws.inspector2``, ``scan-status``
  ``INITIAL_SCAN_COMPLETE``, ``repository-name`` holding the repository's ARN, counts of CRITICAL,
  HIGH, MEDIUM and a TOTAL, ``version`` ``1.0``.

The samples in events/ keep those shapes with this project's repository and valid digests (AWS's
own samples shorten the digest or end it in ``EXAMPLE``).
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from autodeploy.errors import InvalidEvent
from autodeploy.events import ImagePush, ImageScanCompleted, Scanner
from autodeploy.gates.scan import ScanReport, ScanThreshold, Severity, evaluate_scan
from tests.support.events import load_event

ECR_DOCUMENTED = {
    "version": "0",
    "id": "85fc3613-e913-7fc4-a80c-a3753e4aa9ae",
    "detail-type": "ECR Image Scan",
    "source": "aws.ecr",
    "account": "123456789012",
    "time": "2019-10-29T02:36:48Z",
    "region": "us-east-1",
    "resources": ["arn:aws:ecr:us-east-1:123456789012:repository/my-repo"],
    "detail": {
        "scan-status": "COMPLETE",
        "repository-name": "my-repo",
        "finding-severity-counts": {"CRITICAL": 10, "MEDIUM": 9},
        "image-digest": "sha256:" + "7f5b2640fe6fb4f46592dfd3410c4a79dac4f89e4782432e0378abcd1234".ljust(64, "0"),
        "image-tags": [],
    },
}


def test_the_documented_ecr_event_parses():
    scan = ImageScanCompleted.from_event(ECR_DOCUMENTED)
    assert (scan.scanner, scan.repository, scan.status, scan.tags) == (Scanner.BASIC, "my-repo", "COMPLETE", ())
    assert scan.counts == {Severity.CRITICAL: 10, Severity.MEDIUM: 9}
    assert (scan.registry, scan.region) == ("123456789012", "us-east-1")


def test_the_scan_sample_is_the_push_samples_image():
    push = ImagePush.from_event(load_event("ecr-push.json"))
    scan = ImageScanCompleted.from_event(load_event("ecr-image-scan.json"))
    assert (scan.repository, scan.digest, scan.tags) == (push.repository, push.digest, (push.tag,))
    assert scan.counts == {Severity.MEDIUM: 2, Severity.LOW: 5}


def test_the_critical_sample_is_refused_by_a_critical_threshold():
    scan = ImageScanCompleted.from_event(load_event("ecr-image-scan-critical.json"))
    report = ScanReport(scan.status, scan.counts)
    verdict = evaluate_scan(
        ScanThreshold.CRITICAL, report, scan.envelope.time, scan.envelope.time, timedelta(minutes=30)
    )
    assert not verdict.open and "CRITICAL 2" in verdict.reason


def test_the_inspector_sample_reads_the_repository_from_its_arn_and_leaves_out_total():
    scan = ImageScanCompleted.from_event(load_event("inspector2-scan.json"))
    assert (scan.scanner, scan.status, scan.repository) == (Scanner.ENHANCED, "INITIAL_SCAN_COMPLETE", "web")
    assert scan.counts == {Severity.CRITICAL: 0, Severity.HIGH: 1, Severity.MEDIUM: 3}
    assert ScanReport(scan.status, scan.counts).complete


def test_inspector_names_the_registry_in_the_repository_arn():
    """The ECR user guide's Inspector2 Scan sample: the event's account 123456789012, the repository
    ARN's account 809632081692; the repository is where the ARN says."""
    event = load_event("inspector2-scan.json")
    event["detail"]["repository-name"] = "arn:aws:ecr:us-east-2:809632081692:repository/amazon/amazon-ecs-sample"
    scan = ImageScanCompleted.from_event(event)
    assert (scan.registry, scan.region, scan.repository) == ("809632081692", "us-east-2", "amazon/amazon-ecs-sample")


def test_a_scan_without_findings_may_carry_no_counts():
    event = load_event("ecr-image-scan.json")
    del event["detail"]["finding-severity-counts"]
    assert ImageScanCompleted.from_event(event).counts == {}


def test_inspector_scans_of_other_resources_are_not_image_scans():
    """The Inspector user guide's "Amazon EC2 instance initial scan" sample has no image-digest."""
    event = load_event("inspector2-scan.json")
    event["resources"] = ["i-087d63509b8c97098"]
    event["detail"] = {
        "scan-status": "INITIAL_SCAN_COMPLETE",
        "finding-severity-counts": {"CRITICAL": 0, "HIGH": 0, "MEDIUM": 0, "TOTAL": 0},
        "instance-id": "i-087d63509b8c97098",
        "version": "1.0",
    }
    with pytest.raises(InvalidEvent, match="not an ECR image's scan"):
        ImageScanCompleted.from_event(event)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda e: e.update({"detail-type": "ECR Image Action"}), "not a scan event"),
        (lambda e: e["detail"].pop("scan-status"), "detail.scan-status is missing"),
        (lambda e: e["detail"].update({"scan-status": "done!"}), "is not a scan status"),
        (lambda e: e["detail"].update({"image-digest": "sha256:abc"}), "is not a valid digest"),
        (lambda e: e["detail"].update({"image-tags": "1.5.0"}), "is not a list of image tags"),
        (lambda e: e["detail"].update({"finding-severity-counts": [1]}), "is not an object"),
        (lambda e: e["detail"]["finding-severity-counts"].update(HIGH=-1), "not a non-negative integer"),
        (lambda e: e["detail"].update({"repository-name": "Web"}), "detail.repository-name"),
    ],
)
def test_malformed_scan_events_name_the_problem(change, reason):
    event = load_event("ecr-image-scan.json")
    change(event)
    with pytest.raises(InvalidEvent, match=reason):
        ImageScanCompleted.from_event(event)
