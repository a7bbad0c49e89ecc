"""ReconcileFunction on moto: missed pushes, missed events, dead invocations, timeouts, quarantine."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from autodeploy import wiring
from autodeploy.errors import RetryableError
from autodeploy.records import Reason, Status
from tests.support.events import ecr_push, ecs_deployment
from tests.support.faults import amended, failing
from tools.world import REGISTRY, create_service, create_stack, primary_deployment, push_image

WEB = {"autodeploy:repository": "web"}


def later(minutes: int):
    return lambda: datetime.now(UTC) + timedelta(minutes=minutes)


def test_a_push_whose_event_was_lost_is_deployed(aws, invoke_reconcile, web_service):
    digest = push_image(aws.ecr, "web", "1.5.0")  # ECR's event never arrived

    result = invoke_reconcile()

    assert [t["status"] for t in result["deployed"]] == ["IN_PROGRESS"]
    [record] = aws.ledger(web_service)
    assert record["event_id"] == f"reconcile-{digest[7:23]}"
    assert record["reason"].startswith("rollout started (catch-up: version 1.5.0 is newer than the deployed 1.4.0")
    assert aws.service(web_service)["taskDefinition"].endswith(":2")


def test_an_up_to_date_target_records_nothing(aws, invoke_reconcile, web_service):
    result = invoke_reconcile()

    assert result["actions"] == []
    assert aws.ledger(web_service) == []


def test_a_quarantined_digest_is_never_redeployed_automatically_but_a_newer_push_is(
    aws, invoke_deploy, invoke_track, invoke_reconcile, web_service
):
    old_revision = aws.service(web_service)["taskDefinition"]
    bad = push_image(aws.ecr, "web", "1.5.0")
    event = ecr_push("1.5.0", bad)
    invoke_deploy(event)
    invoke_track(
        ecs_deployment("ecs-deployment-failed.json", web_service, primary_deployment(aws.ecs, web_service)["id"])
    )
    aws.ecs.update_service(cluster="prod", service="web", taskDefinition=old_revision)  # what ECS's rollback does

    after_reconcile = invoke_reconcile()
    after_duplicate = invoke_deploy(event)

    assert after_reconcile["deployed"] == []
    assert after_duplicate["targets"][0].get("duplicate") is True
    assert aws.service(web_service)["taskDefinition"] == old_revision
    good = push_image(aws.ecr, "web", "1.5.1")
    assert invoke_deploy(ecr_push("1.5.1", good))["targets"][0]["status"] == "IN_PROGRESS"


@pytest.mark.parametrize("web_service", [False], indirect=True, ids=["without circuit breaker"])
def test_a_rollout_without_end_times_out_is_notified_and_frees_the_target(
    aws, invoke_deploy, invoke_reconcile, web_service, monkeypatch
):
    invoke_deploy(ecr_push("1.5.0", push_image(aws.ecr, "web", "1.5.0")))
    aws.notifications()
    monkeypatch.setattr(wiring.reconcile(), "_clock", later(61))

    result = invoke_reconcile()

    assert [a["action"] for a in result["actions"]] == ["timed out"]
    [record] = aws.ledger(web_service)
    assert record["status"] == "TIMED_OUT"
    # The service has no circuit breaker, which the reason names as the likely cause.
    assert record["reason"] == (
        "no terminal state within 60 minutes of the rollout's start "
        "(the service has no deployment circuit breaker, so ECS never reports a failure)"
    )
    state = aws.state(web_service)
    assert "in_flight" not in state
    assert state["quarantined"][record["digest"]].startswith("TIMED_OUT")  # catch-up will not start it again
    assert [n["status"] for n in aws.notifications()] == ["TIMED_OUT"]


def test_a_rollout_whose_completion_event_was_missed_is_closed_from_the_service(
    aws, invoke_deploy, invoke_reconcile, web_service, monkeypatch
):
    invoke_deploy(ecr_push("1.5.0", push_image(aws.ecr, "web", "1.5.0")))
    monkeypatch.setattr(wiring.reconcile(), "_clock", later(10))

    def completed(parsed):
        parsed["services"][0]["deployments"][0]["rolloutState"] = "COMPLETED"

    with amended(aws.ecs, "DescribeServices", completed):
        invoke_reconcile()

    assert aws.ledger(web_service)[0]["status"] == "SUCCEEDED"


def test_a_function_killed_between_registering_and_updating_is_finished_without_a_duplicate_revision(
    aws, invoke_deploy, invoke_reconcile, web_service, monkeypatch
):
    digest = push_image(aws.ecr, "web", "1.5.0")
    with failing(aws.ecs, "UpdateService", "ServerException", "Service unavailable", status=500, times=10):
        for _ in range(3):  # the invocation and Lambda's two retries all die at UpdateService
            with pytest.raises(RetryableError):
                invoke_deploy(ecr_push("1.5.0", digest, id="lost-push"))
    assert len(aws.revisions("web")) == 2
    monkeypatch.setattr(wiring.reconcile(), "_clock", later(6))

    result = invoke_reconcile()

    assert [a["action"] for a in result["actions"]] == ["resumed a rollout that never started"]
    assert len(aws.revisions("web")) == 2
    running = aws.task_definition(aws.service(web_service)["taskDefinition"])["taskDefinition"]
    assert running["containerDefinitions"][0]["image"] == f"{REGISTRY}/web@{digest}"


def test_a_pending_push_left_behind_is_deployed(aws, invoke_deploy, invoke_reconcile, web_service):
    first, second = push_image(aws.ecr, "web", "1.5.0"), push_image(aws.ecr, "web", "1.6.0")
    invoke_deploy(ecr_push("1.5.0", first, time="2026-11-26T10:00:00Z"))
    invoke_deploy(ecr_push("1.6.0", second, time="2026-11-26T10:00:05Z"))
    ledger = wiring.deploy_on_push().ledger
    in_flight = ledger.state(web_service).in_flight
    # The tracker released the lock, then died before deploying the pending push.
    record = ledger.get(web_service, in_flight.sort_key)
    ledger.finish(replace(record, status=Status.SUCCEEDED, reason_code=Reason.ROLLOUT_SUCCEEDED, reason="done"))

    result = invoke_reconcile()

    assert [a["action"] for a in result["actions"]] == ["deployed the pending push"]
    statuses = {r["tag"]: r["status"] for r in aws.ledger(web_service)}
    assert statuses == {"1.5.0": "SUCCEEDED", "1.6.0": "IN_PROGRESS"}


def test_a_stack_whose_update_event_was_missed_is_closed_from_its_status(
    aws, invoke_deploy, invoke_reconcile, monkeypatch
):
    tags = {"autodeploy:repository": "web", "autodeploy:parameter": "BuildNumber"}
    stack = create_stack(aws.cloudformation, "web-service", "1.4.0", tags)
    invoke_deploy(ecr_push("1.5.0", push_image(aws.ecr, "web", "1.5.0")))
    monkeypatch.setattr(wiring.reconcile(), "_clock", later(10))

    invoke_reconcile()

    [record] = aws.ledger(stack)
    assert record["status"] == "SUCCEEDED"
    assert record["reason"] == "stack UPDATE_COMPLETE (seen by reconcile)"


def test_a_registration_a_push_cannot_find_is_misconfigured_for_reconcile_too(aws, invoke_deploy, invoke_reconcile):
    """The tagging API matches autodeploy:repository exactly, so a push of web never finds ' web':
    reconcile must not deploy it either, and says why."""
    push_image(aws.ecr, "web", "1.4.0")
    padded = create_service(aws.ecs, "prod", "web", f"{REGISTRY}/web:1.4.0", {"autodeploy:repository": " web"})
    digest = push_image(aws.ecr, "web", "1.5.0")
    before = aws.service(padded)["taskDefinition"]

    pushed = invoke_deploy(ecr_push("1.5.0", digest))
    reconciled = invoke_reconcile()

    assert pushed["targets"] == []
    assert reconciled["deployed"] == [] and reconciled["targets"] == 0
    assert [e for e in reconciled["errors"] if padded in e] == [
        f"misconfigured: {padded}: autodeploy:repository=' web' has surrounding spaces"
    ]
    assert aws.service(padded)["taskDefinition"] == before
    assert aws.ledger(padded) == []
