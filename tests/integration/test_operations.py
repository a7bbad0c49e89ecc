"""What a person does by hand: `autodeploy status / history / rollback / release`, on moto."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from autodeploy import cli, operations, wiring
from autodeploy.records import DeploymentRecord, Reason, Status
from tests.support.events import ecr_push, ecs_deployment
from tools.world import REGISTRY, create_service, primary_deployment, push_image


@pytest.fixture
def release_of(aws, invoke_deploy, invoke_track, web_service):
    """Push a version and let its rollout end as given (None: leave it in flight)."""

    def release(
        tag: str, outcome: str | None = "ecs-deployment-completed.json", time: str = "2026-11-26T10:00:00Z"
    ) -> str:
        digest = push_image(aws.ecr, "web", tag)
        invoke_deploy(ecr_push(tag, digest, time=time))
        if outcome:
            complete(aws, invoke_track, web_service, outcome)
        return digest

    return release


def complete(aws, invoke_track, service: str, outcome: str = "ecs-deployment-completed.json") -> dict:
    return invoke_track(ecs_deployment(outcome, service, primary_deployment(aws.ecs, service)["id"]))


def cli_lines(out: str) -> list[str]:
    """The CLI's lines, without the EMF metrics the functions print when the tests invoke them meanwhile."""
    return [line for line in out.splitlines() if not line.startswith('{"_aws"')]


def running(aws, service: str) -> str:
    definition = aws.task_definition(aws.service(service)["taskDefinition"])["taskDefinition"]
    return str(definition["containerDefinitions"][0]["image"])


def test_rollback_goes_to_the_last_good_image_before_the_current_despite_semver(aws, web_service, release_of):
    good = release_of("1.5.0", time="2026-11-26T10:00:00Z")
    release_of("1.6.0", time="2026-11-26T11:00:00Z")

    started = operations.rollback(wiring.deploy_on_push(), web_service, requested_by="tester")

    assert started.record is not None
    assert (started.record.status, started.record.tag) == (Status.IN_PROGRESS, "1.5.0")
    assert started.record.reason == "rollout started (rollback requested by tester)"
    assert running(aws, web_service) == f"{REGISTRY}/web@{good}"


def test_plain_rollback_during_a_bad_rollout_goes_to_the_last_good_image_status_shows(aws, web_service, release_of):
    release_of("1.5.0", time="2026-11-26T10:00:00Z")
    good = release_of("1.6.0", time="2026-11-26T11:00:00Z")
    release_of("1.7.0", outcome=None, time="2026-11-26T12:00:00Z")  # in flight, going badly

    started = operations.rollback(wiring.deploy_on_push(), web_service, requested_by="tester")

    assert started.choice.digest == good  # 1.6.0, the last good image; not 1.5.0, the one before it
    assert started.choice.found_in == "the last good image"
    assert started.record is not None
    assert started.record.status is Status.QUEUED


def test_a_queued_rollback_deploys_when_its_turn_comes_past_never_backwards(aws, invoke_track, web_service, release_of):
    good = release_of("1.5.0", time="2026-11-26T10:00:00Z")
    bad = release_of("1.6.0", outcome=None, time="2026-11-26T11:00:00Z")

    started = operations.rollback(wiring.deploy_on_push(), web_service, to="1.5.0", requested_by="tester")

    assert started.record is not None
    assert started.record.status is Status.QUEUED
    assert started.record.reason == "rollback requested by tester: waiting for the rollout in flight"
    assert started.waits_behind is not None
    assert started.waits_behind.push.digest == bad
    assert aws.state(web_service)["pending"]["requested_by"] == "tester"

    complete(aws, invoke_track, web_service)  # 1.6.0 succeeds after all: 1.5.0 is now "older"

    mine = aws.ledger(web_service)[0]
    assert (mine["event_id"], mine["status"]) == (started.record.event_id, "IN_PROGRESS")
    assert mine["reason"] == "rollout started (rollback requested by tester)"
    assert running(aws, web_service) == f"{REGISTRY}/web@{good}"


def test_the_rollback_reports_its_own_record_not_the_push_it_displaced(aws, invoke_deploy, web_service, release_of):
    release_of("1.5.0", time="2026-11-26T10:00:00Z")
    release_of("1.6.0", outcome=None, time="2026-11-26T11:00:00Z")
    invoke_deploy(ecr_push("1.7.0", push_image(aws.ecr, "web", "1.7.0"), time="2026-11-26T11:30:00Z"))

    started = operations.rollback(wiring.deploy_on_push(), web_service, to="1.5.0", requested_by="tester")

    assert started.record is not None
    assert (started.record.tag, started.record.status) == ("1.5.0", Status.QUEUED)
    assert [(r.record.tag, r.record.status) for r in started.report.recorded] == [
        ("1.7.0", Status.SUPERSEDED),
        ("1.5.0", Status.QUEUED),
    ]


