"""TrackFunction on moto: every rollout to its end, the lock released, the pending push next.

moto's ECS deployments never converge and ECS emits no events on moto (EMULATOR.md): the events
come from events/ecs-deployment-*.json and events/cfn-stack-*.json, aimed at the real deployment.
"""

from __future__ import annotations

import os

import pytest

from tests.support.events import ecr_push, ecs_deployment, stack_status
from tests.support.faults import amended
from tools.world import (
    REGISTRY,
    add_container_instance,
    crash_tasks,
    create_service,
    create_stack,
    primary_deployment,
    push_image,
)

WEB = {"autodeploy:repository": "web"}


@pytest.fixture
def web_service(aws, request):
    """The web service, with the deployment circuit breaker unless a test asks for it off (indirect False)."""
    push_image(aws.ecr, "web", "1.4.0")
    return create_service(
        aws.ecs, "prod", "web", f"{REGISTRY}/web:1.4.0", WEB, circuit_breaker=getattr(request, "param", True)
    )


def rollback_enabled(parsed):
    """moto does not keep deploymentConfiguration (EMULATOR.md); AWS returns what the service has."""
    for service in parsed.get("services", []):
        service["deploymentConfiguration"] = {
            "maximumPercent": 200,
            "minimumHealthyPercent": 50,
            "deploymentCircuitBreaker": {"enable": True, "rollback": True},
        }


def test_completed_deployment_succeeds_with_lead_time_and_notifies(aws, invoke_deploy, invoke_track, web_service):
    digest = push_image(aws.ecr, "web", "1.5.0")
    invoke_deploy(ecr_push("1.5.0", digest, time="2026-11-26T10:15:00Z"))
    deployment = primary_deployment(aws.ecs, web_service)

    invoke_track(ecs_deployment("ecs-deployment-in-progress.json", web_service, deployment["id"]))
    result = invoke_track(
        ecs_deployment("ecs-deployment-completed.json", web_service, deployment["id"], time="2026-11-26T10:19:42Z")
    )

    assert result["status"] == "SUCCEEDED"
    [record] = aws.ledger(web_service)
    assert record["status"] == "SUCCEEDED"
    assert record["lead_time_seconds"] == 282
    assert record["deployment_id"] == deployment["id"]
    assert record["task_definition_arn"] == deployment["taskDefinition"]
    state = aws.state(web_service)
    assert "in_flight" not in state
    assert state["last_succeeded"]["digest"] == digest
    started, succeeded = aws.notifications()
    assert (started["status"], succeeded["status"]) == ("IN_PROGRESS", "SUCCEEDED")
    assert succeeded["subject"] == "[autodeploy] SUCCEEDED prod/web: web:1.5.0 in 282s"
    assert succeeded["lead_time_seconds"] == 282


def test_circuit_breaker_rollback_is_rolled_back_with_the_stopped_tasks_reasons(
    aws, invoke_deploy, invoke_track, web_service
):
    digest = push_image(aws.ecr, "web", "1.5.0")
    invoke_deploy(ecr_push("1.5.0", digest))
    deployment = primary_deployment(aws.ecs, web_service)
    add_container_instance(aws.ecs, aws.ec2, "prod")
    crash_tasks(
        aws.ecs, "prod", deployment["taskDefinition"], deployment["id"], "Essential container in task exited", count=1
    )

    with amended(aws.ecs, "DescribeServices", rollback_enabled):
        result = invoke_track(ecs_deployment("ecs-deployment-failed.json", web_service, deployment["id"]))
    # The service is stable again on the old revision: that is the rollback, not our success.
    invoke_track(ecs_deployment("ecs-deployment-rollback-in-progress.json", web_service, "ecs-svc/8815602394857610042"))

    assert result["status"] == "ROLLED_BACK"
    [record] = aws.ledger(web_service)
    assert record["status"] == "ROLLED_BACK"
    assert record["reason"].startswith(
        "the deployment circuit breaker rolled the service back to the previous image: "
        "ECS deployment circuit breaker: task failed to start. task "
    )
    assert "stopped: Essential container in task exited" in record["reason"]
    assert [t["stopped_reason"] for t in record["failure"]["stopped_tasks"]] == ["Essential container in task exited"]
    assert aws.state(web_service)["quarantined"][digest].startswith("ROLLED_BACK")
    assert [n["status"] for n in aws.notifications()] == ["IN_PROGRESS", "ROLLED_BACK"]


@pytest.mark.parametrize("web_service", [False], indirect=True, ids=["without circuit breaker"])
def test_failed_deployment_without_rollback_is_failed(aws, invoke_deploy, invoke_track, web_service):
    digest = push_image(aws.ecr, "web", "1.5.0")
    invoke_deploy(ecr_push("1.5.0", digest))
    deployment = primary_deployment(aws.ecs, web_service)

    result = invoke_track(ecs_deployment("ecs-deployment-failed.json", web_service, deployment["id"]))

    assert result["status"] == "FAILED"
    assert aws.state(web_service)["quarantined"][digest].startswith("FAILED")


