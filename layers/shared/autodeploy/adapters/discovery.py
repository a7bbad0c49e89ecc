"""Finds the targets registered for a repository: one paginated Resource Groups Tagging query."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from autodeploy.adapters.aws import aws_call
from autodeploy.errors import MisconfiguredTarget
from autodeploy.registration import REPOSITORY_TAG, Target, parse_target

if TYPE_CHECKING:
    from mypy_boto3_resourcegroupstaggingapi import ResourceGroupsTaggingAPIClient

RESOURCE_TYPES = ["ecs:service", "cloudformation:stack"]


@dataclass(frozen=True, slots=True)
class Discovered:
    targets: list[Target]
    misconfigured: list[tuple[str, MisconfiguredTarget]]


class TargetDiscovery:
    def __init__(self, tagging: ResourceGroupsTaggingAPIClient) -> None:
        self._tagging = tagging

    def find(self, repository: str) -> Discovered:
        targets: list[Target] = []
        misconfigured: list[tuple[str, MisconfiguredTarget]] = []
        with aws_call(f"finding targets registered for repository {repository}"):
            pages = self._tagging.get_paginator("get_resources").paginate(
                TagFilters=[{"Key": REPOSITORY_TAG, "Values": [repository]}],
                ResourceTypeFilters=RESOURCE_TYPES,
                PaginationConfig={"PageSize": 100},
            )
            for page in pages:
                for resource in page.get("ResourceTagMappingList", []):
                    arn = resource["ResourceARN"]
                    tags = {t["Key"]: t["Value"] for t in resource.get("Tags", [])}
                    try:
                        targets.append(parse_target(arn, tags))
                    except MisconfiguredTarget as exc:
                        misconfigured.append((arn, exc))
        return Discovered(sorted(targets, key=lambda t: t.arn), misconfigured)
