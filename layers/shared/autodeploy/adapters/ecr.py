"""What ECR knows of images: digest, tags and push time, in one batched call where it can; and
what their vulnerability scan found.

A push is looked up where it happened: the registry (account) and region its event came from.
One registry account commonly serves many workload accounts and regions (EventBridge forwards
the push; the event's ``account`` and ``region`` stay the registry's), so DescribeImages gets
``registryId`` and goes to a client of that region.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from autodeploy.adapters.aws import aws_call, error_code, translate
from autodeploy.errors import PermanentError
from autodeploy.gates.scan import ScanReport, severity_counts
from autodeploy.policy import ImageFacts

if TYPE_CHECKING:
    from mypy_boto3_ecr import ECRClient
    from mypy_boto3_ecr.type_defs import ImageDetailTypeDef, ImageIdentifierTypeDef

_BATCH = 100  # DescribeImages takes at most 100 image ids


def _image_id(key: str) -> ImageIdentifierTypeDef:
    return {"imageDigest": key} if key.startswith("sha") and ":" in key else {"imageTag": key}


def _facts(detail: ImageDetailTypeDef) -> ImageFacts:
    return ImageFacts(
        digest=detail["imageDigest"],
        tags=tuple(detail.get("imageTags", [])),
        pushed_at=detail["imagePushedAt"],
    )


@dataclass(frozen=True, slots=True)
class Registry:
    """A private registry: the account that owns it (its registry id) and the region."""

    account: str
    region: str


class EcrImages:
    def __init__(self, ecr: ECRClient, regional: Callable[[str], ECRClient] | None = None) -> None:
        """``ecr``: this function's own region; ``regional``: a client for another region (cached by the caller)."""
        self._ecr = ecr
        self._regional = regional

    def lookup(self, repository: str, keys: Iterable[str], registry: Registry | None = None) -> dict[str, ImageFacts]:
        """Facts by key (a digest or a tag); a key ECR does not know is simply absent.

        ``registry``: where the repository is (the push's account and region); None: this
        function's own. DescribeImages fails whole when one id is unknown, so a failed batch is
        retried one id at a time: the common case (every image exists) costs one call.
        """
        wanted = sorted(set(keys))
        found: dict[str, ImageFacts] = {}
        for start in range(0, len(wanted), _BATCH):
            batch = wanted[start : start + _BATCH]
            details = self._describe(repository, batch, registry)
            if details is None:
                for key in batch:
                    found.update(self._index(self._describe(repository, [key], registry) or [], [key]))
            else:
                found.update(self._index(details, batch))
        return found

    def _client(self, registry: Registry | None) -> ECRClient:
        if registry is None or self._regional is None:
            return self._ecr
        return self._regional(registry.region)

    def list_tagged(self, repository: str) -> list[ImageFacts]:
        """Every tagged image of the repository (paginated, 1000 a call)."""
        images: list[ImageFacts] = []
        with aws_call(f"listing the images of {repository}"):
            pages = self._ecr.get_paginator("describe_images").paginate(
                repositoryName=repository, filter={"tagStatus": "TAGGED"}, PaginationConfig={"PageSize": 1000}
            )
            for page in pages:
                images.extend(_facts(d) for d in page.get("imageDetails", []))
        return images

    def _describe(self, repository: str, keys: list[str], registry: Registry | None) -> list[ImageDetailTypeDef] | None:
        where: dict[str, Any] = {"registryId": registry.account} if registry is not None else {}
        try:
            response = self._client(registry).describe_images(
                repositoryName=repository, imageIds=[_image_id(k) for k in keys], **where
            )
        except ClientError as exc:
            if error_code(exc) == "ImageNotFoundException":
                return None
            translate(exc, f"describing images of {repository}")
        except BotoCoreError as exc:
            translate(exc, f"describing images of {repository}")
        return list(response.get("imageDetails", []))

    def scan_report(self, repository: str, digest: str, registry: Registry | None = None) -> ScanReport:
        """The image's scan as DescribeImageScanFindings reports it: status, description and counts by severity.

        One call: ``imageScanFindings.findingSeverityCounts`` counts every finding of the image
        whichever page the findings list is on (botocore's ecr paginator keeps it among the
        non-aggregate keys), so the list itself is not paged (``maxResults=1`` keeps it short).
        ScanNotFoundException ("ensure that image scanning is enabled", botocore's ecr model) is
        no scan yet: a report with no status, not an error. Basic and enhanced scanning alike.
        """
        where: dict[str, Any] = {"registryId": registry.account} if registry is not None else {}
        action = f"reading the scan findings of {repository}@{digest}"
        try:
            response = self._client(registry).describe_image_scan_findings(
                repositoryName=repository, imageId={"imageDigest": digest}, maxResults=1, **where
            )
        except ClientError as exc:
            if error_code(exc) == "ScanNotFoundException":
                return ScanReport(None, description="no scan of this image yet")
            translate(exc, action)
        except BotoCoreError as exc:
            translate(exc, action)
        status = response.get("imageScanStatus", {})
        findings = response.get("imageScanFindings", {})
        try:
            counts = severity_counts(findings.get("findingSeverityCounts", {}))
        except ValueError as exc:
            raise PermanentError(f"{action}: {exc}") from exc
        return ScanReport(
            status.get("status"), counts, status.get("description", ""), findings.get("imageScanCompletedAt")
        )

    @staticmethod
    def _index(details: list[ImageDetailTypeDef], keys: list[str]) -> dict[str, ImageFacts]:
        facts = [_facts(d) for d in details]
        return {key: f for key in keys for f in facts if key == f.digest or key in f.tags}
