"""Release gates end to end on moto: the handlers, the ledger and the schedules as the product runs them.

What moto does not model is bridged or set, as named where used: DescribeAlarmHistory
(tests/support/alarm_history.py, shaped after the AWS CLI reference's example); scan results
through moto's own ``scan-finding-results`` API (moto scans only on StartImageScan); EventBridge
Scheduler keeps the schedule (CreateSchedule, GetSchedule) but never fires it, so a test invokes
ReleaseFunction with the schedule's own Input at the time it names (the gates' clock moved there).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
import requests

from autodeploy import cli, wiring
from tests.support.events import ecr_push, ecs_deployment, load_event
from tools.world import REGISTRY, create_service, primary_deployment, push_image

MOTO_SCAN_RESULTS = "http://motoapi.amazonaws.com/moto-api/static/ecr/scan-finding-results"
GROUP = "GateScheduleGroup"  # the template's schedule group, created under its logical id


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def record_of(aws: Any, target: str, tag: str) -> dict[str, Any]:
    return next(r for r in aws.ledger(target) if r.get("tag") == tag)


def schedules() -> list[dict[str, Any]]:
    scheduler = boto3.client("scheduler", region_name="us-east-1")
    names = [s["Name"] for s in scheduler.list_schedules(GroupName=GROUP)["Schedules"]]
    return [scheduler.get_schedule(Name=n, GroupName=GROUP) for n in names]


def later(monkeypatch: pytest.MonkeyPatch, moment: datetime) -> None:
    """The gates ask at ``moment`` (when the schedule fires)."""
    monkeypatch.setattr(wiring.deploy_on_push().gates, "_clock", lambda: moment)


def service(aws: Any, name: str, tags: dict[str, str]) -> str:
    return create_service(aws.ecs, "main", name, f"{REGISTRY}/web:1.0.0", {"autodeploy:repository": "web", **tags})


@pytest.fixture
def chain(aws: Any) -> tuple[str, str]:
    """staging takes every push; prod takes what ran 30 minutes on staging with its alarm quiet."""
    push_image(aws.ecr, "web", "1.0.0")
    staging = service(aws, "staging", {"autodeploy:alarms": "staging-5xx"})
    prod = service(aws, "prod", {"autodeploy:after": "main/staging", "autodeploy:bake": "30m"})
    return staging, prod


def succeed(aws: Any, invoke_track: Any, target: str, at: datetime) -> dict[str, Any]:
    deployment = primary_deployment(aws.ecs, target)["id"]
    result: dict[str, Any] = invoke_track(
        ecs_deployment("ecs-deployment-completed.json", target, deployment, time=iso(at))
    )
    return result


def test_a_push_rolls_out_on_staging_bakes_and_promotes_to_prod_when_the_schedule_fires(
    aws, chain, invoke_deploy, invoke_track, invoke_release, monkeypatch
):
    staging, prod = chain
    now = datetime.now(UTC).replace(microsecond=0)
    digest = push_image(aws.ecr, "web", "1.1.0")

    result = invoke_deploy(ecr_push("1.1.0", digest, time=iso(now)))

    statuses = {t["target"]: t["status"] for t in result["targets"]}
    assert statuses == {staging: "IN_PROGRESS", prod: "WAITING"}
    waiting = record_of(aws, prod, "1.1.0")
    assert (waiting["gate"], waiting["reason_code"]) == ("bake", "gate-waiting")
    assert waiting["reason"] == "the digest has not succeeded on main/staging yet"
    assert aws.state(prod)["pending"]["digest"] == digest  # the pending slot, as a queued push holds it
    assert schedules() == []  # the upstream's success releases it, not a time

    tracked = succeed(aws, invoke_track, staging, now)

    assert [(t["target"], t["status"]) for t in tracked["downstream"]] == [(prod, "WAITING")]
    end = now + timedelta(minutes=30)
    waiting = record_of(aws, prod, "1.1.0")
    assert waiting["reason"] == f"baking on main/staging until {iso(end)}"
    assert waiting["reopens_at"] == end.isoformat()
    [schedule] = schedules()
    # botocore's scheduler model: ScheduleExpression at(yyyy-mm-ddThh:mm:ss), ActionAfterCompletion NONE|DELETE.
    assert schedule["ScheduleExpression"] == f"at({end:%Y-%m-%dT%H:%M:%S})"
    assert (schedule["ScheduleExpressionTimezone"], schedule["ActionAfterCompletion"]) == ("UTC", "DELETE")
    assert schedule["FlexibleTimeWindow"] == {"Mode": "OFF"}
    assert schedule["Target"]["Arn"].endswith(":function:ecs-autodeploy-gate-release")
    assert schedule["Target"]["RoleArn"].endswith(":role/GateSchedulerRole")
    payload = json.loads(schedule["Target"]["Input"])
    assert payload == json.loads(json.dumps(load_event("gate-release.json") | {"target": prod, "push": waiting["sk"]}))

    # The alarm went to ALARM and back a while before the bake: it does not count against it.
    aws.alarm_history.changed("staging-5xx", now - timedelta(hours=3), "OK", "ALARM")
    aws.alarm_history.changed("staging-5xx", now - timedelta(hours=2), "ALARM", "OK")
    later(monkeypatch, end + timedelta(seconds=5))
    released = invoke_release(payload)

    assert [(t["target"], t["status"]) for t in released["released"]] == [(prod, "IN_PROGRESS")]
    assert aws.alarm_history.asked[-1]["AlarmName"] == "staging-5xx"
    started = record_of(aws, prod, "1.1.0")
    assert started["status"] == "IN_PROGRESS"
    image = aws.task_definition(aws.service(prod)["taskDefinition"])["taskDefinition"]["containerDefinitions"][0]
    assert image["image"] == f"{REGISTRY}/web@{digest}"


def test_an_upstream_alarm_during_the_bake_rejects_the_digest_downstream_naming_it(
    aws, chain, invoke_deploy, invoke_track, invoke_release, monkeypatch
):
    staging, prod = chain
    now = datetime.now(UTC).replace(microsecond=0)
    digest = push_image(aws.ecr, "web", "1.2.0")
    invoke_deploy(ecr_push("1.2.0", digest, time=iso(now)))
    succeed(aws, invoke_track, staging, now)
    fired = now + timedelta(minutes=12)
    aws.alarm_history.changed("staging-5xx", fired, "OK", "ALARM")
    later(monkeypatch, now + timedelta(minutes=31))

    [schedule] = schedules()
    released = invoke_release(json.loads(schedule["Target"]["Input"]))

    [decided] = released["released"]
    assert decided["status"] == "REJECTED"
    assert decided["reason"].startswith(f"bake gate: upstream alarm staging-5xx was in ALARM at {iso(fired)}")
    assert "pending" not in aws.state(prod)
    assert record_of(aws, prod, "1.2.0")["gate"] == "bake"


def test_a_newer_push_supersedes_the_one_waiting_at_a_gate(aws, chain, invoke_deploy):
    _staging, prod = chain
    now = datetime.now(UTC).replace(microsecond=0)
    first = push_image(aws.ecr, "web", "1.3.0")
    invoke_deploy(ecr_push("1.3.0", first, time=iso(now)))
    second = push_image(aws.ecr, "web", "1.3.1")
    invoke_deploy(ecr_push("1.3.1", second, time=iso(now + timedelta(seconds=5))))

    assert record_of(aws, prod, "1.3.0")["status"] == "SUPERSEDED"
    assert record_of(aws, prod, "1.3.1")["status"] == "WAITING"
    assert aws.state(prod)["pending"]["digest"] == second


@pytest.fixture
def scanned(aws: Any) -> str:
    push_image(aws.ecr, "web", "1.0.0")
    return service(aws, "prod", {"autodeploy:scan": "critical"})


def scan_completes(aws: Any, digest: str, counts: dict[str, int]) -> None:
    """The image's scan as moto reports it after StartImageScan (set through moto's own API)."""
    result = {
        "registryId": "123456789012",
        "repositoryName": "web",
        "imageId": {"imageDigest": digest},
        "imageScanStatus": {"status": "COMPLETE", "description": "The scan was completed successfully."},
        "imageScanFindings": {"findingSeverityCounts": counts},
    }
    assert requests.post(MOTO_SCAN_RESULTS, json={"results": [result], "region": "us-east-1"}, timeout=5).ok
    aws.ecr.start_image_scan(repositoryName="web", imageId={"imageDigest": digest})


def scan_event(sample: str, digest: str) -> dict[str, Any]:
    event = load_event(sample)
    event["detail"]["image-digest"] = digest
    return event


def test_a_scan_with_critical_findings_rejects_the_waiting_push_with_the_counts(
    aws, scanned, invoke_deploy, invoke_release
):
    now = datetime.now(UTC).replace(microsecond=0)
    digest = push_image(aws.ecr, "web", "1.4.0")
    result = invoke_deploy(ecr_push("1.4.0", digest, time=iso(now)))

    [waiting] = result["targets"]
    assert waiting["status"] == "WAITING"
    assert waiting["reason"].startswith("waiting for the image's scan (no scan yet); refused if none completes by")
    deadline = now + timedelta(minutes=60)  # ScanTimeoutMinutes' default
    [schedule] = schedules()  # the deadline is looked at even if no scan event ever comes
    assert schedule["ScheduleExpression"] == f"at({deadline:%Y-%m-%dT%H:%M:%S})"

    scan_completes(aws, digest, {"CRITICAL": 2, "HIGH": 4, "MEDIUM": 9})
    released = invoke_release(scan_event("ecr-image-scan-critical.json", digest))

    [decided] = released["released"]
    assert decided["status"] == "REJECTED"
    assert decided["reason"] == (
        "scan gate: scan found CRITICAL 2 (at or above critical); all findings: CRITICAL 2, HIGH 4, MEDIUM 9"
    )
    assert "pending" not in aws.state(scanned)
    # The team hears of a vulnerable image refused, as of a held one; a push merely "not newer" is not news.
    heard = [(n["status"], n["tag"]) for n in aws.notifications()]
    assert heard == [("WAITING", "1.4.0"), ("REJECTED", "1.4.0")]


def test_a_scan_event_without_counts_reads_the_findings_and_a_clean_image_deploys(
    aws, scanned, invoke_deploy, invoke_release
):
    now = datetime.now(UTC).replace(microsecond=0)
    digest = push_image(aws.ecr, "web", "1.5.0")
    invoke_deploy(ecr_push("1.5.0", digest, time=iso(now)))
    scan_completes(aws, digest, {"HIGH": 1, "LOW": 3})
    event = scan_event("ecr-image-scan.json", digest)
    del event["detail"]["finding-severity-counts"]  # "only returns a value for a severity level if one exists"

    released = invoke_release(event)

    [started] = released["released"]
    assert started["status"] == "IN_PROGRESS"
    assert record_of(aws, scanned, "1.5.0")["status"] == "IN_PROGRESS"


def test_no_completed_scan_within_the_timeout_refuses_the_push_failing_closed(aws, scanned, invoke_deploy):
    pushed = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=61)
    digest = push_image(aws.ecr, "web", "1.6.0")

    [decided] = invoke_deploy(ecr_push("1.6.0", digest, time=iso(pushed)))["targets"]

    assert decided["status"] == "REJECTED"
    assert decided["reason"] == (
        "scan gate: no completed scan within 60 minutes of the push (no scan yet); refused, failing closed"
    )


def test_outside_its_window_a_push_waits_and_the_schedule_at_the_opening_deploys_it(
    aws, invoke_deploy, invoke_release, monkeypatch
):
    now = datetime.now(UTC).replace(microsecond=0)
    opens, closes = now + timedelta(hours=2), now + timedelta(hours=3)
    window = f"Mon-Sun {opens:%H}:00-{closes:%H}:00 UTC"
    push_image(aws.ecr, "web", "1.0.0")
    prod = service(aws, "prod", {"autodeploy:window": window})
    digest = push_image(aws.ecr, "web", "1.7.0")

    [waiting] = invoke_deploy(ecr_push("1.7.0", digest, time=iso(now)))["targets"]

    opening = opens.replace(minute=0, second=0)
    assert waiting["status"] == "WAITING"
    assert waiting["reason"] == f"outside the deploy window {window}; it opens at {iso(opening)}"
    [schedule] = schedules()
    assert schedule["ScheduleExpression"] == f"at({opening:%Y-%m-%dT%H:%M:%S})"
    payload = json.loads(schedule["Target"]["Input"])
    assert payload["gate"] == "window"

    later(monkeypatch, opening - timedelta(minutes=1))  # fired early: still waits, nothing new said
    early = invoke_release(payload)
    assert [t["status"] for t in early["released"]] == ["SKIPPED"]  # a repeat: summarized as a duplicate
    assert record_of(aws, prod, "1.7.0")["status"] == "WAITING"

    later(monkeypatch, opening + timedelta(seconds=1))
    released = invoke_release(payload)

    assert [(t["target"], t["status"]) for t in released["released"]] == [(prod, "IN_PROGRESS")]


@pytest.fixture
def approving(aws: Any) -> str:
    push_image(aws.ecr, "web", "1.0.0")
    return service(aws, "prod", {"autodeploy:approval": "required"})


def test_a_push_waits_for_approval_saying_what_to_run_and_the_cli_approval_deploys_it(
    aws, approving, invoke_deploy, capsys
):
    digest = push_image(aws.ecr, "web", "1.8.0")
    [waiting] = invoke_deploy(ecr_push("1.8.0", digest, time=iso(datetime.now(UTC))))["targets"]
    assert waiting["status"] == "WAITING"
    record = record_of(aws, approving, "1.8.0")
    assert record["reopened_by"] == (
        f"autodeploy approve main/prod {digest} (or: autodeploy deny main/prod {digest} --reason ...)"
    )
    [held] = [n for n in aws.notifications() if n["status"] == "WAITING"]
    assert held["details"]["gate"] == "approval"
    assert held["details"]["opens_when"] == record["reopened_by"]
    assert held["next_steps"][0] == f"autodeploy approve main/prod {digest}"
    assert cli.main(["status", "main/prod"]) == 0
    shown = capsys.readouterr().out
    assert "gates:      approval" in shown
    assert "at the approval gate: waiting for a person's approval until" in shown

    assert cli.main(["approve", "main/prod", digest[:19]]) == 0

    out = capsys.readouterr().out
    assert out.startswith(f"approved {digest[:19]} on main/prod\n  now IN_PROGRESS")
    assert record_of(aws, approving, "1.8.0")["status"] == "IN_PROGRESS"
    approval = aws.dynamodb.get_item(
        TableName=aws.ledger_table, Key={"target": {"S": approving}, "sk": {"S": f"approval#{digest}"}}
    )["Item"]
    assert approval["answer"]["S"] == "approved"
    assert approval["by"]["S"].startswith("arn:aws:")  # STS GetCallerIdentity of the caller (moto's user)
    assert cli.main(["approve", "main/prod"]) == 4  # nothing waits any more


def test_a_denied_push_is_refused_with_who_and_why(aws, approving, invoke_deploy, capsys):
    digest = push_image(aws.ecr, "web", "1.9.0")
    invoke_deploy(ecr_push("1.9.0", digest, time=iso(datetime.now(UTC))))

    assert cli.main(["deny", "main/prod", "--reason", "CVE-2026-1234 in libfoo"]) == 0

    record = record_of(aws, approving, "1.9.0")
    assert record["status"] == "REJECTED"
    assert record["reason"].startswith("approval gate: denied by arn:aws:")
    assert record["reason"].endswith(": CVE-2026-1234 in libfoo")
    assert "pending" not in aws.state(approving)


def test_a_digest_promoted_by_hand_skips_the_bake_and_says_so(aws, chain, invoke_deploy, capsys):
    _staging, prod = chain
    digest = push_image(aws.ecr, "web", "2.0.0")
    invoke_deploy(ecr_push("2.0.0", digest, time=iso(datetime.now(UTC))))
    assert record_of(aws, prod, "2.0.0")["status"] == "WAITING"

    assert cli.main(["promote", digest, "--to", "main/prod"]) == 0

    record = record_of(aws, prod, "2.0.0")
    assert record["status"] == "IN_PROGRESS"
    assert record["reason"].startswith("rollout started (promoted by hand by arn:aws:")
    assert "past the bake" in capsys.readouterr().out


def test_reconcile_releases_a_wait_whose_schedule_never_came(aws, invoke_deploy, invoke_reconcile, monkeypatch):
    now = datetime.now(UTC).replace(microsecond=0)
    opens = now + timedelta(hours=2)
    push_image(aws.ecr, "web", "1.0.0")
    prod = service(aws, "prod", {"autodeploy:window": f"Mon-Sun {opens:%H}:00-{opens + timedelta(hours=1):%H}:00 UTC"})
    digest = push_image(aws.ecr, "web", "2.1.0")
    invoke_deploy(ecr_push("2.1.0", digest, time=iso(now)))
    invoke_reconcile()  # still closed: the push keeps waiting, and nothing new is recorded
    assert record_of(aws, prod, "2.1.0")["status"] == "WAITING"
    assert [r["tag"] for r in aws.ledger(prod)] == ["2.1.0"]

    later(monkeypatch, opens.replace(minute=0, second=0) + timedelta(minutes=20))
    summary = invoke_reconcile()

    assert {"target": prod, "action": "deployed the pending push", "tag": "2.1.0"} in summary["actions"]
    assert record_of(aws, prod, "2.1.0")["status"] == "IN_PROGRESS"


def test_a_chain_dev_staging_prod_promotes_step_by_step_on_each_success(aws, invoke_deploy, invoke_track):
    now = datetime.now(UTC).replace(microsecond=0)
    push_image(aws.ecr, "web", "1.0.0")
    dev = service(aws, "dev", {})
    staging = service(aws, "staging", {"autodeploy:after": "main/dev"})
    prod = service(aws, "prod", {"autodeploy:after": "main/staging"})
    digest = push_image(aws.ecr, "web", "3.0.0")

    pushed = invoke_deploy(ecr_push("3.0.0", digest, time=iso(now - timedelta(minutes=10))))
    assert {t["target"]: t["status"] for t in pushed["targets"]} == {
        dev: "IN_PROGRESS",
        staging: "WAITING",
        prod: "WAITING",
    }

    on_dev = succeed(aws, invoke_track, dev, now - timedelta(minutes=5))
    assert [(t["target"], t["status"]) for t in on_dev["downstream"]] == [(staging, "IN_PROGRESS")]
    assert record_of(aws, prod, "3.0.0")["status"] == "WAITING"  # not after dev: still waits for staging

    on_staging = succeed(aws, invoke_track, staging, now - timedelta(minutes=2))
    assert [(t["target"], t["status"]) for t in on_staging["downstream"]] == [(prod, "IN_PROGRESS")]
    assert schedules() == []  # no bake: no time to wait for

    # The target's state began with the held push (no rollout before it): the rollout still closes.
    assert succeed(aws, invoke_track, prod, now - timedelta(minutes=1))["status"] == "SUCCEEDED"
    done = record_of(aws, prod, "3.0.0")
    assert done["status"] == "SUCCEEDED"
    assert "gate" not in done and "reopened_by" not in done  # what held it went with the wait
    assert aws.state(prod)["last_succeeded"]["digest"] == digest
