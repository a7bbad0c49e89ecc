"""Reading an image's scan with DescribeImageScanFindings, on moto where moto models it.

Measured on moto 5.2.5: a repository created with ``scanOnPush`` does not scan a pushed image
(ScanNotFoundException until StartImageScan); after StartImageScan the findings are at once
COMPLETE with one static HIGH finding (CVE-9999-9999), unless a result was set through moto's
``/moto-api/static/ecr/scan-finding-results``; ``maxResults`` is not honoured; DescribeImages
shows no ``imageScanStatus``. Statuses moto never returns (IN_PROGRESS, FAILED, ACTIVE...) are
covered in tests/unit/test_ecr_scan_report.py with botocore's Stubber.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
import requests
from moto import mock_aws

from autodeploy.adapters.aws import CLIENT_CONFIG
from autodeploy.adapters.ecr import EcrImages
from autodeploy.errors import PermanentError
from autodeploy.gates.scan import ScanReport, ScanThreshold, Severity, evaluate_scan
from tools import world

MOTO_SCAN_RESULTS = "http://motoapi.amazonaws.com/moto-api/static/ecr/scan-finding-results"
PUSHED = datetime(2026, 11, 26, 10, 15, tzinfo=UTC)


@pytest.fixture
def ecr() -> Iterator[Any]:
    with mock_aws():
        client = boto3.session.Session().client("ecr", config=CLIENT_CONFIG)
        client.create_repository(repositoryName="web", imageScanningConfiguration={"scanOnPush": True})
        yield client


def test_no_scan_yet_is_a_report_without_status(ecr):
    digest = world.push_image(ecr, "web", "1.5.0")
    report = EcrImages(ecr).scan_report("web", digest)
    assert report == ScanReport(None, description="no scan of this image yet")
    assert not report.complete and not report.failed


def test_a_completed_scan_gives_its_status_and_counts(ecr):
    digest = world.push_image(ecr, "web", "1.5.0")
    ecr.start_image_scan(repositoryName="web", imageId={"imageDigest": digest})
    report = EcrImages(ecr).scan_report("web", digest)
    assert (report.status, dict(report.counts)) == ("COMPLETE", {Severity.HIGH: 1})  # moto's static finding
    assert report.complete and report.completed_at is not None


def test_counts_set_through_moto_reach_the_gate(ecr):
    digest = world.push_image(ecr, "web", "1.6.0")
    ecr.start_image_scan(repositoryName="web", imageId={"imageDigest": digest})
    result = {
        "registryId": "123456789012",
        "repositoryName": "web",
        "imageId": {"imageDigest": digest},
        "imageScanStatus": {"status": "COMPLETE", "description": "The scan was completed successfully."},
        "imageScanFindings": {"findingSeverityCounts": {"CRITICAL": 2, "HIGH": 4, "MEDIUM": 9}},
    }
    assert requests.post(MOTO_SCAN_RESULTS, json={"results": [result], "region": "us-east-1"}, timeout=5).ok
    report = EcrImages(ecr).scan_report("web", digest)
    assert report.counts == {Severity.CRITICAL: 2, Severity.HIGH: 4, Severity.MEDIUM: 9}
    verdict = evaluate_scan(ScanThreshold.CRITICAL, report, PUSHED, PUSHED, timedelta(minutes=30))
    assert not verdict.open and "CRITICAL 2" in verdict.reason


@pytest.mark.parametrize(
    ("repository", "digest", "code"),
    [
        ("nope", None, "RepositoryNotFoundException"),
        ("web", "sha256:" + "0" * 64, "ImageNotFoundException"),
    ],
)
def test_a_missing_repository_or_image_is_permanent(ecr, repository, digest, code):
    pushed = world.push_image(ecr, "web", "1.5.0")
    with pytest.raises(PermanentError, match=code):
        EcrImages(ecr).scan_report(repository, digest or pushed)
