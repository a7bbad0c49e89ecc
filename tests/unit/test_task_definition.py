from __future__ import annotations

import copy

import pytest

from autodeploy.errors import MisconfiguredTarget
from autodeploy.task_definition import (
    CLONED_FROM_TAG,
    DIGEST_TAG,
    READ_ONLY_KEYS,
    clone_with_images,
    is_clone_of,
    select_containers,
)
from tools.world import REGISTRY, SIDECAR_IMAGE, rich_task_definition

DIGEST = "sha256:" + "cd" * 32
ARN = "arn:aws:ecs:us-east-1:123456789012:task-definition/web:7"


def described() -> tuple[dict, list]:
    """What DescribeTaskDefinition returns for the rich definition, read-only keys included."""
    definition = rich_task_definition("web", f"{REGISTRY}/web:1.4.0")
    tags = definition.pop("tags")
    definition.update(
        taskDefinitionArn=ARN,
        revision=7,
        status="ACTIVE",
        requiresAttributes=[{"name": "com.amazonaws.ecs.capability.ecr-auth"}],
        compatibilities=["EC2"],
        registeredAt="2026-11-01T00:00:00Z",
        registeredBy="arn:aws:iam::123456789012:role/deployer",
    )
    definition["containerDefinitions"].append({"name": "web-admin", "image": f"{REGISTRY}/web-admin:1.0.0"})
    return definition, tags


def test_the_clone_differs_only_in_the_selected_images():
    definition, tags = described()
    original = copy.deepcopy(definition)
    pinned = f"{REGISTRY}/web@{DIGEST}"

    clone = clone_with_images(definition, tags, {"web": pinned}, DIGEST)

    assert definition == original  # the source is not mutated
    assert not READ_ONLY_KEYS & clone.request.keys()
    expected = {k: v for k, v in original.items() if k not in READ_ONLY_KEYS}
    expected["containerDefinitions"][0]["image"] = pinned
    assert {k: v for k, v in clone.request.items() if k != "tags"} == expected
    assert [(c.container, c.before, c.after) for c in clone.changes] == [("web", f"{REGISTRY}/web:1.4.0", pinned)]


def test_the_clone_keeps_the_tags_and_adds_its_provenance():
    definition, tags = described()
    clone = clone_with_images(definition, [*tags, {"key": DIGEST_TAG, "value": "sha256:old"}], {"web": "x"}, DIGEST)
    assert clone.request["tags"] == [
        {"key": "team", "value": "web"},
        {"key": CLONED_FROM_TAG, "value": ARN},
        {"key": DIGEST_TAG, "value": DIGEST},
    ]


def test_unknown_fields_are_carried_over():
    definition, tags = described()
    definition["someFieldEcsAddsTomorrow"] = {"x": 1}
    assert clone_with_images(definition, tags, {}, DIGEST).request["someFieldEcsAddsTomorrow"] == {"x": 1}


def test_default_selection_is_every_container_from_the_pushed_repository_only():
    definition, _ = described()
    definition["containerDefinitions"].append({"name": "migrate", "image": f"{REGISTRY}/web:1.4.0"})
    definition["containerDefinitions"].append({"name": "broken", "image": "::not an image::"})
    assert select_containers(definition, REGISTRY, "web", ()) == ["web", "migrate"]


def test_named_containers_are_taken_as_given():
    definition, _ = described()
    assert select_containers(definition, REGISTRY, "web", ("log-router",)) == ["log-router"]
    with pytest.raises(MisconfiguredTarget, match="autodeploy:containers names api, not in task definition web"):
        select_containers(definition, REGISTRY, "web", ("web", "api"))


def test_no_container_from_the_repository_is_a_misconfiguration():
    definition, _ = described()
    with pytest.raises(MisconfiguredTarget, match="no container of task definition web uses an image from"):
        select_containers(definition, REGISTRY, "api", ())
    assert SIDECAR_IMAGE in [c["image"] for c in definition["containerDefinitions"]]


def test_is_clone_of_recognises_our_own_earlier_registration():
    definition, tags = described()
    request = clone_with_images(definition, tags, {"web": "x"}, DIGEST).request
    registered = {**request, "taskDefinitionArn": ARN.replace(":7", ":8")}
    assert is_clone_of(registered, request["tags"], ARN, DIGEST)
    assert not is_clone_of(registered, request["tags"], ARN, "sha256:" + "ef" * 32)
    assert not is_clone_of(registered, tags, ARN, DIGEST)
