from __future__ import annotations

import copy
import json
from functools import partial

import botocore.session
import pytest
from botocore.awsrequest import AWSResponse, HTTPHeaders
from botocore.validate import validate_parameters

from autodeploy.adapters.ecs import EcsServices
from autodeploy.adapters.ecs_model import task_definition_model
from autodeploy.errors import MisconfiguredTarget
from autodeploy.task_definition import (
    CLONED_FROM_TAG,
    DIGEST_TAG,
    UnknownTaskDefinitionField,
    is_clone_of,
    select_containers,
)
from autodeploy.task_definition import clone_with_images as clone_with_model
from tools.world import REGISTRY, SIDECAR_IMAGE, rich_task_definition

DIGEST = "sha256:" + "cd" * 32
ARN = "arn:aws:ecs:us-east-1:123456789012:task-definition/web:7"
MODEL = task_definition_model()  # from the ecs model of the botocore the layer ships
READ_ONLY_KEYS = MODEL.describe_only
clone_with_images = partial(clone_with_model, model=MODEL)


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


def test_a_field_the_model_does_not_know_is_refused_by_name_not_dropped():
    definition, tags = described()
    definition["someFieldEcsAddsTomorrow"] = {"x": 1}
    definition["containerDefinitions"][1]["newContainerKnob"] = True
    with pytest.raises(UnknownTaskDefinitionField) as refused:
        clone_with_images(definition, tags, {}, DIGEST)
    assert "containerDefinitions[1].newContainerKnob, someFieldEcsAddsTomorrow" in str(refused.value)
    assert isinstance(refused.value, MisconfiguredTarget)  # recorded FAILED, misconfigured, with that reason


def test_fields_dropped_by_the_sdk_parser_are_refused_too():
    definition, tags = described()
    with pytest.raises(UnknownTaskDefinitionField, match="task definition web has brandNewField, unknown to"):
        clone_with_images(definition, tags, {}, DIGEST, unmodeled=("brandNewField",))


def test_describe_only_fields_come_from_the_model():
    """botocore 1.44.5's ecs model (service-2.json): TaskDefinition members that
    RegisterTaskDefinitionRequest lacks. deleteRequestedAt is the one a hand list forgot."""
    assert {
        "taskDefinitionArn",
        "revision",
        "status",
        "requiresAttributes",
        "compatibilities",
        "registeredAt",
        "registeredBy",
        "deregisteredAt",
        "deleteRequestedAt",
    } == READ_ONLY_KEYS


def own_tags(count: int) -> list[dict[str, str]]:
    return [{"key": f"team-{i}", "value": "x"} for i in range(count)]


def test_copied_tags_and_ours_fit_in_the_50_ecs_allows():
    definition, _ = described()
    aws_own = [{"key": "aws:cloudformation:stack-name", "value": "web"}]
    fits = clone_with_images(definition, own_tags(48) + aws_own + [{"key": DIGEST_TAG, "value": "old"}], {}, DIGEST)
    assert len(fits.request["tags"]) == 50
    # aws: keys cannot be set by a caller and do not count (the Tag shape's documentation, ecs model)
    assert not [t for t in fits.request["tags"] if t["key"].startswith("aws:")]
    with pytest.raises(
        MisconfiguredTarget,
        match=r"has 49 tags of its own; with autodeploy's 2 the new revision "
        r"would have 51, and ECS allows 50 a resource: remove 1",
    ):
        clone_with_images(definition, own_tags(49), {}, DIGEST)


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


# -- a DescribeTaskDefinition response as ECS sends it -------------------------------------------------
# The wire shape of the ECS API reference's DescribeTaskDefinition "Response Syntax", with fields newer
# than many Lambda runtimes' botocore: enableFaultInjection (TaskDefinition), restartPolicy and
# versionConsistency (ContainerDefinition), deleteRequestedAt (TaskDefinition, describe only); all in
# botocore 1.44.5's ecs service-2.json. Timestamps are epoch seconds, as in the JSON protocol.
RECORDED = {
    "taskDefinition": {
        "taskDefinitionArn": ARN,
        "family": "web",
        "revision": 7,
        "status": "DELETE_IN_PROGRESS",
        "containerDefinitions": [
            {
                "name": "web",
                "image": f"{REGISTRY}/web:1.4.0",
                "essential": True,
                "portMappings": [{"containerPort": 3000, "protocol": "tcp"}],
                "restartPolicy": {"enabled": True, "ignoredExitCodes": [0], "restartAttemptPeriod": 60},
                "versionConsistency": "disabled",
            }
        ],
        "networkMode": "awsvpc",
        "requiresCompatibilities": ["FARGATE"],
        "cpu": "256",
        "memory": "512",
        "runtimePlatform": {"cpuArchitecture": "ARM64", "operatingSystemFamily": "LINUX"},
        "enableFaultInjection": True,
        "compatibilities": ["EC2", "FARGATE"],
        "requiresAttributes": [{"name": "com.amazonaws.ecs.capability.docker-remote-api.1.18"}],
        "registeredAt": 1764400000.0,
        "registeredBy": "arn:aws:iam::123456789012:role/deployer",
        "deleteRequestedAt": 1764403600.0,
    },
    "tags": [{"key": "team", "value": "web"}],
}


def ecs_answering(body: dict) -> EcsServices:
    """An ECS adapter whose botocore client gets ``body`` from the wire for DescribeTaskDefinition."""
    client = botocore.session.get_session().create_client(
        "ecs", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )

    class Raw:
        def stream(self, **_):
            yield json.dumps(body).encode()

    def answer(request, **_):
        return AWSResponse(request.url, 200, HTTPHeaders({"Content-Type": "application/x-amz-json-1.1"}), Raw())

    client.meta.events.register("before-send.ecs.DescribeTaskDefinition", answer)
    return EcsServices(client)


def test_a_recorded_response_with_newer_fields_clones_them_all_and_registers():
    source = ecs_answering(RECORDED).task_definition(ARN)
    assert source.unmodeled == ()

    request = clone_with_images(source.definition, source.tags, {"web": f"{REGISTRY}/web@{DIGEST}"}, DIGEST).request

    assert request["enableFaultInjection"] is True
    web = request["containerDefinitions"][0]
    assert web["restartPolicy"] == {"enabled": True, "ignoredExitCodes": [0], "restartAttemptPeriod": 60}
    assert web["versionConsistency"] == "disabled"
    assert "deleteRequestedAt" not in request
    # RegisterTaskDefinition accepts it: botocore's own parameter validation against the input shape.
    register = botocore.session.get_session().get_service_model("ecs").operation_model("RegisterTaskDefinition")
    validate_parameters(request, register.input_shape)


def test_a_field_the_sdk_parser_drops_is_named_from_the_wire_and_refused():
    body = copy.deepcopy(RECORDED)
    body["taskDefinition"]["someFieldEcsAddsTomorrow"] = {"mode": "on"}
    body["taskDefinition"]["containerDefinitions"][0]["newContainerKnob"] = 3

    source = ecs_answering(body).task_definition(ARN)

    assert "someFieldEcsAddsTomorrow" not in source.definition  # what botocore's parser does: drops it
    assert source.unmodeled == ("containerDefinitions[0].newContainerKnob", "someFieldEcsAddsTomorrow")
    with pytest.raises(UnknownTaskDefinitionField, match=r"containerDefinitions\[0\]\.newContainerKnob, some"):
        clone_with_images(source.definition, source.tags, {}, DIGEST, unmodeled=source.unmodeled)
