"""ReviewFunction on moto: observe and act modes, bounds, missing data, wrong dimensions, fan-out.

moto gaps met here (EMULATOR.md): DescribeScalingActivities is not implemented, DescribeScalingPolicies
lists no alarms, and tasks never leave PENDING. ``tests.support.scaling_recorded`` answers those as
AWS does (a fresh service has no activity; a steady one runs its desired count); the tests that
need moto's own answers (no alarms listed, activities failing) say so.
"""

from __future__ import annotations

import math
from collections import Counter

import boto3
import pytest
from boto3.dynamodb.types import TypeDeserializer

from autodeploy import wiring
from tests.support.events import load_event
from tests.support.scaling_recorded import recorded_scaling
from tools.world import put_cpu, scalable_service


@pytest.fixture(autouse=True)
def recorded(aws):
    with recorded_scaling(boto3.session.Session(), aws.autoscaling, aws.cloudwatch, aws.ecs) as answers:
        yield answers


def decisions(aws, service: str) -> list[dict]:
    items = aws.dynamodb.query(
        TableName=aws.decisions_table,
        KeyConditionExpression="#s = :s AND begins_with(sk, :p)",
        ExpressionAttributeNames={"#s": "service"},
        ExpressionAttributeValues={":s": {"S": service}, ":p": {"S": "review#"}},
        ScanIndexForward=False,
    )["Items"]
    return [{k: TypeDeserializer().deserialize(v) for k, v in item.items()} for item in items]


def desired(aws, service: str) -> int:
    cluster = service.split("/")[1]
    return int(aws.ecs.describe_services(cluster=cluster, services=[service])["services"][0]["desiredCount"])


def busy(aws, cluster: str = "prod", name: str = "web", cpu: float = 96.0) -> None:
    put_cpu(aws.cloudwatch, cluster, name, [cpu] * 15)
    aws.cloudwatch.set_alarm_state(AlarmName=f"{name}-cpu-high", StateValue="ALARM", StateReason="load test")


def test_observe_records_scale_out_next_to_the_native_plus_one_and_changes_nothing(aws, invoke_review):
    service = scalable_service(aws.ecs, aws.autoscaling, aws.cloudwatch, "prod", "web", desired=2)
    busy(aws)

    result = invoke_review(load_event("review-schedule.json"))

    assert [r["decision"] for r in result["reviewed"]] == ["SCALE_OUT"]
    [record] = decisions(aws, service)
    assert record["decision"] == "SCALE_OUT"
    assert (record["current_count"], record["recommended_count"]) == (2, 4)
    assert record["native"]["adjustment"] == 1
    assert record["native"]["why"] == "average 96 vs threshold 60: step [0, +inf) -> +1"
    assert record["alarms"] == {"web-cpu-high": "ALARM"}
    assert record["mode"] == "observe"
    assert record["applied"] is False
    assert record["diverges"] is True
    assert (
        "no scale-in path: no policy lowers the desired count, so the service never shrinks after a peak"
        in record["findings"]
    )
    assert record["unseen"] == []
    assert record["inputs"]["cpu_recent"] == [96, 96, 96]
    assert "expires_at" in record
    assert desired(aws, service) == 2


def test_act_mode_applies_within_bounds_once_per_cooldown(aws, invoke_review):
    service = scalable_service(aws.ecs, aws.autoscaling, aws.cloudwatch, "prod", "web", desired=2, review="act")
    busy(aws)

    first = invoke_review(load_event("review-schedule.json"))
    second = invoke_review(load_event("review-schedule.json"))

    assert first["reviewed"][0]["applied"] is True
    assert desired(aws, service) == 4
    newest, oldest = decisions(aws, service)
    assert oldest["applied"] is True
    # Every CPU point predates the change: the second review waits for what 4 tasks carry.
    assert (newest["decision"], newest["applied"]) == ("HOLD", False)
    assert "no point since the last change" in newest["reason"]
    assert second["reviewed"][0]["applied"] is False


def test_at_max_it_holds_and_says_so(aws, invoke_review):
    service = scalable_service(
        aws.ecs, aws.autoscaling, aws.cloudwatch, "prod", "web", desired=8, maximum=8, review="act"
    )
    busy(aws)

    invoke_review(load_event("review-schedule.json"))

    [record] = decisions(aws, service)
    assert (record["decision"], record["recommended_count"], record["applied"]) == ("HOLD", 8, False)
    assert record["reason"] == "holding at MaxCapacity (8) although CPUUtilization 96 against a target of 48"
    assert record["native"]["why"].endswith("but the service is at its MaxCapacity (8)")


def test_low_load_scales_in_but_never_below_min(aws, invoke_review):
    service = scalable_service(
        aws.ecs, aws.autoscaling, aws.cloudwatch, "prod", "web", desired=6, minimum=3, review="act"
    )
    put_cpu(aws.cloudwatch, "prod", "web", [5.0] * 15)

    invoke_review(load_event("review-schedule.json"))

    [record] = decisions(aws, service)
    assert (record["decision"], record["recommended_count"], record["applied"]) == ("SCALE_IN", 3, True)
    assert desired(aws, service) == 3


