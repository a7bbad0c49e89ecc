"""Hostile events through each whole handler: nothing escapes, nothing changes in AWS, a reason comes back.

Each example takes a sample from ``events/`` and breaks one field the handler needs: it removes
it, gives it another JSON type, or replaces it with text of any length up to the field's limit in
AWS's own model (botocore: ECR RepositoryName 256 and ImageTag 300, CloudWatch AlarmName 255,
CloudFormation ClientRequestToken 128; 256 elsewhere) made of ASCII, Unicode and at least one
control character, which no field accepts. Some examples are arbitrary JSON instead. The world is
a registered service, a registered stack and a service under scaling review, so that a break that
slipped through would have something to change. Example counts stay modest: these run the
handlers on moto (tests/unit/test_fuzz_parsers.py fuzzes the parsers alone, at volume).
"""

from __future__ import annotations

import copy
from functools import cache
from typing import Any

import botocore.session
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.support.events import load_event
from tools.world import REGISTRY, create_service, create_stack, push_image

FUZZ = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@cache
def limit(service: str, shape: str) -> int:
    model = botocore.session.get_session().get_service_model(service)
    return int(model.shape_for(shape).metadata["max"])


def limits() -> dict[str, int]:
    return {
        "repository-name": limit("ecr", "RepositoryName"),
        "image-tag": limit("ecr", "ImageTag"),
        "alarmName": limit("cloudwatch", "AlarmName"),
        "client-request-token": limit("cloudformation", "ClientRequestToken"),
    }


CONTROL = [chr(c) for c in (*range(0x00, 0x20), 0x7F, 0x85)] + ["\u2028", "\u2029"]
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=8,
)


# Letters and digits ``\\w`` accepts outside ASCII: every field but an alarm name is ASCII only.
UNICODE_WORD = ["\u00e9", "\u0663", "\uff41", "\u0391", "\u00df"]


@st.composite
def broken_text(draw: st.DrawFn, original: str, maximum: int, ascii_only: bool) -> str:
    """Text up to ``maximum`` characters, with a control character (or, in an ASCII-only field, a
    Unicode letter) somewhere; often the valid value with a trailing newline, which ``$`` lets by."""
    body = draw(st.sampled_from([original, original]) | st.text(max_size=maximum - 1))[: maximum - 1]
    bad = draw(st.just("\n") | st.sampled_from([*CONTROL, *(UNICODE_WORD if ascii_only else [])]))
    at = draw(st.sampled_from([len(body)]) | st.integers(0, len(body)))
    return body[:at] + bad + body[at:]


@st.composite
def broken(draw: st.DrawFn, samples: list[str], required: dict[str, list[tuple[str, ...]]]) -> Any:
    """A sample with one required field removed, retyped or corrupted; or arbitrary JSON."""
    if draw(st.integers(0, 9)) == 0:
        value = draw(json_values)
        return value if value != {} else {"detail": value}
    name = draw(st.sampled_from(samples))
    event = copy.deepcopy(SCHEDULED) if name == "scheduled" else load_event(name)
    path = draw(st.sampled_from(required[name]))
    parent = event
    for key in path[:-1]:
        parent = parent[key]
    mutation = draw(st.sampled_from(["remove", "retype", "corrupt", "corrupt"]))
    if mutation == "remove":
        parent.pop(path[-1], None)
    elif mutation == "retype":
        # Another JSON type than the field's own (``detail`` is an object: another object is no break).
        kind = type(parent.get(path[-1], ""))
        parent[path[-1]] = draw(json_values.filter(lambda v: not isinstance(v, (str, kind))))
    else:
        original = parent.get(path[-1])
        original = original if isinstance(original, str) else ""
        key = path[-1]
        parent[key] = draw(broken_text(original, limits().get(key, 256), ascii_only=key != "alarmName"))
    return event


# EventBridge's own Scheduled Event (the classic schedule rule's event), as reconcile may receive it.
SCHEDULED = {
    "version": "0",
    "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa",
    "detail-type": "Scheduled Event",
    "source": "aws.events",
    "account": "123456789012",
    "time": "2026-11-26T10:15:00Z",
    "region": "us-east-1",
    "resources": [],
    "detail": {},
}


ENVELOPE = [("id",), ("account",), ("region",), ("time",), ("source",), ("detail-type",), ("detail",)]
ECR = {
    name: ENVELOPE + [("detail", k) for k in ("action-type", "result", "repository-name", "image-digest", "image-tag")]
    for name in ("ecr-push.json", "ecr-push-forwarded.json", "ecr-push-with-media-types.json")
}
ROLLOUT = {
    **{
        name: [*ENVELOPE, ("resources",), ("detail", "eventName"), ("detail", "deploymentId")]
        for name in ("ecs-deployment-completed.json", "ecs-deployment-failed.json")
    },
    **{
        name: [
            *ENVELOPE,
            ("detail", "stack-id"),
            ("detail", "status-details"),
            ("detail", "status-details", "status"),
            ("detail", "client-request-token"),
        ]
        for name in ("cfn-stack-update-complete.json", "cfn-stack-update-rollback-complete.json")
    },
}
REVIEW = {
    name: [*ENVELOPE, ("detail", "alarmName"), ("detail", "state"), ("detail", "state", "value")]
    for name in ("cloudwatch-alarm-state-change.json", "cloudwatch-alarm-ok.json")
}


