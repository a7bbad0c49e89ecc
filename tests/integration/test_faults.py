"""Faults: throttling and 5xx on every AWS call the functions make, the ledger throttled, the
notification topic gone. Nothing is lost: after Lambda's retries (two, as the template sets)
every push ends in one terminal or in-flight record, with no duplicate revision."""

from __future__ import annotations

import pytest

from autodeploy import wiring
from autodeploy.errors import RetryableError
from tests.integration.test_scaling_review import decisions
from tests.support.events import ecr_push, ecs_deployment
from tests.support.faults import failing
from tools.world import REGISTRY, create_service, create_stack, primary_deployment, push_image

FAULTS = {
    "throttled": ("ThrottlingException", "Rate exceeded", 400),
    "5xx": ("ServiceUnavailableException", "Service unavailable", 503),
}
DEPLOY_CALLS = [
    ("tagging", "GetResources"),
    ("ecs", "DescribeServices"),
    ("ecs", "DescribeTaskDefinition"),
    ("ecr", "DescribeImages"),
    ("dynamodb", "TransactWriteItems"),
    ("ecs", "RegisterTaskDefinition"),
    ("ecs", "UpdateService"),
]
STACK_CALLS = [("cloudformation", "DescribeStacks"), ("cloudformation", "UpdateStack")]
TRACK_CALLS = [
    ("dynamodb", "GetItem"),
    ("ecs", "DescribeServices"),
    ("ecs", "DescribeTaskDefinition"),
    ("dynamodb", "UpdateItem"),
    ("dynamodb", "TransactWriteItems"),
]


def with_lambda_retries(invoke, event, attempts: int = 3):
    """Lambda's asynchronous invocation: the first attempt and two retries, then the failure queue."""
    for attempt in range(attempts):
        try:
            return invoke(event)
        except RetryableError:
            if attempt == attempts - 1:
                raise
    raise AssertionError("unreachable")


@pytest.fixture
def web_service(aws):
    push_image(aws.ecr, "web", "1.4.0")
    return create_service(aws.ecs, "prod", "web", f"{REGISTRY}/web:1.4.0", {"autodeploy:repository": "web"})


def running_image(aws, service):
    return aws.task_definition(aws.service(service)["taskDefinition"])["taskDefinition"]["containerDefinitions"][0][
        "image"
    ]


@pytest.mark.parametrize("fault", FAULTS)
@pytest.mark.parametrize(("client", "operation"), DEPLOY_CALLS)
def test_a_push_survives_faults_on_every_deploy_call(aws, invoke_deploy, web_service, client, operation, fault):
    digest = push_image(aws.ecr, "web", "1.5.0")
    code, message, status = FAULTS[fault]

    with failing(getattr(wiring.aws_clients(), client), operation, code, message, status, times=2) as failed:
        result = with_lambda_retries(invoke_deploy, ecr_push("1.5.0", digest, id="push-under-fault"))

    assert len(failed) == 2  # the fault really hit, twice
    assert [t["status"] for t in result["targets"]] in (["IN_PROGRESS"], ["SKIPPED"])
    assert running_image(aws, web_service) == f"{REGISTRY}/web@{digest}"
    assert len(aws.revisions("web")) == 2  # no duplicate revision
    [record] = aws.ledger(web_service)
    assert record["status"] == "IN_PROGRESS"


@pytest.mark.parametrize("fault", FAULTS)
@pytest.mark.parametrize(("client", "operation"), STACK_CALLS)
def test_a_stack_push_survives_faults(aws, invoke_deploy, client, operation, fault):
    tags = {"autodeploy:repository": "web", "autodeploy:parameter": "BuildNumber"}
    stack = create_stack(aws.cloudformation, "web-service", "1.4.0", tags)
    code, message, status = FAULTS[fault]
    digest = push_image(aws.ecr, "web", "1.5.0")

    with failing(getattr(wiring.aws_clients(), client), operation, code, message, status, times=2):
        with_lambda_retries(invoke_deploy, ecr_push("1.5.0", digest, id="stack-push-under-fault"))

    described = aws.cloudformation.describe_stacks(StackName=stack)["Stacks"][0]
    assert {p["ParameterKey"]: p["ParameterValue"] for p in described["Parameters"]}["BuildNumber"] == "1.5.0"
    assert [r["status"] for r in aws.ledger(stack)] == ["IN_PROGRESS"]


def test_a_stack_busy_for_several_retries_goes_to_the_failure_queue_then_reconcile_finishes(
    aws, invoke_deploy, invoke_reconcile, monkeypatch
):
    from datetime import UTC, datetime, timedelta

    tags = {"autodeploy:repository": "web", "autodeploy:parameter": "BuildNumber"}
    stack = create_stack(aws.cloudformation, "web-service", "1.4.0", tags)
    digest = push_image(aws.ecr, "web", "1.5.0")
    busy = f"Stack:{stack} is in UPDATE_IN_PROGRESS state and can not be updated."

    with (
        failing(wiring.aws_clients().cloudformation, "UpdateStack", "ValidationError", busy, times=3),
        pytest.raises(RetryableError),
    ):
        with_lambda_retries(invoke_deploy, ecr_push("1.5.0", digest, id="busy-stack-push"))
    # The event is in the failure queue; the rollout holds the lock; reconcile finishes it.
    monkeypatch.setattr(wiring.reconcile(), "_clock", lambda: datetime.now(UTC) + timedelta(minutes=6))
    invoke_reconcile()

    described = aws.cloudformation.describe_stacks(StackName=stack)["Stacks"][0]
    assert {p["ParameterKey"]: p["ParameterValue"] for p in described["Parameters"]}["BuildNumber"] == "1.5.0"


