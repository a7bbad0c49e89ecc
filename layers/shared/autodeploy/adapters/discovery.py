"""Finds the targets registered for a repository: one paginated Resource Groups Tagging query.

Stack tags propagate to the stack's resources, so registering a service stack also tags its
service. Which services a registered stack owns is read from the stack (ListStackResources, one
paginated call per registered stack, and only when services were found too): AWS puts no
``aws:cloudformation:*`` tag on ECS services or task definitions.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from autodeploy.adapters.aws import aws_call
from autodeploy.errors import MisconfiguredTarget
from autodeploy.registration import REPOSITORY_TAG, Target, TargetKind, kind_of, parse_target

if TYPE_CHECKING:
    from mypy_boto3_resourcegroupstaggingapi import ResourceGroupsTaggingAPIClient
    from mypy_boto3_resourcegroupstaggingapi.type_defs import TagFilterTypeDef

RESOURCE_TYPES = ["ecs:service", "cloudformation:stack"]


def _service_key(arn: str) -> tuple[str, ...]:
    """Account, region and service name: a stack's short-format service ARN has no cluster."""
    parts = arn.split(":", 5)
    return (parts[4], parts[3], parts[5].rsplit("/", 1)[-1]) if len(parts) == 6 else (arn,)


def owned_by_stacks(service_arns: Iterable[str], stack_services: Iterable[frozenset[str]]) -> set[str]:
    """The services among ``service_arns`` that one of the stacks created."""
    owned = {arn for services in stack_services for arn in services}
    keys = {_service_key(arn) for arn in owned}
    return {arn for arn in service_arns if arn in owned or _service_key(arn) in keys}


@dataclass(frozen=True, slots=True)
class Discovered:
    targets: list[Target]
    misconfigured: list[tuple[str, MisconfiguredTarget]]
    # Services whose own registered stack deploys them: neither deployed nor recorded on their own.
    stack_managed: list[str] = field(default_factory=list)


class TargetDiscovery:
    def __init__(
        self,
        tagging: ResourceGroupsTaggingAPIClient,
        stack_services: Callable[[str], frozenset[str]],
    ) -> None:
        self._tagging = tagging
        self._stack_services = stack_services

    def find(self, repository: str) -> Discovered:
        """The targets registered for one repository."""
        return self._query(f"finding targets registered for repository {repository}", [repository])

    def find_all(self) -> Discovered:
        """Every registered target, whatever its repository."""
        return self._query("finding every registered target", [])

    def get(self, arn: str) -> Target | None:
        """One target by ARN, if it is still registered and valid."""
        target = self.registration(arn)
        return target if isinstance(target, Target) else None

    def tag_words(self, arn: str, key: str) -> tuple[str, ...]:
        """The space-separated words of one tag of one resource (none when it has no such tag)."""
        with aws_call(f"reading the tags of {arn}"):
            found = self._tagging.get_resources(ResourceARNList=[arn]).get("ResourceTagMappingList", [])
        for resource in found:
            for tag in resource.get("Tags", []):
                if tag["Key"] == key:
                    return tuple(tag["Value"].split())
        return ()

    def registration(self, arn: str) -> Target | MisconfiguredTarget | None:
        """One resource's registration: the target, why its tags are wrong, or None (not registered)."""
        with aws_call(f"reading the tags of {arn}"):
            found = self._tagging.get_resources(ResourceARNList=[arn]).get("ResourceTagMappingList", [])
        for resource in found:
            tags = {t["Key"]: t["Value"] for t in resource.get("Tags", [])}
            if REPOSITORY_TAG in tags:
                try:
                    return parse_target(resource["ResourceARN"], tags)
                except MisconfiguredTarget as problem:
                    return problem
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
            for page in pages:
                for resource in page.get("ResourceTagMappingList", []):
                    arn = resource["ResourceARN"]
                    tags = {t["Key"]: t["Value"] for t in resource.get("Tags", [])}
                    try:
                        targets.append(parse_target(arn, tags))
                    except MisconfiguredTarget as exc:
                        misconfigured.append((arn, exc))
        # A registered stack owns its services even while its own tags are misconfigured.
        arns = [t.arn for t in targets] + [arn for arn, _ in misconfigured]
        stacks = [arn for arn in arns if kind_of(arn) is TargetKind.STACK]
        services = [arn for arn in arns if kind_of(arn) is not TargetKind.STACK]
        managed = owned_by_stacks(services, map(self._stack_services, stacks)) if stacks and services else set()
        return Discovered(
            sorted((t for t in targets if t.arn not in managed), key=lambda t: t.arn),
            [(arn, problem) for arn, problem in misconfigured if arn not in managed],
            sorted(managed),
        )


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