@pytest.fixture
def world(aws):
    """Something for a slipped-through event to change: a service, a stack, a reviewed service."""
    push_image(aws.ecr, "web", "1.4.0")
    service = create_service(
        aws.ecs,
        "prod",
        "web",
        f"{REGISTRY}/web:1.4.0",
        {"autodeploy:repository": "web", "autodeploy:scaling-review": "act"},
    )
    stack = create_stack(
        aws.cloudformation,
        "web-service",
        "1.4.0",
        {"autodeploy:repository": "web", "autodeploy:parameter": "BuildNumber"},
    )
    return {"service": service, "stack": stack}


def snapshot(aws, world) -> dict[str, Any]:
    """Everything a handler could change: ledger, decisions, service, revisions, stack, notifications."""
    stack = aws.cloudformation.describe_stacks(StackName=world["stack"])["Stacks"][0]
    service = aws.service(world["service"])
    return {
        "ledger": aws.dynamodb.scan(TableName=aws.ledger_table)["Items"],
        "decisions": aws.dynamodb.scan(TableName=aws.decisions_table)["Items"],
        "service": (service["taskDefinition"], service["desiredCount"]),
        "revisions": aws.revisions("web"),
        "stack": (stack["StackStatus"], stack["Parameters"]),
        "notifications": aws.notifications(),
    }


def near_miss(sample: str, path: tuple[str, ...], suffix: str = "\n") -> dict[str, Any]:
    """A sample whose one field is valid but for a trailing newline (which ``$`` lets by) or a
    Unicode digit (which ``\\d`` and ``\\w`` let by): always among the examples."""
    event = copy.deepcopy(SCHEDULED) if sample == "scheduled" else load_event(sample)
    parent = event
    for key in path[:-1]:
        parent = parent[key]
    parent[path[-1]] = parent[path[-1]] + suffix
    return event


def assert_refused_with_a_reason(result: dict[str, Any]) -> None:
    reasons = [result.get(key) for key in ("reason", "ignored", "why")]
    assert any(isinstance(r, str) and r.strip() for r in reasons), result
    assert result.get("targets", []) == [], result


@FUZZ
@given(event=broken(list(ECR), ECR))
@example(event=near_miss("ecr-push.json", ("detail", "image-tag")))
@example(event=near_miss("ecr-push.json", ("detail", "image-tag"), "\u0663"))
@example(event=near_miss("ecr-push.json", ("detail", "repository-name")))
@example(event=near_miss("ecr-push.json", ("detail", "image-digest")))
@example(event=near_miss("ecr-push.json", ("account",)))
@example(event=near_miss("ecr-push.json", ("region",)))
@example(event=near_miss("ecr-push.json", ("id",)))
def test_deploy_handler(aws, world, invoke_deploy, event):
    before = snapshot(aws, world)
    result = invoke_deploy(event)
    assert_refused_with_a_reason(result)
    assert snapshot(aws, world) == before


@FUZZ
@given(event=broken(list(ROLLOUT), ROLLOUT))
@example(event=near_miss("ecs-deployment-completed.json", ("detail", "deploymentId")))
@example(event=near_miss("cfn-stack-update-complete.json", ("detail", "stack-id")))
@example(event=near_miss("cfn-stack-update-complete.json", ("detail", "client-request-token")))
def test_track_handler(aws, world, invoke_track, event):
    before = snapshot(aws, world)
    result = invoke_track(event)
    assert_refused_with_a_reason(result)
    assert result.get("outcome") in ("rejected", "ignored"), result
    assert snapshot(aws, world) == before


@FUZZ
@given(event=broken(list(REVIEW), REVIEW))
@example(event=near_miss("cloudwatch-alarm-state-change.json", ("detail", "alarmName")))
@example(event=near_miss("cloudwatch-alarm-state-change.json", ("detail", "state", "value")))
def test_review_handler(aws, world, invoke_review, event):
    before = snapshot(aws, world)
    result = invoke_review(event)
    assert_refused_with_a_reason(result)
    assert result.get("outcome") in ("rejected", "ignored"), result
    assert snapshot(aws, world) == before


@FUZZ
@given(event=broken(["scheduled"], {"scheduled": ENVELOPE}) | json_values.filter(lambda v: v != {}))
@example(event=near_miss("scheduled", ("detail-type",)))
def test_reconcile_handler(aws, world, event):
    from tests.integration.conftest import _invoker

    before = snapshot(aws, world)
    result = _invoker("reconcile_function", "ReconcileFunction")(event)
    assert_refused_with_a_reason(result)
    assert result.get("outcome") == "rejected", result
    assert snapshot(aws, world) == before
