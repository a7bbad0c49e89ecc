from __future__ import annotations

from datetime import timedelta

import pytest

from autodeploy.errors import MisconfiguredTarget
from autodeploy.gates import Gate
from autodeploy.gates.scan import ScanThreshold
from autodeploy.registration import (
    MAX_BAKE,
    MIN_BAKE,
    Gates,
    Mode,
    ParameterValue,
    TagFilter,
    TagRule,
    TargetKind,
    Upstream,
    parse_duration,
    parse_target,
)

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


# --- release gates (issue 11) --------------------------------------------------------------------


def test_no_gate_tags_declare_no_gates():
    target = parse_target(SERVICE, {"autodeploy:repository": "web"})
    assert target.gates == Gates() and target.gates.declared == ()


def test_every_gate_tag_is_read():
    target = parse_target(
        SERVICE,
        {
            "autodeploy:repository": "web",
            "autodeploy:after": "staging/web",
            "autodeploy:bake": "2h",
            "autodeploy:scan": "critical",
            "autodeploy:window": "Mon-Thu 08:00-17:00 Europe/Berlin + Fri 08:00-12:00 Europe/Berlin",
            "autodeploy:approval": "required",
        },
    )
    gates = target.gates
    assert gates.after == Upstream(TargetKind.SERVICE, "staging/web", "web", "staging")
    assert (gates.bake, gates.bake_time, gates.scan, gates.approval) == (
        timedelta(hours=2),
        timedelta(hours=2),
        ScanThreshold.CRITICAL,
        True,
    )
    assert gates.window is not None and len(gates.window.windows) == 2
    assert gates.declared == (Gate.SCAN, Gate.BAKE, Gate.WINDOW, Gate.APPROVAL)


@pytest.mark.parametrize(
    ("text", "kind", "name"),
    [
        ("staging/web", TargetKind.SERVICE, "web"),
        ("web-staging", TargetKind.STACK, "web-staging"),
        ("arn:aws:ecs:us-east-1:123456789012:service/staging/web", TargetKind.SERVICE, "web"),
        (STACK.replace("web-service", "web-staging"), TargetKind.STACK, "web-staging"),
    ],
)
def test_after_names_a_service_a_stack_or_an_arn(text, kind, name):
    upstream = Upstream.parse(text)
    assert (upstream.kind, upstream.name) == (kind, name)


def test_an_upstream_matches_the_targets_it_names():
    staging_service = "arn:aws:ecs:us-east-1:123456789012:service/staging/web"
    staging_stack = STACK.replace("web-service", "web-staging")
    assert Upstream.parse("staging/web").matches(staging_service)
    assert not Upstream.parse("staging/web").matches(SERVICE)
    assert not Upstream.parse("web").matches(SERVICE)  # a bare name is a stack's
    assert Upstream.parse("web-staging").matches(staging_stack)
    assert Upstream.parse(staging_service).matches(staging_service)
    assert not Upstream.parse(staging_service).matches(staging_service.replace("us-east-1", "eu-west-1"))


def test_durations_are_bounded():
    assert parse_duration("30m") == timedelta(minutes=30)
    assert parse_duration("1m") == MIN_BAKE and parse_duration("7d") == MAX_BAKE
    for text in ("0m", "8d", "169h", "30", "1.5h", "30s", "2 h", "-1h"):
        with pytest.raises(ValueError, match="from 1m to 7d"):
            parse_duration(text)


def test_every_gate_problem_is_named_in_one_message():
    with pytest.raises(MisconfiguredTarget) as raised:
        parse_target(
            STACK,
            {
                "autodeploy:repository": "web",
                "autodeploy:parameter": "BuildNumber",
                "autodeploy:after": "prod/",
                "autodeploy:bake": "2w",
                "autodeploy:scan": "low",
                "autodeploy:window": "Mon-Fri 08:00-17:00 Europe/Berlin, Sat 10:00-12:00 Europe/Berlin",
                "autodeploy:approval": "yes",
            },
        )
    message = str(raised.value)
    for expected in (
        "autodeploy:after='prod/': expected <cluster>/<service>, a stack name, or a service or stack ARN",
        "autodeploy:bake='2w': expected a duration such as 30m, 2h or 1d, from 1m to 7d",
        "autodeploy:scan='low': expected one of 'off', 'critical', 'high', 'medium'",
        "autodeploy:window='Mon-Fri 08:00-17:00 Europe/Berlin, Sat 10:00-12:00 Europe/Berlin': ',' cannot be "
        "written in a tag value on an ECS service",
        "autodeploy:approval='yes': expected 'required'",
    ):
        assert expected in message


def test_a_bake_needs_an_upstream():
    with pytest.raises(MisconfiguredTarget, match="autodeploy:bake needs autodeploy:after"):
        parse_target(SERVICE, {"autodeploy:repository": "web", "autodeploy:bake": "30m"})


@pytest.mark.parametrize("after", ["prod/web", SERVICE])
def test_a_service_cannot_come_after_itself(after):
    with pytest.raises(MisconfiguredTarget, match="names this target itself"):
        parse_target(SERVICE, {"autodeploy:repository": "web", "autodeploy:after": after})


def test_a_stack_cannot_come_after_itself():
    tags = {"autodeploy:repository": "web", "autodeploy:parameter": "BuildNumber", "autodeploy:after": "web-service"}
    with pytest.raises(MisconfiguredTarget, match="names this target itself"):
        parse_target(STACK, tags)


def test_gate_values_with_surrounding_spaces_are_refused_like_the_others():
    with pytest.raises(MisconfiguredTarget, match="autodeploy:scan=' critical' has surrounding spaces"):
        parse_target(SERVICE, {"autodeploy:repository": "web", "autodeploy:scan": " critical"})