def test_rollback_to_a_quarantined_digest_releases_it(aws, web_service, release_of):
    release_of("1.5.0", time="2026-11-26T10:00:00Z")
    bad = release_of("1.6.0", outcome="ecs-deployment-failed.json", time="2026-11-26T11:00:00Z")
    assert bad in aws.state(web_service)["quarantined"]

    operations.rollback(wiring.deploy_on_push(), web_service, to="1.6.0", requested_by="tester")

    assert bad not in aws.state(web_service)["quarantined"]
    assert running(aws, web_service) == f"{REGISTRY}/web@{bad}"


def test_rollback_to_reaches_the_image_the_service_ran_before_it_was_registered(aws, web_service, release_of):
    release_of("1.5.0")  # the service ran web:1.4.0 before: the record's previous_image

    started = operations.rollback(wiring.deploy_on_push(), web_service, to="1.4.0", requested_by="tester")

    assert started.choice.found_in == "the image the target ran before its first rollout by ecs-autodeploy"
    before = aws.ecr.describe_images(repositoryName="web", imageIds=[{"imageTag": "1.4.0"}])["imageDetails"][0]
    assert running(aws, web_service) == f"{REGISTRY}/web@{before['imageDigest']}"


def test_rollback_to_a_tag_only_ecr_knows(aws, web_service, release_of):
    release_of("1.5.0")
    older = push_image(aws.ecr, "web", "1.3.9")

    started = operations.rollback(wiring.deploy_on_push(), web_service, to="1.3.9", requested_by="tester")

    assert (started.choice.digest, started.choice.found_in) == (older, "ECR repository web")
    assert running(aws, web_service) == f"{REGISTRY}/web@{older}"


def test_rollback_to_searches_the_whole_history_not_the_last_100_records(aws, web_service, release_of):
    first = release_of("1.5.0", time="2026-11-26T10:00:00Z")
    release_of("1.6.0", time="2026-11-26T11:00:00Z")
    ledger = wiring.deploy_on_push().ledger
    start = datetime(2026, 11, 26, 12, tzinfo=UTC)
    for n in range(130):  # later pushes the tag filter skipped: the 1.5.0 record is now the 132nd
        at = start + timedelta(minutes=n)
        ledger.record(
            DeploymentRecord(
                web_service,
                "service",
                "web",
                "web",
                f"dev-{n}",
                f"sha256:{n:064x}",
                Status.SKIPPED,
                Reason.TAG_FILTER,
                "not a semantic version",
                f"event-{n}",
                at,
                at,
            )
        )

    started = operations.rollback(wiring.deploy_on_push(), web_service, to="1.5.0", requested_by="tester")

    assert started.choice.digest == first
    assert started.choice.found_in == "the push of 2026-11-26 10:00:00"


def test_rollback_to_an_image_nowhere_says_where_it_looked(web_service, release_of):
    release_of("1.5.0")
    with pytest.raises(operations.OperationError, match=r"no image '9\.9\.9' in this target's history, in what it"):
        operations.rollback(wiring.deploy_on_push(), web_service, to="9.9.9")


def test_a_redelivered_push_reports_the_recorded_outcome_as_a_duplicate(aws, invoke_deploy, web_service):
    event = ecr_push("1.5.0", push_image(aws.ecr, "web", "1.5.0"))
    invoke_deploy(event)

    again = invoke_deploy(event)

    [target] = again["targets"]
    assert target["status"] == "SKIPPED"
    assert target["duplicate"] is True
    assert target["recorded_status"] == "IN_PROGRESS"
    assert target["reason"].startswith("duplicate delivery: already recorded IN_PROGRESS (rollout started")


def test_release_takes_the_prefix_status_prints_or_a_tag_and_says_when_nothing_was_released(
    aws, web_service, release_of, capsys
):
    release_of("1.5.0", time="2026-11-26T10:00:00Z")
    bad = release_of("1.6.0", outcome="ecs-deployment-failed.json", time="2026-11-26T11:00:00Z")
    capsys.readouterr()  # the functions' own output (EMF metrics)

    assert cli.main(["release", "prod/web", bad[:19]]) == 0
    assert capsys.readouterr().out.startswith(f"released {bad} on prod/web")
    assert cli.main(["release", "prod/web", "1.6.0"]) == 4  # nothing to do: no longer quarantined
    assert "1.6.0 is not quarantined on this target (quarantined: none)" in capsys.readouterr().err
    assert cli.main(["release", "prod/web", "sha256:xyz"]) == 1
    assert "'sha256:xyz' is not a digest" in capsys.readouterr().err
    assert cli.main(["release", "prod/web", "not a tag!"]) == 1
    assert "neither a digest (sha256:...) nor an image tag" in capsys.readouterr().err


def test_release_by_tag(aws, web_service, release_of, capsys):
    bad = release_of("1.6.0", outcome="ecs-deployment-failed.json")

    assert cli.main(["release", "--json", "prod/web", "1.6.0"]) == 2  # --json is for reading commands
    capsys.readouterr()
    assert cli.main(["release", "prod/web", "1.6.0"]) == 0
    assert bad not in aws.state(web_service)["quarantined"]


