"""DeployFunction on moto, CloudFormation stack targets.

moto cannot update ECS resources through CloudFormation (EMULATOR.md), so the stand-in service
stack holds the image in an SSM parameter; what is under test is the UpdateStack request.
"""

from __future__ import annotations

import pytest

from autodeploy.errors import RetryableError
from tests.support.events import ecr_push
from tests.support.faults import failing
from tools.world import REGISTRY, create_stack, push_image

STACK_TAGS = {"autodeploy:repository": "web", "autodeploy:parameter": "BuildNumber", "team": "web"}


def parameters(aws, stack: str) -> dict[str, str]:
    described = aws.cloudformation.describe_stacks(StackName=stack)["Stacks"][0]
    return {p["ParameterKey"]: p["ParameterValue"] for p in described["Parameters"]}


def test_push_updates_only_the_registered_parameter_and_keeps_the_stack_tags(aws, invoke_deploy):
    push_image(aws.ecr, "web", "1.4.0")
    stack = create_stack(aws.cloudformation, "web-service", "1.4.0", STACK_TAGS)
    digest = push_image(aws.ecr, "web", "1.5.0")

    with_calls = []
    aws.cloudformation.meta.events.register(
        "provide-client-params.cloudformation.UpdateStack", lambda params, **_: with_calls.append(dict(params))
    )
    result = invoke_deploy(ecr_push("1.5.0", digest))

    assert result["targets"][0]["status"] == "IN_PROGRESS"
    assert parameters(aws, stack) == {"ServiceName": "web-service", "BuildNumber": "1.5.0"}
    [request] = with_calls
    assert request["UsePreviousTemplate"] is True
    assert request["Parameters"] == [
        {"ParameterKey": "ServiceName", "UsePreviousValue": True},
        {"ParameterKey": "BuildNumber", "ParameterValue": "1.5.0"},
    ]
    # Only the parameter changes: role, tags and notification ARNs persist when omitted
    # (botocore's cloudformation model, UpdateStackInput), so none is re-sent.
    assert not {"RoleARN", "Tags", "NotificationARNs"} & set(request)
    described = aws.cloudformation.describe_stacks(StackName=stack)["Stacks"][0]
    assert {t["Key"]: t["Value"] for t in described["Tags"]} == STACK_TAGS
    assert request["ClientRequestToken"] == f"autodeploy-{result['event_id']}"
    [record] = aws.ledger(stack)
    assert record["stack_id"] == stack
    assert record["previous_image"] == "1.4.0"
    assert {k: record["plan"][k] for k in ("parameter", "before", "after")} == {
        "parameter": "BuildNumber",
        "before": "1.4.0",
        "after": "1.5.0",
    }
    assert record["plan"]["method"].startswith("UpdateStack with the previous template")


def test_image_value_gives_the_parameter_the_full_uri_pinned_by_digest(aws, invoke_deploy):
    push_image(aws.ecr, "web", "1.4.0")
    stack = create_stack(
        aws.cloudformation, "web-service", f"{REGISTRY}/web:1.4.0", STACK_TAGS | {"autodeploy:value": "image"}
    )
    digest = push_image(aws.ecr, "web", "1.5.0")

    invoke_deploy(ecr_push("1.5.0", digest))

    assert parameters(aws, stack)["BuildNumber"] == f"{REGISTRY}/web@{digest}"


def test_digest_value_gives_the_parameter_the_digest(aws, invoke_deploy):
    stack = create_stack(aws.cloudformation, "web-service", "none-yet", STACK_TAGS | {"autodeploy:value": "digest"})
    digest = push_image(aws.ecr, "web", "1.5.0")

    invoke_deploy(ecr_push("1.5.0", digest))

    assert parameters(aws, stack)["BuildNumber"] == digest


