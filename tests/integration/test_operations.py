"""What a person does by hand: `autodeploy status / history / rollback / release`, on moto."""

from __future__ import annotations

import pytest

from autodeploy import cli, operations, wiring
from tests.support.events import ecr_push, ecs_deployment
from tools.world import REGISTRY, create_service, primary_deployment, push_image


@pytest.fixture
def web_service(aws):
    push_image(aws.ecr, "web", "1.4.0")
    return create_service(
        aws.ecs, "prod", "web", f"{REGISTRY}/web:1.4.0", {"autodeploy:repository": "web", "autodeploy:tags": "semver"}
    )


@pytest.fixture
def release_of(aws, invoke_deploy, invoke_track, web_service):
    """Push a version and let its rollout end as given."""

    def release(tag: str, outcome: str = "ecs-deployment-completed.json", time: str = "2026-11-26T10:00:00Z") -> str:
        digest = push_image(aws.ecr, "web", tag)
        invoke_deploy(ecr_push(tag, digest, time=time))
        invoke_track(ecs_deployment(outcome, web_service, primary_deployment(aws.ecs, web_service)["id"]))
        return digest

    return release


def running(aws, service: str) -> str:
    definition = aws.task_definition(aws.service(service)["taskDefinition"])["taskDefinition"]
    return str(definition["containerDefinitions"][0]["image"])


def test_rollback_goes_to_the_last_good_image_before_the_current_despite_semver(aws, web_service, release_of):
    good = release_of("1.5.0", time="2026-11-26T10:00:00Z")
    release_of("1.6.0", time="2026-11-26T11:00:00Z")

    report = operations.rollback(wiring.deploy_on_push(), web_service, requested_by="tester")

    [recorded] = report.recorded
    assert (recorded.record.status.value, recorded.record.tag) == ("IN_PROGRESS", "1.5.0")
    assert recorded.record.reason == "rollout started (rollback requested by tester)"
    assert running(aws, web_service) == f"{REGISTRY}/web@{good}"


def test_rollback_to_a_quarantined_digest_releases_it(aws, web_service, release_of):
    release_of("1.5.0", time="2026-11-26T10:00:00Z")
    bad = release_of("1.6.0", outcome="ecs-deployment-failed.json", time="2026-11-26T11:00:00Z")
    assert bad in aws.state(web_service)["quarantined"]

    operations.rollback(wiring.deploy_on_push(), web_service, to="1.6.0", requested_by="tester")

    assert bad not in aws.state(web_service)["quarantined"]
    assert running(aws, web_service) == f"{REGISTRY}/web@{bad}"


def test_rollback_waits_its_turn_behind_a_rollout_in_flight(aws, invoke_deploy, web_service, release_of):
    release_of("1.5.0")
    invoke_deploy(ecr_push("1.6.0", push_image(aws.ecr, "web", "1.6.0"), time="2026-11-26T11:00:00Z"))

    report = operations.rollback(wiring.deploy_on_push(), web_service, to="1.5.0")

    assert [r.record.status.value for r in report.recorded] == ["QUEUED"]


def test_rollback_to_an_image_never_pushed_says_so(web_service, release_of):
    release_of("1.5.0")
    with pytest.raises(operations.OperationError, match=r"no push of '9\.9\.9' in this target's history"):
        operations.rollback(wiring.deploy_on_push(), web_service, to="9.9.9")


def test_cli_status_history_release_and_rollback_with_progress(
    aws, invoke_track, web_service, release_of, capsys, monkeypatch
):
    release_of("1.5.0", time="2026-11-26T10:00:00Z")
    bad = release_of("1.6.0", outcome="ecs-deployment-failed.json", time="2026-11-26T11:00:00Z")

    assert cli.main(["status"]) == 0
    status = capsys.readouterr().out
    assert "service web (web, semver, apply)" in status
    assert f"quarantined {bad[:19]}: FAILED: the deployment failed" in status

    assert cli.main(["history", "prod/web"]) == 0
    history = capsys.readouterr().out.splitlines()
    assert history[0].split() == ["PUSHED", "(UTC)", "TAG", "STATUS", "IMAGE", "LEAD", "REASON"]
    assert [line.split()[2:4] for line in history[1:]] == [["1.6.0", "FAILED"], ["1.5.0", "SUCCEEDED"]]

    assert cli.main(["release", "prod/web", bad]) == 0
    assert capsys.readouterr().out.strip() == f"released {bad}"

    def rollout_completes(_: float) -> None:  # the tracker's event arrives while the CLI waits
        invoke_track(
            ecs_deployment("ecs-deployment-completed.json", web_service, primary_deployment(aws.ecs, web_service)["id"])
        )

    monkeypatch.setattr(operations.time, "sleep", rollout_completes)
    assert cli.main(["rollback", "prod/web", "--to", "1.5.0"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("rollback of web to 1.5.0: IN_PROGRESS")
    assert out[1].split() == ["0s", "IN_PROGRESS"]
    deployment = primary_deployment(aws.ecs, web_service)["id"]
    steady = f"the service reached a steady state on the new image (ECS deployment {deployment} completed.)"
    assert out[-1] == f"rollback SUCCEEDED: {steady}"


def test_cli_names_an_unknown_target_and_exits_2(aws, web_service, capsys):
    assert cli.main(["history", "prod/nope"]) == 2
    assert capsys.readouterr().err.strip() == "autodeploy: no service nope in cluster prod"
    assert cli.main(["history", "staging/web"]) == 2
    assert "ClusterNotFoundException: Cluster not found." in capsys.readouterr().err
