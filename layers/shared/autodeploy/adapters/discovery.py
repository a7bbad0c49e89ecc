"""Finds the targets registered for a repository: one paginated Resource Groups Tagging query."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from autodeploy.adapters.aws import aws_call
from autodeploy.errors import MisconfiguredTarget
from autodeploy.registration import REPOSITORY_TAG, Target, TargetKind, parse_target

if TYPE_CHECKING:
    from mypy_boto3_resourcegroupstaggingapi import ResourceGroupsTaggingAPIClient
    from mypy_boto3_resourcegroupstaggingapi.type_defs import TagFilterTypeDef

RESOURCE_TYPES = ["ecs:service", "cloudformation:stack"]
STACK_ID_TAG = "aws:cloudformation:stack-id"  # CloudFormation puts it on the resources it creates


def managed_by_registered_stacks(targets: list[Target], owners: dict[str, str]) -> list[Target]:
    """Drop a service whose own stack is registered too: the stack's parameter governs its image.

    Stack tags propagate to the stack's resources, so registering a service stack also tags its
    service; deploying both would clone the task definition behind CloudFormation's back.
    """
    stacks = {t.arn for t in targets if t.kind is TargetKind.STACK}
    return [t for t in targets if not (t.kind is TargetKind.SERVICE and owners.get(t.arn) in stacks)]


@dataclass(frozen=True, slots=True)
class Discovered:
    targets: list[Target]
    misconfigured: list[tuple[str, MisconfiguredTarget]]


class TargetDiscovery:
    def __init__(self, tagging: ResourceGroupsTaggingAPIClient) -> None:
        self._tagging = tagging

    def find(self, repository: str) -> Discovered:
        """The targets registered for one repository."""
        return self._query(f"finding targets registered for repository {repository}", [repository])

    def find_all(self) -> Discovered:
        """Every registered target, whatever its repository."""
        return self._query("finding every registered target", [])

    def get(self, arn: str) -> Target | None:
        """One target by ARN, if it is still registered and valid."""
        with aws_call(f"reading the tags of {arn}"):
            found = self._tagging.get_resources(ResourceARNList=[arn]).get("ResourceTagMappingList", [])
        for resource in found:
            tags = {t["Key"]: t["Value"] for t in resource.get("Tags", [])}
            if REPOSITORY_TAG in tags:
                try:
                    return parse_target(resource["ResourceARN"], tags)
                except MisconfiguredTarget:
                    return None
        return None

    def _query(self, action: str, repositories: list[str]) -> Discovered:
        targets: list[Target] = []
        misconfigured: list[tuple[str, MisconfiguredTarget]] = []
        tag_filter: TagFilterTypeDef = {"Key": REPOSITORY_TAG}
        if repositories:
            tag_filter["Values"] = repositories
        with aws_call(action):
            pages = self._tagging.get_paginator("get_resources").paginate(
                TagFilters=[tag_filter],
                ResourceTypeFilters=RESOURCE_TYPES,
                PaginationConfig={"PageSize": 100},
            )
            owners: dict[str, str] = {}
            for page in pages:
                for resource in page.get("ResourceTagMappingList", []):
                    arn = resource["ResourceARN"]
                    tags = {t["Key"]: t["Value"] for t in resource.get("Tags", [])}
                    if STACK_ID_TAG in tags:
                        owners[arn] = tags[STACK_ID_TAG]
                    try:
                        targets.append(parse_target(arn, tags))
                    except MisconfiguredTarget as exc:
                        misconfigured.append((arn, exc))
        return Discovered(sorted(managed_by_registered_stacks(targets, owners), key=lambda t: t.arn), misconfigured)


SCALING_REVIEW_TAG = "autodeploy:scaling-review"


def reviewed_services(tagging: ResourceGroupsTaggingAPIClient) -> dict[str, dict[str, str]]:
    """ECS services tagged for the scaling review, with their ``autodeploy:scaling-*`` tags (one paginated query)."""
    found: dict[str, dict[str, str]] = {}
    with aws_call("finding services tagged for the scaling review"):
        pages = tagging.get_paginator("get_resources").paginate(
            TagFilters=[{"Key": SCALING_REVIEW_TAG}],
            ResourceTypeFilters=["ecs:service"],
            PaginationConfig={"PageSize": 100},
        )
        for page in pages:
            for resource in page.get("ResourceTagMappingList", []):
                found[resource["ResourceARN"]] = {
                    t["Key"]: t["Value"] for t in resource.get("Tags", []) if t["Key"].startswith("autodeploy:scaling-")
                }
    return found
