"""DescribeImageScanFindings answers moto never gives, served by botocore's Stubber in the shape of
botocore's ecr model (DescribeImageScanFindingsResponse: imageScanStatus {status, description},
imageScanFindings {imageScanCompletedAt, findingSeverityCounts, findings, enhancedFindings};
ScanStatus and FindingSeverity enums; the model has no examples-1.json entry for this operation).
Stubber checks each request's parameters and each response against that model.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from autodeploy.adapters.ecr import EcrImages, Registry
from autodeploy.errors import PermanentError, RetryableError
from autodeploy.gates.scan import ScanReport, Severity

DIGEST = "sha256:951e43dead4712f6baa0794dc4b296f68af2238af7608660875606796287d4d6"
REQUEST = {"repositoryName": "web", "imageId": {"imageDigest": DIGEST}, "maxResults": 1}


def ecr_client(region: str = "us-east-1") -> Any:
    return boto3.session.Session().client("ecr", region_name=region)


def response(status: str, description: str = "", counts: dict[str, int] | None = None) -> dict[str, Any]:
    answer: dict[str, Any] = {
        "registryId": "123456789012",
        "repositoryName": "web",
        "imageId": {"imageDigest": DIGEST, "imageTag": "1.5.0"},
        "imageScanStatus": {"status": status, "description": description},
    }
    if counts is not None:
        answer["imageScanFindings"] = {
            "imageScanCompletedAt": datetime(2026, 11, 26, 10, 16, tzinfo=UTC),
            "findingSeverityCounts": counts,
            "findings": [],
        }
    return answer


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        (response("IN_PROGRESS"), ScanReport("IN_PROGRESS")),
        (
            response("FAILED", "the reason ECR gives, passed on"),
            ScanReport("FAILED", {}, "the reason ECR gives, passed on"),
        ),
        (
            # Enhanced scanning (Amazon Inspector): continuously monitored, UNTRIAGED among the severities.
            response("ACTIVE", "", {"MEDIUM": 3, "UNTRIAGED": 1}),
            ScanReport(
                "ACTIVE",
                {Severity.MEDIUM: 3, Severity.UNTRIAGED: 1},
                "",
                datetime(2026, 11, 26, 10, 16, tzinfo=UTC),
            ),
        ),
    ],
)
def test_statuses_moto_never_returns(answer, expected):
    client = ecr_client()
    with Stubber(client) as stub:
        stub.add_response("describe_image_scan_findings", answer, REQUEST)
        assert EcrImages(client).scan_report("web", DIGEST) == expected
        stub.assert_no_pending_responses()


def test_a_registry_elsewhere_is_asked_in_its_region_with_its_id():
    home, there = ecr_client(), ecr_client("eu-west-1")
    with Stubber(home), Stubber(there) as stub:
        stub.add_response(
            "describe_image_scan_findings",
            response("COMPLETE", counts={"CRITICAL": 1}),
            {**REQUEST, "registryId": "210987654321"},
        )
        report = EcrImages(home, lambda region: there).scan_report("web", DIGEST, Registry("210987654321", "eu-west-1"))
        assert report.counts == {Severity.CRITICAL: 1}
        stub.assert_no_pending_responses()


@pytest.mark.parametrize(
    ("code", "status", "error"),
    [
        ("ThrottlingException", 400, RetryableError),
        ("ServerException", 500, RetryableError),
        ("AccessDeniedException", 400, PermanentError),
        ("ValidationException", 400, PermanentError),
    ],
)
def test_errors_are_ours(code, status, error):
    client = ecr_client()
    with Stubber(client) as stub:
        stub.add_client_error(
            "describe_image_scan_findings", code, "no", http_status_code=status, expected_params=REQUEST
        )
        with pytest.raises(error, match=f"reading the scan findings of web@{DIGEST}: {code}"):
            EcrImages(client).scan_report("web", DIGEST)