def test_events_of_other_deployments_are_ignored(aws, invoke_deploy, invoke_track, web_service):
    digest = push_image(aws.ecr, "web", "1.5.0")
    invoke_deploy(ecr_push("1.5.0", digest))

    result = invoke_track(ecs_deployment("ecs-deployment-completed.json", web_service, "ecs-svc/1111111111111111111"))

    assert result["outcome"] == "ignored"
    assert aws.ledger(web_service)[0]["status"] == "IN_PROGRESS"


def test_a_duplicate_terminal_event_changes_nothing(aws, invoke_deploy, invoke_track, web_service):
    digest = push_image(aws.ecr, "web", "1.5.0")
    invoke_deploy(ecr_push("1.5.0", digest))
    event = ecs_deployment("ecs-deployment-completed.json", web_service, primary_deployment(aws.ecs, web_service)["id"])
    invoke_track(event)

    again = invoke_track(event)

    assert again["outcome"] == "ignored"
    assert [n["status"] for n in aws.notifications()] == ["IN_PROGRESS", "SUCCEEDED"]


def test_a_push_during_a_rollout_waits_and_deploys_when_it_ends(aws, invoke_deploy, invoke_track, web_service):
    first, second, third = (push_image(aws.ecr, "web", tag) for tag in ("1.0.1", "1.0.2", "1.0.3"))
    invoke_deploy(ecr_push("1.0.1", first, time="2026-11-26T10:00:00Z"))
    rollout = primary_deployment(aws.ecs, web_service)

    queued = invoke_deploy(ecr_push("1.0.2", second, time="2026-11-26T10:00:10Z"))
    newest = invoke_deploy(ecr_push("1.0.3", third, time="2026-11-26T10:00:20Z"))

    assert [t["status"] for t in queued["targets"]] == ["QUEUED"]
    assert sorted(t["status"] for t in newest["targets"]) == ["QUEUED", "SUPERSEDED"]
    assert len(aws.revisions("web")) == 2  # nothing registered for the waiting pushes

    result = invoke_track(ecs_deployment("ecs-deployment-completed.json", web_service, rollout["id"]))

    assert [t["status"] for t in result["next"]] == ["IN_PROGRESS"]
    by_tag = {r["tag"]: r["status"] for r in aws.ledger(web_service)}
    assert by_tag == {"1.0.1": "SUCCEEDED", "1.0.2": "SUPERSEDED", "1.0.3": "IN_PROGRESS"}
    running = aws.task_definition(aws.service(web_service)["taskDefinition"])["taskDefinition"]
    assert running["containerDefinitions"][0]["image"] == f"{REGISTRY}/web@{third}"


def test_stack_update_complete_succeeds_and_rollback_complete_is_rolled_back(aws, invoke_deploy, invoke_track):
    tags = {"autodeploy:repository": "web", "autodeploy:parameter": "BuildNumber"}
    stack = create_stack(aws.cloudformation, "web-service", "1.4.0", tags)
    good, bad = push_image(aws.ecr, "web", "1.5.0"), push_image(aws.ecr, "web", "1.6.0")
    first = invoke_deploy(ecr_push("1.5.0", good, time="2026-11-26T10:00:00Z"))

    done = invoke_track(stack_status("cfn-stack-update-complete.json", stack, f"autodeploy-{first['event_id']}"))
    second = invoke_deploy(ecr_push("1.6.0", bad, time="2026-11-26T11:00:00Z"))
    other = invoke_track(stack_status("cfn-stack-update-rollback-complete.json", stack, "Console-UpdateStack-1"))
    rolled = invoke_track(
        stack_status("cfn-stack-update-rollback-complete.json", stack, f"autodeploy-{second['event_id']}")
    )

    assert done["status"] == "SUCCEEDED"
    assert other["outcome"] == "ignored"  # someone else's stack operation
    assert rolled["status"] == "ROLLED_BACK"
    assert [r["status"] for r in aws.ledger(stack)] == ["ROLLED_BACK", "SUCCEEDED"]
    assert bad in aws.state(stack)["quarantined"]


def test_a_failing_notification_never_fails_the_deployment(aws, invoke_deploy, invoke_track, web_service, caplog):
    aws.sns.delete_topic(TopicArn=os.environ["NOTIFICATION_TOPIC_ARN"])
    digest = push_image(aws.ecr, "web", "1.5.0")

    result = invoke_deploy(ecr_push("1.5.0", digest))
    tracked = invoke_track(
        ecs_deployment("ecs-deployment-completed.json", web_service, primary_deployment(aws.ecs, web_service)["id"])
    )

    assert result["targets"][0]["status"] == "IN_PROGRESS"
    assert tracked["status"] == "SUCCEEDED"
    assert [r.getMessage() for r in caplog.records].count("notification failed") == 2


def test_malformed_rollout_events_are_rejected_with_the_reason(aws, invoke_track):
    event = ecs_deployment("ecs-deployment-completed.json", "arn:aws:ecs:us-east-1:123456789012:service/prod/web", "x")
    event["resources"] = []
    result = invoke_track(event)
    assert result == {"outcome": "rejected", "reason": "resources must name exactly one ECS service (got [])"}