@pytest.mark.parametrize("web_service", [False], indirect=True, ids=["without circuit breaker"])
def test_cli_status_history_and_rollback_with_progress(aws, invoke_track, web_service, release_of, capsys, monkeypatch):
    release_of("1.5.0", time="2026-11-26T10:00:00Z")
    bad = release_of("1.6.0", outcome="ecs-deployment-failed.json", time="2026-11-26T11:00:00Z")
    capsys.readouterr()  # the functions' own output (EMF metrics)

    assert cli.main(["status"]) == 0
    status = capsys.readouterr().out
    assert "service prod/web (web, semver, apply)" in status
    assert f"quarantined {bad[:19]}: FAILED: the deployment failed" in status
    assert "last good:  1.5.0 (sha256:" in status

    assert cli.main(["history", "prod/web"]) == 0
    history = capsys.readouterr().out.splitlines()
    assert history[0].split() == ["PUSHED", "(UTC)", "TAG", "STATUS", "IMAGE", "LEAD", "REASON"]
    assert [line.split()[2:4] for line in history[1:]] == [["1.6.0", "FAILED"], ["1.5.0", "SUCCEEDED"]]

    def rollout_completes(_: float) -> None:  # the tracker's event arrives while the CLI waits
        complete(aws, invoke_track, web_service)

    monkeypatch.setattr(operations.time, "sleep", rollout_completes)
    assert cli.main(["rollback", "prod/web", "--to", "1.5.0"]) == 0
    out = cli_lines(capsys.readouterr().out)
    assert out[0].startswith("rollback of prod/web to 1.5.0 (sha256:")
    assert ": IN_PROGRESS: rollout started (rollback requested by " in out[0]
    assert out[1].split()[:3] == ["0s", "IN_PROGRESS", "ECS"]
    deployment = primary_deployment(aws.ecs, web_service)["id"]
    steady = f"the service reached a steady state on the new image (ECS deployment {deployment} completed.)"
    assert out[-1] == f"rollback SUCCEEDED: {steady}"


def test_cli_rollback_waiting_shows_what_it_waits_behind_and_times_out_with_a_way_to_follow(
    aws, web_service, release_of, capsys, monkeypatch
):
    release_of("1.5.0", time="2026-11-26T10:00:00Z")
    release_of("1.6.0", outcome=None, time="2026-11-26T11:00:00Z")
    monkeypatch.setattr(operations.time, "sleep", lambda _: None)
    clock = iter(range(0, 10_000, 1000))
    monkeypatch.setattr(operations.time, "monotonic", lambda: next(clock))

    assert cli.main(["rollback", "prod/web", "--to", "1.5.0", "--timeout", "1500"]) == 5

    out = cli_lines(capsys.readouterr().out)
    assert ": QUEUED: rollback requested by " in out[0]
    assert out[1].startswith("  waits behind 1.6.0 (sha256:")
    assert "QUEUED  behind 1.6.0 (sha256:" in out[2]
    assert out[-1] == ("still QUEUED after 1500s: the rollback goes on; follow it with `autodeploy status prod/web`")


def test_cli_ctrl_c_while_waiting_stops_waiting_without_a_traceback(aws, web_service, release_of, capsys, monkeypatch):
    release_of("1.5.0", time="2026-11-26T10:00:00Z")
    release_of("1.6.0", outcome=None, time="2026-11-26T11:00:00Z")

    def interrupted(_: float) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(operations.time, "sleep", interrupted)
    assert cli.main(["rollback", "prod/web", "--to", "1.5.0"]) == 130
    out = capsys.readouterr().out
    assert "stopped waiting: the rollback goes on (QUEUED); follow it with `autodeploy status prod/web`" in out


def test_cli_names_an_unknown_target_and_exits_2(aws, web_service, capsys):
    assert cli.main(["history", "prod/nope"]) == 2
    assert capsys.readouterr().err.strip() == "autodeploy: no service nope in cluster prod"
    assert cli.main(["history", "staging/web"]) == 2
    assert capsys.readouterr().err.strip() == "autodeploy: no cluster staging in region us-east-1"


def test_cli_aws_errors_exit_3(aws, web_service, capsys, monkeypatch):
    monkeypatch.setenv("LEDGER_TABLE", "no-such-table")
    assert cli.main(["history", "prod/web"]) == 3
    assert capsys.readouterr().err.startswith("autodeploy: AWS error: reading the history of")


def test_status_lists_misconfigured_targets_with_the_offending_tag_value(aws, web_service, capsys):
    create_service(
        aws.ecs, "prod", "api", f"{REGISTRY}/web:1.4.0", {"autodeploy:repository": "web", "autodeploy:mode": "yolo"}
    )

    assert cli.main(["status"]) == 0
    out = capsys.readouterr().out
    assert "misconfigured (pushes record FAILED for these until their tags are fixed):" in out
    assert "  prod/api: autodeploy:mode='yolo': expected one of 'apply', 'dry-run'" in out

    assert cli.main(["status", "--json"]) == 0
    import json

    listed = json.loads(capsys.readouterr().out)
    assert [t["name"] for t in listed["targets"]] == ["prod/web"]
    assert listed["misconfigured"][0]["name"] == "prod/api"
