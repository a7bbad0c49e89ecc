"""Faithful task-definition cloning: the new revision differs only in the selected images.

Everything DescribeTaskDefinition returns is passed back to RegisterTaskDefinition except the
keys AWS sets itself, so a field ECS adds tomorrow is carried over rather than silently dropped.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from autodeploy.errors import InvalidImageReference, MisconfiguredTarget
from autodeploy.image_reference import ImageReference

READ_ONLY_KEYS = frozenset(
    {
        "taskDefinitionArn",
        "revision",
        "status",
        "requiresAttributes",
        "compatibilities",
        "registeredAt",
        "registeredBy",
        "deregisteredAt",
    }
)
CLONED_FROM_TAG = "autodeploy:cloned-from"
DIGEST_TAG = "autodeploy:digest"


@dataclass(frozen=True, slots=True)
class ContainerChange:
    container: str
    before: str
    after: str


@dataclass(frozen=True, slots=True)
class TaskDefinitionClone:
    """The RegisterTaskDefinition request and the per-container changes it makes."""

    request: dict[str, Any]
    changes: tuple[ContainerChange, ...]


def select_containers(
    task_definition: Mapping[str, Any], registry: str, repository: str, names: Sequence[str]
) -> list[str]:
    """The containers to update: those named, or else those whose image is from the repository."""
    containers = task_definition.get("containerDefinitions", [])
    if names:
        present = {c["name"] for c in containers}
        missing = [name for name in names if name not in present]
        if missing:
            raise MisconfiguredTarget(
                f"autodeploy:containers names {', '.join(missing)}, not in task definition "
                f"{task_definition.get('family')} (containers: {', '.join(sorted(present))})"
            )
        return list(names)
    selected = []
    for container in containers:
        try:
            image = ImageReference.parse(container.get("image", ""))
        except InvalidImageReference:
            continue  # an image we cannot read is certainly not the pushed repository's
        if image.is_from(registry, repository):
            selected.append(container["name"])
    if not selected:
        raise MisconfiguredTarget(
            f"no container of task definition {task_definition.get('family')} uses an image from "
            f"{registry}/{repository}; name the containers with autodeploy:containers"
        )
    return selected


def container_images(task_definition: Mapping[str, Any]) -> dict[str, str]:
    return {c["name"]: c.get("image", "") for c in task_definition.get("containerDefinitions", [])}


def clone_with_images(
    task_definition: Mapping[str, Any],
    tags: Sequence[Mapping[str, str]],
    images: Mapping[str, str],
    digest: str,
) -> TaskDefinitionClone:
    """Build the RegisterTaskDefinition request that changes only ``images`` (container -> image).

    Two tags are added so that a retry after a crash can recognise and reuse this revision
    instead of registering a duplicate.
    """
    request = {k: copy.deepcopy(v) for k, v in task_definition.items() if k not in READ_ONLY_KEYS}
    changes = []
    for container in request.get("containerDefinitions", []):
        new_image = images.get(container["name"])
        if new_image is not None and container.get("image") != new_image:
            changes.append(ContainerChange(container["name"], container.get("image", ""), new_image))
            container["image"] = new_image
    kept = [dict(t) for t in tags if t["key"] not in (CLONED_FROM_TAG, DIGEST_TAG)]
    source = task_definition.get("taskDefinitionArn")
    added = [{"key": DIGEST_TAG, "value": digest}]
    if source:
        added.insert(0, {"key": CLONED_FROM_TAG, "value": source})
    request["tags"] = kept + added
    return TaskDefinitionClone(request=request, changes=tuple(changes))


def is_clone_of(
    candidate: Mapping[str, Any], candidate_tags: Sequence[Mapping[str, str]], source_arn: str, digest: str
) -> bool:
    """Whether ``candidate`` is the revision we registered from ``source_arn`` for ``digest``."""
    tags = {t["key"]: t["value"] for t in candidate_tags}
    return (
        candidate.get("taskDefinitionArn") != source_arn
        and tags.get(CLONED_FROM_TAG) == source_arn
        and tags.get(DIGEST_TAG) == digest
    )
