"""Rollouts judged by what ECS recorded, never by what moto forgets.

moto implements neither ListServiceDeployments nor DescribeServiceDeployments, and keeps listing
every deployment in DescribeServices where AWS forgets drained ones (EMULATOR.md). These tests run
the real handlers on moto behind ``tests/support/ecs_history.py``, which answers those two
operations in the shape of botocore's ECS service model (``service-2.json``:
``ServiceDeploymentStatus`` values, ``serviceDeploymentArn``, ``targetServiceRevision``,
``sourceServiceRevisions``, ``rollback``, ``deploymentCircuitBreaker``), after the AWS CLI's and the
ECS API reference's DescribeServiceDeployments examples, and makes DescribeServices forget a
drained deployment. ECS's events come from ``events/ecs-deployment-*.json`` (the ECS developer
guide's "ECS Deployment State Change" samples).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from autodeploy import wiring
from autodeploy.deployment_history import NO_CIRCUIT_BREAKER
from tests.support.events import ecr_push, ecs_deployment
from tests.support.faults import amended, failing
from tools.world import REGISTRY, primary_deployment, push_image

WEB = {"autodeploy:repository": "web", "autodeploy:tags": "semver"}


def later(minutes: int):
    return lambda: datetime.now(UTC) + timedelta(minutes=minutes)


def calls(client: Any, operation: str) -> list[dict[str, Any]]:
    """Record the parameters of every call of ``operation`` on ``client`` from now on."""
    seen: list[dict[str, Any]] = []
    client.meta.events.register(f"provide-client-params.ecs.{operation}", lambda params, **_: seen.append(dict(params)))
    return seen


def deploy(aws, invoke_deploy, web_service, tag: str = "1.5.0") -> tuple[str, dict[str, Any]]:
    digest = push_image(aws.ecr, "web", tag)
    invoke_deploy(ecr_push(tag, digest))
    return digest, primary_deployment(aws.ecs, web_service)


def test_the_deployment_update_service_started_is_kept_in_the_rollout_in_flight(aws, invoke_deploy, web_service):
    _, deployment = deploy(aws, invoke_deploy, web_service)

    in_flight = aws.state(web_service)["in_flight"]

    assert in_flight["deployment_id"] == deployment["id"]
    assert in_flight["task_definition_arn"] == deployment["taskDefinition"]
    assert in_flight["service_deployment_arn"] == aws.history.of(deployment["id"])


# -- the tracker: a late event for a drained deployment ------------------------------------------------


def test_a_late_failure_event_for_a_drained_deployment_closes_with_the_rollback_ecs_recorded(
    aws, invoke_deploy, invoke_track, web_service
):
    digest, deployment = deploy(aws, invoke_deploy, web_service)
    arn = aws.history.of(deployment["id"])
    aws.history.configure_circuit_breaker(arn, enable=True, rollback=True)
    aws.history.finish(arn, "ROLLBACK_SUCCESSFUL", reason="Circuit breaker initiated the rollback operation.")
    restored = aws.history.entries[arn].deployment["rollback"]["serviceRevisionArn"]
    aws.history.drain(deployment["id"])

    # Whatever the service's configuration says now, the history decides.
    result = invoke_track(ecs_deployment("ecs-deployment-failed.json", web_service, deployment["id"]))

    assert result["status"] == "ROLLED_BACK"
    [record] = aws.ledger(web_service)
    assert record["reason"].startswith(
        f"ECS rolled the deployment back to service revision {restored.rsplit('/', 1)[-1]}: "
        "Circuit breaker initiated the rollback operation: ECS deployment circuit breaker: task failed to start"
    )
    assert record["failure"]["service_deployment"]["status"] == "ROLLBACK_SUCCESSFUL"
    assert record["failure"]["service_deployment"]["rolled_back_to"] == restored
    assert aws.state(web_service)["quarantined"][digest].startswith("ROLLED_BACK")


def test_a_late_failure_event_for_a_deployment_learned_from_its_events_is_found_in_the_history(
    aws, invoke_deploy, invoke_track, web_service
):
    """The ARN UpdateService returned never reached the ledger (its write failed); the tracker
    learned the deployment id from ECS's in-progress event. When the failure event comes after
    the deployment drained, the tracker finds it by listing the service's deployments since the
    rollout started (ListServiceDeployments) and judges it from the history."""
    with failing(aws.dynamodb, "UpdateItem", "ValidationException", times=99):
        digest, deployment = deploy(aws, invoke_deploy, web_service)
    assert "service_deployment_arn" not in aws.state(web_service)["in_flight"]
    noted = invoke_track(ecs_deployment("ecs-deployment-in-progress.json", web_service, deployment["id"]))
    assert noted["outcome"] == "noted", noted
    arn = aws.history.of(deployment["id"])
    aws.history.configure_circuit_breaker(arn, enable=True, rollback=True)
    aws.history.finish(arn, "ROLLBACK_SUCCESSFUL", reason="Circuit breaker initiated the rollback operation.")
    aws.history.drain(deployment["id"])
    listed = calls(aws.ecs, "ListServiceDeployments")

    result = invoke_track(ecs_deployment("ecs-deployment-failed.json", web_service, deployment["id"]))

    assert result["status"] == "ROLLED_BACK", result
    assert [call["service"] for call in listed] == [web_service]
    [record] = aws.ledger(web_service)
    assert record["failure"]["service_deployment"]["status"] == "ROLLBACK_SUCCESSFUL"
    assert aws.state(web_service)["quarantined"][digest].startswith("ROLLED_BACK")


def test_a_late_failure_event_whose_rollback_failed_is_failed(aws, invoke_deploy, invoke_track, web_service):
    _, deployment = deploy(aws, invoke_deploy, web_service)
    arn = aws.history.of(deployment["id"])
    aws.history.finish(arn, "ROLLBACK_FAILED", reason="Rollback failed: tasks failed to start.")
    aws.history.drain(deployment["id"])

    result = invoke_track(ecs_deployment("ecs-deployment-failed.json", web_service, deployment["id"]))

    assert result["status"] == "FAILED"
    assert aws.ledger(web_service)[0]["reason"].startswith("the deployment failed and ECS could not roll it back")


def test_unreadable_stopped_tasks_leave_the_reason_shorter_not_the_rollout_open(
    aws, invoke_deploy, invoke_track, web_service
):
    _, deployment = deploy(aws, invoke_deploy, web_service)
    listed = calls(aws.ecs, "ListTasks")

    with failing(aws.ecs, "ListTasks", "AccessDeniedException", "not authorized to perform: ecs:ListTasks"):
        result = invoke_track(ecs_deployment("ecs-deployment-failed.json", web_service, deployment["id"]))

    assert result["status"] == "ROLLED_BACK"
    [record] = aws.ledger(web_service)
    assert record["failure"]["stopped_tasks"] == []
    assert "AccessDeniedException" in record["failure"]["unseen"][0]
    assert "in_flight" not in aws.state(web_service)
    # ListTasks: "When you specify startedBy as the filter, it must be the only filter" (API reference).
    assert listed == [{"cluster": "prod", "serviceName": "web", "desiredStatus": "STOPPED"}]


# -- reconcile: never re-apply a rolled-back revision, never revert a later deployment ------------------


def test_reconcile_closes_a_drained_rolled_back_rollout_from_the_history_and_never_reapplies_it(
    aws, invoke_deploy, invoke_reconcile, web_service, monkeypatch
):
    old_revision = aws.service(web_service)["taskDefinition"]
    digest, deployment = deploy(aws, invoke_deploy, web_service)
    arn = aws.history.of(deployment["id"])
    aws.ecs.update_service(cluster="prod", service="web", taskDefinition=old_revision)  # what ECS's rollback does
    aws.history.finish(arn, "ROLLBACK_SUCCESSFUL", reason="Circuit breaker initiated the rollback operation.")
    aws.history.drain(deployment["id"])
    updates = calls(aws.ecs, "UpdateService")
    monkeypatch.setattr(wiring.reconcile(), "_clock", later(10))

    first = invoke_reconcile()
    second = invoke_reconcile()

    assert [a["action"] for a in first["actions"]] == [
        "closed a drained rollout from ECS's history: ROLLBACK_SUCCESSFUL"
    ]
    assert second["actions"] == [] and second["deployed"] == []
    assert updates == []  # neither resumed nor caught up: the rolled-back revision stays out
    assert aws.service(web_service)["taskDefinition"] == old_revision
    [record] = aws.ledger(web_service)
    assert (record["status"], record["reason_code"]) == ("ROLLED_BACK", "rolled-back")
    assert record["reason"].endswith("(seen by reconcile in ECS's deployment history)")
    assert digest in aws.state(web_service)["quarantined"]


def test_reconcile_never_reverts_a_deployment_someone_else_made_after_ours(
    aws, invoke_deploy, invoke_reconcile, web_service, monkeypatch
):
    old_revision = aws.service(web_service)["taskDefinition"]
    digest, deployment = deploy(aws, invoke_deploy, web_service)
    ours = aws.history.of(deployment["id"])
    aws.ecs.update_service(cluster="prod", service="web", taskDefinition=old_revision)  # a person, by hand
    aws.history.finish(ours, "STOPPED", reason="Stopped because a newer deployment started.")
    aws.history.drain(deployment["id"])
    updates = calls(aws.ecs, "UpdateService")
    monkeypatch.setattr(wiring.reconcile(), "_clock", later(10))

    invoke_reconcile()
    again = invoke_reconcile()

    [record] = aws.ledger(web_service)
    assert (record["status"], record["reason_code"]) == ("FAILED", "deployment-stopped")
    assert record["reason"].startswith("ECS stopped the deployment before it completed")
    assert again["deployed"] == []
    assert updates == []
    assert aws.service(web_service)["taskDefinition"] == old_revision
    assert aws.state(web_service)["quarantined"][digest].startswith("FAILED")


def test_a_drained_deployment_still_rolling_back_stays_open(
    aws, invoke_deploy, invoke_reconcile, web_service, monkeypatch
):
    _, deployment = deploy(aws, invoke_deploy, web_service)
    arn = aws.history.of(deployment["id"])
    aws.history.finish(arn, "ROLLBACK_IN_PROGRESS")
    aws.history.drain(deployment["id"])
    updates = calls(aws.ecs, "UpdateService")
    monkeypatch.setattr(wiring.reconcile(), "_clock", later(10))

    result = invoke_reconcile()

    assert result["actions"] == [] and updates == []
    assert aws.ledger(web_service)[0]["status"] == "IN_PROGRESS"


def test_a_rollout_without_a_kept_deployment_is_not_resumed_over_a_later_deployment(
    aws, invoke_deploy, invoke_reconcile, web_service, monkeypatch
):
    old_revision = aws.service(web_service)["taskDefinition"]
    # The deployment's id never reached the ledger (the function died right after UpdateService),
    # and ECS rolled it back since: DescribeServices lists no deployment carrying our digest.
    with failing(aws.dynamodb, "UpdateItem", "ValidationException", times=99):
        digest, deployment = deploy(aws, invoke_deploy, web_service)
    assert "deployment_id" not in aws.state(web_service)["in_flight"]
    aws.ecs.update_service(cluster="prod", service="web", taskDefinition=old_revision)
    aws.history.finish(aws.history.of(deployment["id"]), "ROLLBACK_SUCCESSFUL")
    aws.history.drain(deployment["id"])
    updates = calls(aws.ecs, "UpdateService")
    monkeypatch.setattr(wiring.reconcile(), "_clock", later(10))

    result = invoke_reconcile()

    assert [a["action"] for a in result["actions"]] == ["closed a rollout overtaken by another deployment"]
    assert updates == []
    [record] = aws.ledger(web_service)
    assert (record["status"], record["reason_code"]) == ("FAILED", "replaced")
    assert record["reason"].startswith("not resumed: ECS deployed the service since this rollout started")
    assert digest in aws.state(web_service)["quarantined"]


@pytest.mark.parametrize("web_service", [False], indirect=True, ids=["without circuit breaker"])
def test_a_timed_out_digest_is_not_redeployed_by_catch_up_but_a_new_push_deploys_it(
    aws, invoke_deploy, invoke_reconcile, web_service, monkeypatch
):
    old_revision = aws.service(web_service)["taskDefinition"]
    digest, _ = deploy(aws, invoke_deploy, web_service)
    monkeypatch.setattr(wiring.reconcile(), "_clock", later(61))
    invoke_reconcile()  # TIMED_OUT: no circuit breaker, so ECS never said FAILED
    aws.ecs.update_service(cluster="prod", service="web", taskDefinition=old_revision)  # a person reverts it
    updates = calls(aws.ecs, "UpdateService")

    catch_up = invoke_reconcile()

    assert catch_up["deployed"] == [] and updates == []
    assert aws.state(web_service)["quarantined"][digest].startswith("TIMED_OUT")
    pushed_again = invoke_deploy(ecr_push("1.5.0", digest))
    assert pushed_again["targets"][0]["status"] == "IN_PROGRESS"


# -- where the service registers: what weakens tracking is said -----------------------------------------


@pytest.mark.parametrize("web_service", [False], indirect=True, ids=["without circuit breaker"])
def test_a_service_without_circuit_breaker_says_so_on_its_records(aws, invoke_deploy, web_service):
    deploy(aws, invoke_deploy, web_service)

    [record] = aws.ledger(web_service)

    assert record["findings"] == [NO_CIRCUIT_BREAKER]
    assert aws.state(web_service)["in_flight"]["findings"] == [NO_CIRCUIT_BREAKER]


def test_a_service_with_circuit_breaker_has_no_finding(aws, invoke_deploy, web_service):
    deploy(aws, invoke_deploy, web_service)  # created with the breaker, which the bridge keeps (EMULATOR.md)

    [record] = aws.ledger(web_service)

    assert "findings" not in record
    assert "findings" not in aws.state(web_service)["in_flight"]


# -- a running revision that was deregistered, or is being deleted ---------------------------------------


@pytest.mark.parametrize("status", ["INACTIVE", "DELETE_IN_PROGRESS"])
def test_a_service_whose_running_revision_was_deregistered_deploys_from_it(aws, invoke_deploy, web_service, status):
    running = aws.service(web_service)["taskDefinition"]
    aws.ecs.deregister_task_definition(taskDefinition=running)

    def as_aws_shows_it(parsed: dict[str, Any]) -> None:
        if parsed.get("taskDefinition", {}).get("taskDefinitionArn") == running:
            parsed["taskDefinition"]["status"] = status

    digest = push_image(aws.ecr, "web", "1.5.0")
    # DescribeTaskDefinition by family reads "the latest ACTIVE revision" (botocore's model); with
    # none left, AWS answers ClientException. moto returns the INACTIVE one instead.
    with (
        failing(
            aws.ecs,
            "DescribeTaskDefinition",
            "ClientException",
            "Unable to describe task definition.",
            when=lambda request: json.loads(request["body"] or b"{}").get("taskDefinition") == "web",
        ),
        amended(aws.ecs, "DescribeTaskDefinition", as_aws_shows_it),
    ):
        result = invoke_deploy(ecr_push("1.5.0", digest))

    assert result["targets"][0]["status"] == "IN_PROGRESS"
    new = aws.task_definition(aws.service(web_service)["taskDefinition"])["taskDefinition"]
    assert new["status"] == "ACTIVE"
    assert new["containerDefinitions"][0]["image"] == f"{REGISTRY}/web@{digest}"
    assert aws.ledger(web_service)[0]["plan"]["task_definition"] == running


@pytest.mark.parametrize("web_service", [False], indirect=True, ids=["without circuit breaker"])
def test_autodeploy_status_warns_of_a_service_without_circuit_breaker(
    aws, invoke_deploy, invoke_track, web_service, capsys
):
    from autodeploy import cli

    _, deployment = deploy(aws, invoke_deploy, web_service)

    assert cli.main(["status"]) == 0
    in_flight = capsys.readouterr().out
    invoke_track(ecs_deployment("ecs-deployment-completed.json", web_service, deployment["id"]))
    assert cli.main(["status", "prod/web"]) == 0
    after = capsys.readouterr().out

    assert f"  warning:    {NO_CIRCUIT_BREAKER}" in in_flight.splitlines()
    assert f"  warning:    {NO_CIRCUIT_BREAKER}" in after.splitlines()


def test_catch_up_never_reverts_a_later_deployment_over_an_image_that_already_succeeded(
    aws, invoke_deploy, invoke_track, invoke_reconcile, web_service
):
    old_revision = aws.service(web_service)["taskDefinition"]
    _, deployment = deploy(aws, invoke_deploy, web_service)
    invoke_track(ecs_deployment("ecs-deployment-completed.json", web_service, deployment["id"]))
    aws.ecs.update_service(cluster="prod", service="web", taskDefinition=old_revision)  # a person, afterwards
    updates = calls(aws.ecs, "UpdateService")

    result = invoke_reconcile()

    assert result["deployed"] == [] and updates == []
    assert aws.service(web_service)["taskDefinition"] == old_revision


def test_a_failure_event_judged_from_the_history_when_the_service_cannot_be_read(
    aws, invoke_deploy, invoke_track, web_service
):
    _, deployment = deploy(aws, invoke_deploy, web_service)
    arn = aws.history.of(deployment["id"])
    aws.history.configure_circuit_breaker(arn, enable=True, rollback=True)
    aws.history.finish(arn, "ROLLBACK_IN_PROGRESS")

    with failing(aws.ecs, "DescribeServices", "AccessDeniedException", "not authorized", times=5):
        result = invoke_track(ecs_deployment("ecs-deployment-failed.json", web_service, deployment["id"]))

    assert result["status"] == "ROLLED_BACK"
    [record] = aws.ledger(web_service)
    assert record["reason"].startswith("the deployment circuit breaker is rolling the service back")
    assert "AccessDeniedException" in record["failure"]["unseen"][0]