def test_missing_data_holds_and_never_acts(aws, invoke_review):
    service = scalable_service(aws.ecs, aws.autoscaling, aws.cloudwatch, "prod", "web", desired=6, review="act")
    # moto starts alarms OK; AWS starts them INSUFFICIENT_DATA, which is what a dataless alarm shows.
    aws.cloudwatch.set_alarm_state(AlarmName="web-cpu-high", StateValue="INSUFFICIENT_DATA", StateReason="no data")

    invoke_review(load_event("review-schedule.json"))

    [record] = decisions(aws, service)
    assert (record["decision"], record["applied"]) == ("HOLD", False)
    assert "never scale on missing data" in record["reason"]
    assert desired(aws, service) == 6


def test_the_seed_alarm_with_only_service_name_is_found(aws, invoke_review):
    service = scalable_service(aws.ecs, aws.autoscaling, aws.cloudwatch, "prod", "web", wrong_dimensions=True)
    put_cpu(aws.cloudwatch, "prod", "web", [50.0] * 15)
    aws.cloudwatch.set_alarm_state(AlarmName="web-cpu-high", StateValue="INSUFFICIENT_DATA", StateReason="no data")

    invoke_review(load_event("review-schedule.json"))

    [record] = decisions(aws, service)
    assert (
        "alarm web-cpu-high can never see data: ECS publishes service CPUUtilization under the dimensions "
        "ClusterName and ServiceName, the alarm uses ServiceName"
    ) in record["findings"]


def test_an_alarm_event_reviews_only_the_service_it_drives(aws, invoke_review):
    web = scalable_service(aws.ecs, aws.autoscaling, aws.cloudwatch, "prod", "web")
    api = scalable_service(aws.ecs, aws.autoscaling, aws.cloudwatch, "prod", "api")
    busy(aws)

    result = invoke_review(load_event("cloudwatch-alarm-state-change.json"))

    assert result["trigger"] == "alarm web-cpu-high"
    assert [r["service"] for r in result["reviewed"]] == [web]
    assert decisions(aws, api) == []


def test_untagged_services_are_not_reviewed_and_bad_modes_are_reported(aws, invoke_review):
    scalable_service(aws.ecs, aws.autoscaling, aws.cloudwatch, "prod", "web", review=None)
    scalable_service(aws.ecs, aws.autoscaling, aws.cloudwatch, "prod", "api", review="yes")

    result = invoke_review(load_event("review-schedule.json"))

    assert result["reviewed"] == []
    api = "arn:aws:ecs:us-east-1:123456789012:service/prod/api"
    assert result["skipped"] == [f"{api}: autodeploy:scaling-review='yes': expected 'observe' or 'act'"]


@pytest.mark.parametrize("services", [25, 60])
def test_a_scheduled_review_batches_every_call(aws, invoke_review, services):
    """The cost grows with services / batch size: count each AWS call the review makes."""
    clusters = 3
    for i in range(services):
        scalable_service(aws.ecs, aws.autoscaling, aws.cloudwatch, f"c{i % clusters}", f"svc{i}")
    calls: Counter[str] = Counter()

    def count(event_name: str, **_: object) -> None:
        calls[event_name.split(".", 1)[1]] += 1

    clients = wiring.aws_clients()
    for client in (clients.tagging, clients.ecs, clients.application_autoscaling, clients.cloudwatch, clients.dynamodb):
        client.meta.events.register("before-call.*.*", count)
    try:
        result = invoke_review(load_event("review-schedule.json"))
    finally:
        for client in (
            clients.tagging,
            clients.ecs,
            clients.application_autoscaling,
            clients.cloudwatch,
            clients.dynamodb,
        ):
            client.meta.events.unregister("before-call.*.*", count)

    assert len(result["reviewed"]) == services
    per_cluster = math.ceil(services / clusters)
    assert calls["ecs.DescribeServices"] == clusters * math.ceil(per_cluster / 10)
    assert calls["application-auto-scaling.DescribeScalableTargets"] == math.ceil(services / 50)
    assert calls["cloudwatch.GetMetricData"] == math.ceil(2 * services / 500)
    assert calls["dynamodb.BatchGetItem"] == math.ceil(services / 100)
    assert calls["dynamodb.BatchWriteItem"] == math.ceil(2 * services / 25)
    assert calls["resource-groups-tagging-api.GetResources"] == math.ceil(services / 100)
    assert calls["cloudwatch.DescribeAlarms"] == 1  # moto returns every alarm on one page
    assert "ecs.UpdateService" not in calls
    total = sum(calls.values())
    print(f"{services} services: {total} AWS calls, {total / services:.2f} per service: {dict(calls)}")


def test_cli_shows_decisions_as_a_table_and_draws_the_timeline(aws, invoke_review, capsys, tmp_path):
    from autodeploy import cli

    scalable_service(aws.ecs, aws.autoscaling, aws.cloudwatch, "prod", "web", desired=2)
    busy(aws)
    invoke_review(load_event("review-schedule.json"))
    invoke_review(load_event("cloudwatch-alarm-state-change.json"))
    capsys.readouterr()  # the handler's own log lines

    assert cli.main(["decisions", "prod/web"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:6] == ["REVIEWED", "(UTC)", "DECISION", "COUNT", "NATIVE", "APPLIED"]
    assert [line.split()[2:7] for line in lines[1:3]] == [["SCALE_OUT", "2->4", "+1", "no", "web-cpu-high=ALARM"]] * 2
    assert (
        "  - no scale-in path: no policy lowers the desired count, so the service never shrinks after a peak" in lines
    )

    out = tmp_path / "timeline.png"
    assert cli.main(["timeline", "prod/web", "--out", str(out)]) == 0
    assert capsys.readouterr().out.strip() == f"wrote {out} (2 reviews)"
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
