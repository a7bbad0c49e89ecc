"""Faithful task-definition cloning: the new revision differs only in the selected images.

Everything DescribeTaskDefinition returns is passed back to RegisterTaskDefinition except the
fields only ECS sets (those the SDK's model describes but does not let us register). A field the
model does not know at all is refused by name: copying it blindly could fail the registration,
and dropping it would silently change the service.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from autodeploy.errors import InvalidImageReference, MisconfiguredTarget
from autodeploy.image_reference import ImageReference

CLONED_FROM_TAG = "autodeploy:cloned-from"
DIGEST_TAG = "autodeploy:digest"
OUR_TAGS = (CLONED_FROM_TAG, DIGEST_TAG)
# ECS: "Maximum number of tags per resource - 50"; keys prefixed aws: are AWS's own, cannot be
# set by anyone else and do not count (the Tag shape's documentation in botocore's ecs model).
MAX_TAGS = 50
AWS_RESERVED_TAG_PREFIX = "aws:"


@dataclass(frozen=True, slots=True)
class KnownShape:
    """What the SDK's model knows of a value: a structure's fields, or a list's / map's items."""

    members: Mapping[str, KnownShape] | None = None
    items: KnownShape | None = None


@dataclass(frozen=True, slots=True)
class TaskDefinitionModel:
    """The two shapes the clone lives between, as the SDK's service model defines them."""

    described: KnownShape  # DescribeTaskDefinition's output shape TaskDefinition
    registrable: frozenset[str]  # RegisterTaskDefinition's input members

    @property
    def describe_only(self) -> frozenset[str]:
        """Fields ECS sets itself: described, never registered (revision, status, deleteRequestedAt...)."""
        return frozenset((self.described.members or {}).keys()) - self.registrable


class UnknownTaskDefinitionField(MisconfiguredTarget):
    """The described definition carries a field the SDK's model does not know."""


def unknown_fields(value: Any, shape: KnownShape, path: str = "") -> Iterator[str]:
    """The paths of the fields in ``value`` that ``shape`` does not know (``a.b[0].c``)."""
    if isinstance(value, Mapping) and shape.members is not None:
        for key, item in value.items():
            where = f"{path}.{key}" if path else str(key)
            if key not in shape.members:
                yield where
            else:
                yield from unknown_fields(item, shape.members[key], where)
    elif isinstance(value, Mapping) and shape.items is not None:  # a map: its values
        for key, item in value.items():
            yield from unknown_fields(item, shape.items, f"{path}[{key!r}]")
    elif isinstance(value, list) and shape.items is not None:
        for index, item in enumerate(value):
            yield from unknown_fields(item, shape.items, f"{path}[{index}]")


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
    model: TaskDefinitionModel,
    unmodeled: Sequence[str] = (),
) -> TaskDefinitionClone:
    """Build the RegisterTaskDefinition request that changes only ``images`` (container -> image).

    ``unmodeled`` names the fields ECS sent that the SDK dropped while parsing (the adapter sees
    the wire); they are refused like unknown fields left in ``task_definition``. Two tags are
    added so that a retry after a crash can recognise and reuse this revision instead of
    registering a duplicate.
    """
    family = task_definition.get("family")
    unknown = [*unmodeled, *unknown_fields(task_definition, model.described)]
    if unknown:
        raise UnknownTaskDefinitionField(
            f"task definition {family} has {', '.join(sorted(set(unknown)))}, unknown to the AWS SDK "
            "this deployer ships: cloning it would drop or reject it; upgrade the deployer's botocore"
        )
    kept = [
        dict(t) for t in tags if t["key"] not in OUR_TAGS and not t["key"].lower().startswith(AWS_RESERVED_TAG_PREFIX)
    ]
    if len(kept) + len(OUR_TAGS) > MAX_TAGS:
        raise MisconfiguredTarget(
            f"task definition {family} has {len(kept)} tags of its own; with autodeploy's {len(OUR_TAGS)} the new "
            f"revision would have {len(kept) + len(OUR_TAGS)}, and ECS allows {MAX_TAGS} a resource: "
            f"remove {len(kept) + len(OUR_TAGS) - MAX_TAGS}"
        )
    request = {k: copy.deepcopy(v) for k, v in task_definition.items() if k not in model.describe_only}
    changes = []
    for container in request.get("containerDefinitions", []):
        new_image = images.get(container["name"])
        if new_image is not None and container.get("image") != new_image:
            changes.append(ContainerChange(container["name"], container.get("image", ""), new_image))
            container["image"] = new_image
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