def test_semver_stack_rejects_an_older_version(aws, invoke_deploy):
    push_image(aws.ecr, "web", "2.0.0")
    stack = create_stack(aws.cloudformation, "web-service", "2.0.0", STACK_TAGS | {"autodeploy:tags": "semver"})
    digest = push_image(aws.ecr, "web", "1.9.9")

    result = invoke_deploy(ecr_push("1.9.9", digest))

    assert result["targets"][0]["status"] == "REJECTED"
    assert parameters(aws, stack)["BuildNumber"] == "2.0.0"


def test_dry_run_stack_is_planned_not_updated(aws, invoke_deploy):
    stack = create_stack(aws.cloudformation, "web-service", "1.4.0", STACK_TAGS | {"autodeploy:mode": "dry-run"})
    digest = push_image(aws.ecr, "web", "1.5.0")

    invoke_deploy(ecr_push("1.5.0", digest))

    assert parameters(aws, stack)["BuildNumber"] == "1.4.0"
    assert aws.ledger(stack)[0]["status"] == "PLANNED"


def test_stack_missing_the_registered_parameter_is_misconfigured(aws, invoke_deploy):
    stack = create_stack(aws.cloudformation, "web-service", "1.4.0", STACK_TAGS | {"autodeploy:parameter": "ImageTag"})
    digest = push_image(aws.ecr, "web", "1.5.0")

    invoke_deploy(ecr_push("1.5.0", digest))

    [record] = aws.ledger(stack)
    assert record["status"] == "FAILED"
    assert record["reason"] == "stack web-service has no parameter 'ImageTag' (parameters: BuildNumber, ServiceName)"


def test_stack_without_parameter_tag_is_misconfigured(aws, invoke_deploy):
    stack = create_stack(aws.cloudformation, "web-service", "1.4.0", {"autodeploy:repository": "web"})
    digest = push_image(aws.ecr, "web", "1.5.0")

    invoke_deploy(ecr_push("1.5.0", digest))

    assert "autodeploy:parameter is required on a stack target" in aws.ledger(stack)[0]["reason"]


def test_busy_stack_is_retried_by_lambda_and_the_retry_finishes(aws, invoke_deploy):
    stack = create_stack(aws.cloudformation, "web-service", "1.4.0", STACK_TAGS)
    digest = push_image(aws.ecr, "web", "1.5.0")
    event = ecr_push("1.5.0", digest)
    busy = f"Stack:{stack} is in UPDATE_IN_PROGRESS state and can not be updated."

    with (
        failing(aws.cloudformation, "UpdateStack", "ValidationError", busy),
        pytest.raises(RetryableError, match="is busy"),
    ):
        invoke_deploy(event)
    assert parameters(aws, stack)["BuildNumber"] == "1.4.0"
    assert aws.state(stack)["in_flight"]["sk"] == aws.ledger(stack)[0]["sk"]  # the retry finishes what it started

    invoke_deploy(event)
    assert parameters(aws, stack)["BuildNumber"] == "1.5.0"


def test_stack_deleted_before_deploy_is_skipped(aws, invoke_deploy):
    stack = create_stack(aws.cloudformation, "web-service", "1.4.0", STACK_TAGS)
    digest = push_image(aws.ecr, "web", "1.5.0")
    gone = f"Stack with id {stack} does not exist"

    with failing(aws.cloudformation, "DescribeStacks", "ValidationError", gone):
        result = invoke_deploy(ecr_push("1.5.0", digest))

    assert result["targets"][0]["status"] == "SKIPPED"
    assert aws.ledger(stack)[0]["reason_code"] == "target-gone"


def test_services_and_stacks_of_one_repository_all_deploy(aws, invoke_deploy):
    from tools.world import create_service

    push_image(aws.ecr, "web", "1.4.0")
    service = create_service(aws.ecs, "prod", "web", f"{REGISTRY}/web:1.4.0", {"autodeploy:repository": "web"})
    stack = create_stack(aws.cloudformation, "web-service", "1.4.0", STACK_TAGS)
    digest = push_image(aws.ecr, "web", "1.5.0")

    result = invoke_deploy(ecr_push("1.5.0", digest))

    assert {t["target"]: t["status"] for t in result["targets"]} == {service: "IN_PROGRESS", stack: "IN_PROGRESS"}


