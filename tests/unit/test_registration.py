from __future__ import annotations

import pytest

from autodeploy.errors import MisconfiguredTarget
from autodeploy.registration import Mode, ParameterValue, TagFilter, TagRule, TargetKind, parse_target

SERVICE = "arn:aws:ecs:us-east-1:123456789012:service/prod/web"
STACK = "arn:aws:cloudformation:us-east-1:123456789012:stack/web-service/0a1b2c3d-4e5f-6789-abcd-ef0123456789"


def test_a_service_with_only_the_repository_gets_the_defaults():
    target = parse_target(SERVICE, {"autodeploy:repository": "web"})
    assert target.kind is TargetKind.SERVICE
    assert (target.tag_filter, target.mode, target.containers) == (TagFilter(TagRule.ANY), Mode.APPLY, ())
    assert (target.cluster, target.name) == ("prod", "web")


def test_a_stack_reads_parameter_value_and_mode():
    target = parse_target(
        STACK,
        {
            "autodeploy:repository": "web",
            "autodeploy:parameter": "BuildNumber",
            "autodeploy:value": "image",
            "autodeploy:mode": "dry-run",
            "autodeploy:tags": "semver",
        },
    )
    assert target.kind is TargetKind.STACK
    assert (target.parameter, target.value, target.mode) == ("BuildNumber", ParameterValue.IMAGE, Mode.DRY_RUN)
    assert target.tag_filter.rule is TagRule.SEMVER
    assert target.name == "web-service"


def test_containers_and_prefixes_are_space_separated():
    target = parse_target(
        SERVICE,
        {
            "autodeploy:repository": "web",
            "autodeploy:containers": "web  worker",
            "autodeploy:tags": "prefix:release- prefix:v",
        },
    )
    assert target.containers == ("web", "worker")
    assert target.tag_filter == TagFilter(TagRule.PREFIX, ("release-", "v"))
    assert str(target.tag_filter) == "prefix:release- prefix:v"


def test_every_problem_is_named_in_one_message():
    with pytest.raises(MisconfiguredTarget) as raised:
        parse_target(
            STACK,
            {
                "autodeploy:mode": "yes",
                "autodeploy:value": "uri",
                "autodeploy:tags": "semver any",
                "autodeploy:containers": "web",
            },
        )
    message = str(raised.value)
    for expected in (
        "autodeploy:repository is required",
        "autodeploy:mode='yes': expected one of 'apply', 'dry-run'",
        "autodeploy:value='uri': expected one of 'tag', 'digest', 'image'",
        "autodeploy:tags='semver any'",
        "autodeploy:parameter is required on a stack target",
        "autodeploy:containers applies to service targets only",
    ):
        assert expected in message


@pytest.mark.parametrize("tags", ["prefix:", "prefix", "regex:^v", "semver prefix:v"])
def test_invalid_tag_rules_are_rejected(tags):
    with pytest.raises(MisconfiguredTarget, match="expected 'any', 'semver' or words 'prefix:<text>'"):
        parse_target(SERVICE, {"autodeploy:repository": "web", "autodeploy:tags": tags})


@pytest.mark.parametrize(
    "arn",
    [
        "arn:aws:ecs:us-east-1:123456789012:service/web",  # the old short ARN format has no cluster
        "arn:aws:ecs:us-east-1:123456789012:task-definition/web:1",
        "arn:aws:lambda:us-east-1:123456789012:function:web",
        "not-an-arn",
    ],
)
def test_only_services_and_stacks_can_register(arn):
    with pytest.raises(MisconfiguredTarget, match="only ECS services"):
        parse_target(arn, {"autodeploy:repository": "web"})


def test_parameter_on_a_service_is_a_mistake():
    with pytest.raises(MisconfiguredTarget, match="applies to stack targets only"):
        parse_target(SERVICE, {"autodeploy:repository": "web", "autodeploy:parameter": "BuildNumber"})


def test_a_service_a_registered_stack_created_is_that_stacks():
    """ListStackResources names a stack's services by ARN; a short-format ARN has no cluster."""
    from autodeploy.adapters.discovery import owned_by_stacks

    other = SERVICE.replace("/web", "/api")
    short = "arn:aws:ecs:us-east-1:123456789012:service/worker"
    long_worker = "arn:aws:ecs:us-east-1:123456789012:service/prod/worker"
    assert owned_by_stacks([SERVICE, other, long_worker], [frozenset({SERVICE}), frozenset({short})]) == {
        SERVICE,
        long_worker,
    }
    assert owned_by_stacks([SERVICE], []) == set()