@pytest.mark.parametrize("fault", FAULTS)
@pytest.mark.parametrize(("client", "operation"), TRACK_CALLS)
def test_a_rollout_event_survives_faults_on_every_tracker_call(
    aws, invoke_deploy, invoke_track, web_service, client, operation, fault
):
    digest = push_image(aws.ecr, "web", "1.5.0")
    invoke_deploy(ecr_push("1.5.0", digest))
    event = ecs_deployment("ecs-deployment-completed.json", web_service, primary_deployment(aws.ecs, web_service)["id"])
    code, message, status = FAULTS[fault]

    with failing(getattr(wiring.aws_clients(), client), operation, code, message, status, times=2):
        result = with_lambda_retries(invoke_track, event)

    assert result["outcome"] == "closed"
    assert [r["status"] for r in aws.ledger(web_service)] == ["SUCCEEDED"]
    assert "in_flight" not in aws.state(web_service)


def test_a_throttled_ledger_loses_no_push(aws, invoke_deploy, web_service):
    digest = push_image(aws.ecr, "web", "1.5.0")
    dynamodb = wiring.aws_clients().dynamodb
    throttled = (
        "ProvisionedThroughputExceededException",
        "The level of configured provisioned throughput was exceeded",
        400,
    )

    with (
        failing(dynamodb, "TransactWriteItems", *throttled, times=2),
        failing(dynamodb, "GetItem", *throttled, times=1),
    ):
        with_lambda_retries(invoke_deploy, ecr_push("1.5.0", digest, id="ledger-throttled"))

    assert [r["status"] for r in aws.ledger(web_service)] == ["IN_PROGRESS"]
    assert running_image(aws, web_service) == f"{REGISTRY}/web@{digest}"


# The calls every review stands on: a transient failure fails the round, which the schedule redoes.
REVIEW_CALLS = [
    ("tagging", "GetResources"),
    ("ecs", "DescribeServices"),
    ("dynamodb", "BatchGetItem"),
    ("dynamodb", "BatchWriteItem"),
]
# The reads of each service's scaling inputs: a failure is recorded in the services it concerns
# (``unseen``) and the round goes on, so one bad input never blinds the reviewer.
REVIEW_INPUT_CALLS = [
    ("application_autoscaling", "DescribeScalableTargets", "scalable targets"),
    ("application_autoscaling", "DescribeScalingPolicies", "scaling policies"),
    ("application_autoscaling", "DescribeScheduledActions", "scheduled actions"),
    ("cloudwatch", "DescribeAlarms", "alarms"),
    ("cloudwatch", "GetMetricData", "metric AWS/ECS CPUUtilization Average"),
]


def _busy_service(aws):
    from tools.moto_gaps import tasks_run_as_desired
    from tools.world import put_cpu, scalable_service

    service = scalable_service(aws.ecs, aws.autoscaling, aws.cloudwatch, "prod", "web")
    put_cpu(aws.cloudwatch, "prod", "web", [96.0] * 15)
    tasks_run_as_desired(wiring.aws_clients().ecs)  # moto's tasks never run (EMULATOR.md)
    return service


def _activities_unavailable():  # moto's server answers DescribeScalingActivities with HTTP 500 (EMULATOR.md)
    return failing(
        wiring.aws_clients().application_autoscaling, "DescribeScalingActivities", "InternalFailure", "moto", 500, 9
    )


@pytest.mark.parametrize("fault", FAULTS)
@pytest.mark.parametrize(("client", "operation"), REVIEW_CALLS)
def test_a_review_under_faults_raises_and_the_next_round_records_it(aws, invoke_review, client, operation, fault):
    """The schedule is the reviewer's retry: a failed round records nothing half-done, the next one decides."""
    from tests.support.events import load_event

    service = _busy_service(aws)
    code, message, status = FAULTS[fault]
    clients = wiring.aws_clients()

    with (
        _activities_unavailable(),
        failing(getattr(clients, client), operation, code, message, status, times=1),
        pytest.raises(RetryableError),
    ):
        invoke_review(load_event("review-schedule.json"))
    with _activities_unavailable():
        result = invoke_review(load_event("review-schedule.json"))

    assert [r["service"] for r in result["reviewed"]] == [service]
    assert result["reviewed"][0]["decision"] == "SCALE_OUT"


@pytest.mark.parametrize("fault", FAULTS)
@pytest.mark.parametrize(("client", "operation", "input_name"), REVIEW_INPUT_CALLS)
def test_a_failed_input_read_is_recorded_as_unseen_and_the_round_goes_on(
    aws, invoke_review, client, operation, input_name, fault
):
    from tests.support.events import load_event

    service = _busy_service(aws)
    code, message, status = FAULTS[fault]

    with (
        _activities_unavailable(),
        failing(getattr(wiring.aws_clients(), client), operation, code, message, status, times=1),
    ):
        result = invoke_review(load_event("review-schedule.json"))

    assert [r["service"] for r in result["reviewed"]] == [service]
    unseen = decisions(aws, service)[0]["unseen"]
    assert any(u.startswith(f"{input_name}: ") and code in u for u in unseen), unseen
    with _activities_unavailable():
        again = invoke_review(load_event("review-schedule.json"))
    assert again["reviewed"][0]["decision"] == "SCALE_OUT"