SERVICE_STACK_WITH_ECS = {
    "AWSTemplateFormatVersion": "2010-09-09",
    "Parameters": {"BuildNumber": {"Type": "String"}},
    "Resources": {
        "Cluster": {"Type": "AWS::ECS::Cluster", "Properties": {"ClusterName": "prod"}},
        "Task": {
            "Type": "AWS::ECS::TaskDefinition",
            "Properties": {
                "Family": "web",
                "ContainerDefinitions": [
                    {"Name": "web", "Image": {"Fn::Sub": f"{REGISTRY}/web:${{BuildNumber}}"}, "Memory": 128}
                ],
            },
        },
        "Service": {
            "Type": "AWS::ECS::Service",
            "Properties": {"Cluster": {"Ref": "Cluster"}, "ServiceName": "web", "TaskDefinition": {"Ref": "Task"}},
        },
    },
}


def test_the_service_of_a_registered_stack_is_never_deployed_nor_recorded_on_its_own(aws, invoke_deploy):
    """AWS puts no aws:cloudformation:* tag on ECS services, while stack tags do propagate to them
    (CloudFormation User Guide, "Resource tags"; EMULATOR.md), so the service carries the stack's
    autodeploy:parameter, which is wrong on a service. moto propagates nothing: the test tags the
    service as AWS would. Ownership is read from the stack (ListStackResources)."""
    import json

    from autodeploy import wiring

    push_image(aws.ecr, "web", "1.4.0")
    tags = STACK_TAGS | {"autodeploy:mode": "dry-run"}
    stack = aws.cloudformation.create_stack(
        StackName="web-service",
        TemplateBody=json.dumps(SERVICE_STACK_WITH_ECS),
        Parameters=[{"ParameterKey": "BuildNumber", "ParameterValue": "1.4.0"}],
        Tags=[{"Key": k, "Value": v} for k, v in tags.items()],
    )["StackId"]
    [service] = [
        r["PhysicalResourceId"]
        for r in aws.cloudformation.list_stack_resources(StackName=stack)["StackResourceSummaries"]
        if r["ResourceType"] == "AWS::ECS::Service"
    ]
    aws.ecs.tag_resource(resourceArn=service, tags=[{"key": k, "value": v} for k, v in tags.items()])
    assert not [t for t in aws.ecs.list_tags_for_resource(resourceArn=service)["tags"] if t["key"].startswith("aws:")]

    results = [invoke_deploy(ecr_push(tag, push_image(aws.ecr, "web", tag))) for tag in ("1.5.0", "1.6.0")]

    assert [[(t["target"], t["status"]) for t in r["targets"]] for r in results] == [[(stack, "PLANNED")]] * 2
    assert aws.ledger(service) == []
    everything = wiring.deploy_on_push().discovery.find_all()
    assert everything.stack_managed == [service]
    assert [t.arn for t in everything.targets] == [stack] and everything.misconfigured == []


def test_a_service_whose_stack_is_not_registered_is_still_judged_on_its_own_tags(aws, invoke_deploy):
    """The same propagated tags without the stack registered (its tags removed): the service's
    own registration is misconfigured (autodeploy:parameter is for stacks) and says so."""
    from tools.world import create_service

    push_image(aws.ecr, "web", "1.4.0")
    service = create_service(aws.ecs, "prod", "web", f"{REGISTRY}/web:1.4.0", STACK_TAGS)

    result = invoke_deploy(ecr_push("1.5.0", push_image(aws.ecr, "web", "1.5.0")))

    assert [(t["target"], t["status"]) for t in result["targets"]] == [(service, "FAILED")]
    assert "autodeploy:parameter applies to stack targets only" in result["targets"][0]["reason"]
