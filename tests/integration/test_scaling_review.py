"""ReviewFunction on moto: observe and act modes, bounds, missing data, wrong dimensions, fan-out.

moto gaps met here (EMULATOR.md): DescribeScalingActivities is not implemented, DescribeScalingPolicies
lists no alarms, and tasks never leave PENDING. ``tests.support.scaling_recorded`` answers those as
AWS does (a fresh service has no activity; a steady one runs its desired count); the tests that
need moto's own answers (no alarms listed, activities failing) say so.
"""

from __future__ import annotations

import math
from collections import Counter
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from boto3.dynamodb.types import TypeDeserializer

from autodeploy import wiring
from tests.support.events import load_event
from tests.support.faults import failing
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
    assert calls["application-auto-scaling.DescribeScalingActivities"] == services  # per ResourceId, as AWS reads them
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


# --- Where moto is silent: AWS's recorded answers (tests.support.scaling_recorded) ---------------

WEB = "service/prod/web"


def test_a_native_activity_in_cooldown_as_aws_records_it(aws, invoke_review, recorded):
    """botocore examples-1.json (DescribeScalingActivities): ECS activities say "Setting desired count
    to N." with Cause "monitor alarm <name> in state ALARM triggered policy <policy>"; the change is
    derived from consecutive counts and the cooldown runs from EndTime."""
    service = scalable_service(aws.ecs, aws.autoscaling, aws.cloudwatch, "prod", "web", desired=3, review="act")
    busy(aws)
    now = datetime.now(UTC)
    cause = "monitor alarm web-cpu-high in state ALARM triggered policy web-scale-out"
    recorded.activity(WEB, 2, now - timedelta(minutes=30), now - timedelta(minutes=29), cause)
    recorded.activity(WEB, 3, now - timedelta(minutes=15), now - timedelta(seconds=90), cause)

    invoke_review(load_event("review-schedule.json"))

    [record] = decisions(aws, service)
    assert record["native"]["adjustment"] == 0
    assert record["native"]["why"].endswith("but the last scale-out (+1) is still in its cooldown")
    assert record["unseen"] == []
    assert "DescribeScalingActivities" in recorded.served
    assert desired(aws, service) == 3  # act mode waits for the native cooldown


def test_activities_are_read_per_service_and_the_unreadable_one_is_said(aws, invoke_review, recorded):
    web = scalable_service(aws.ecs, aws.autoscaling, aws.cloudwatch, "prod", "web")
    api = scalable_service(aws.ecs, aws.autoscaling, aws.cloudwatch, "prod", "api")
    now = datetime.now(UTC)
    recorded.activity(WEB, 3, now - timedelta(minutes=3), now - timedelta(minutes=2), "manual", description="?")
    # api: one activity before the 20-minute horizon, 60 within it: the reader pages back (50 a page)
    # until one predates the horizon, which gives the count before the oldest that matters.
    recorded.activity("service/prod/api", 2, now - timedelta(minutes=40), now - timedelta(minutes=39), "scheduled")
    for m in range(60):
        start = now - timedelta(seconds=900 - 15 * m)
        recorded.activity("service/prod/api", 2 + m % 2, start, start + timedelta(seconds=10), "scheduled")

    invoke_review(load_event("review-schedule.json"))

    [web_record] = decisions(aws, web)
    assert web_record["unseen"] == [
        f"scaling activity {recorded.activities[WEB][0]['ActivityId']} at "
        f"{(now - timedelta(minutes=2)):%H:%M:%S}: description not understood ('?')"
    ]
    [api_record] = decisions(aws, api)
    assert api_record["unseen"] == []
    assert recorded.served.count("DescribeScalingActivities") == 3  # web: 1 page; api: 2 pages


def test_activities_that_fail_blind_only_their_service(aws, invoke_review):
    """The moto server answers DescribeScalingActivities with HTTP 500 (EMULATOR.md): recorded per service."""
    web = scalable_service(aws.ecs, aws.autoscaling, aws.cloudwatch, "prod", "web")
    api = scalable_service(aws.ecs, aws.autoscaling, aws.cloudwatch, "prod", "api")
    with failing(
        aws.autoscaling, "DescribeScalingActivities", "AccessDeniedException", "not authorized", 400,
        when=lambda params: "service/prod/web" in str(params.get("body")),
    ):  # fmt: skip
        result = invoke_review(load_event("review-schedule.json"))

    assert len(result["reviewed"]) == 2
    [web_record] = decisions(aws, web)
    assert web_record["unseen"][0].startswith(
        "scaling activities: describing the scaling activities of service/prod/web"
    )
    assert "AccessDeniedException" in web_record["unseen"][0]
    assert decisions(aws, api)[0]["unseen"] == []


def test_a_permanent_error_never_escapes_the_handler(aws, invoke_review):
    """AccessDenied cannot be fixed by a retry: every service gets a record saying what it could not see."""
    service = scalable_service(aws.ecs, aws.autoscaling, aws.cloudwatch, "prod", "web", review="act")
    busy(aws)
    with failing(aws.autoscaling, "DescribeScalableTargets", "AccessDeniedException", "not authorized", 400):
        result = invoke_review(load_event("review-schedule.json"))

    [record] = decisions(aws, service)
    assert record["unseen"][0].startswith("scalable targets: describing scalable targets: AccessDeniedException")
    assert (record["decision"], record["applied"]) == ("HOLD", False)
    assert record["reason"] == "holding: its scalable target could not be read to act within"
    assert not any(f.startswith("no scalable target") for f in record["findings"])
    assert result["errors"] == []


def test_an_alarm_name_past_cloudwatchs_limit_is_an_error_in_the_report(aws, invoke_review):
    """AlarmName is at most 255 characters (botocore model, DescribeAlarms.AlarmNames); botocore does
    not check lengths, AWS refuses with ValidationError; no retry can fix that, so the handler
    refuses the trigger at its boundary, says why and returns (no exception for Lambda to retry)."""
    event = load_event("cloudwatch-alarm-state-change.json")
    event["detail"]["alarmName"] = "x" * 300

    result = invoke_review(event)

    assert result["outcome"] == "rejected"
    assert "is not an alarm name" in result["reason"]


def test_an_alarm_aws_refuses_blinds_only_its_service(aws, invoke_review):
    """DescribeAlarms refusing a batch (ValidationError, as AWS answers a bad name) is retried one
    service at a time, so only the service whose alarm is refused loses its alarms."""
    web = scalable_service(aws.ecs, aws.autoscaling, aws.cloudwatch, "prod", "web")
    api = scalable_service(aws.ecs, aws.autoscaling, aws.cloudwatch, "prod", "api")
    refused = "1 validation error detected: Value at 'alarmNames.member.1' failed to satisfy constraint"
    with failing(
        aws.cloudwatch, "DescribeAlarms", "ValidationError", refused, 400, times=2,
        when=lambda params: "api-cpu-high" in str(params.get("body")),
    ):  # fmt: skip
        invoke_review(load_event("review-schedule.json"))

    [api_record] = decisions(aws, api)
    assert api_record["unseen"] == [f"alarms: describing alarms: ValidationError: {refused}"]
    assert api_record["alarms"] == {}
    [web_record] = decisions(aws, web)
    assert (web_record["unseen"], web_record["alarms"]) == ([], {"web-cpu-high": "OK"})


def test_a_percentile_alarm_is_read_with_its_statistic(aws, invoke_review, recorded):
    """moto computes no percentiles (EMULATOR.md); AWS answers GetMetricData with Stat p90 like any
    statistic (GetMetricData API reference, MetricStat.Stat)."""
    service = scalable_service(aws.ecs, aws.autoscaling, aws.cloudwatch, "prod", "web", desired=2)
    policy = aws.autoscaling.describe_scaling_policies(ServiceNamespace="ecs")["ScalingPolicies"][0]["PolicyARN"]
    aws.cloudwatch.put_metric_alarm(
        AlarmName="web-latency-p90", Namespace="AWS/ApplicationELB", MetricName="TargetResponseTime",
        Dimensions=[{"Name": "TargetGroup", "Value": "targetgroup/web/0123456789abcdef"}],
        ExtendedStatistic="p90", Period=60, EvaluationPeriods=3, Threshold=0.5,
        ComparisonOperator="GreaterThanThreshold", AlarmActions=[policy],
    )  # fmt: skip
    aws.cloudwatch.set_alarm_state(AlarmName="web-latency-p90", StateValue="ALARM", StateReason="slow")
    put_cpu(aws.cloudwatch, "prod", "web", [30.0] * 15)
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    recorded.series["TargetResponseTime/p90"] = [(now - timedelta(minutes=3 - i), 1.2) for i in range(3)]

    invoke_review(load_event("review-schedule.json"))

    [record] = decisions(aws, service)
    assert record["native"]["alarm"] == "web-latency-p90"
    assert record["native"]["why"].startswith("average 1.2 vs threshold 0.5: step [0, +inf) -> +1")
    # 2 tasks at a p90 of 1.2 s against 80% of 0.5 s need 6.
    assert (record["decision"], record["recommended_count"]) == ("SCALE_OUT", 6)


def test_a_metric_math_alarm_is_evaluated_through_its_expression(aws, invoke_review, recorded):
    """moto evaluates no metric math (EMULATOR.md); the alarm's Metrics go to GetMetricData as they are
    (PutMetricAlarm API reference, Metrics: MetricDataQuery)."""
    service = scalable_service(aws.ecs, aws.autoscaling, aws.cloudwatch, "prod", "web", desired=2)
    policy = aws.autoscaling.describe_scaling_policies(ServiceNamespace="ecs")["ScalingPolicies"][0]["PolicyARN"]
    errors = {"Namespace": "AWS/ApplicationELB", "MetricName": "HTTPCode_Target_5XX_Count", "Dimensions": []}
    requests = {"Namespace": "AWS/ApplicationELB", "MetricName": "RequestCount", "Dimensions": []}
    aws.cloudwatch.put_metric_alarm(
        AlarmName="web-error-rate", EvaluationPeriods=3, Threshold=5, ComparisonOperator="GreaterThanThreshold",
        AlarmActions=[policy],
        Metrics=[
            {"Id": "e1", "Expression": "100 * m1 / m2", "Label": "error rate", "ReturnData": True},
            {"Id": "m1", "MetricStat": {"Metric": errors, "Period": 60, "Stat": "Sum"}, "ReturnData": False},
            {"Id": "m2", "MetricStat": {"Metric": requests, "Period": 60, "Stat": "Sum"}, "ReturnData": False},
        ],
    )  # fmt: skip
    aws.cloudwatch.set_alarm_state(AlarmName="web-error-rate", StateValue="ALARM", StateReason="errors")
    put_cpu(aws.cloudwatch, "prod", "web", [30.0] * 15)
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    recorded.series["100 * m1 / m2"] = [(now - timedelta(minutes=3 - i), 12.0) for i in range(3)]

    invoke_review(load_event("review-schedule.json"))

    [record] = decisions(aws, service)
    assert record["native"]["alarm"] == "web-error-rate"
    assert record["native"]["why"].startswith("average 12 vs threshold 5")
    assert "e1 (web-error-rate)" in record["inputs"]["signals"]


def test_a_target_tracking_policy_is_matched_by_its_alarms_and_act_mode_stands_down(aws, invoke_review):
    service = scalable_service(aws.ecs, aws.autoscaling, aws.cloudwatch, "prod", "web", desired=2, review="act")
    aws.autoscaling.put_scaling_policy(
        PolicyName="web-cpu-tracking", ServiceNamespace="ecs", ResourceId=WEB,
        ScalableDimension="ecs:service:DesiredCount", PolicyType="TargetTrackingScaling",
        TargetTrackingScalingPolicyConfiguration={
            "TargetValue": 40.0,
            "PredefinedMetricSpecification": {"PredefinedMetricType": "ECSServiceAverageCPUUtilization"},
        },
    )  # fmt: skip
    busy(aws)

    invoke_review(load_event("review-schedule.json"))

    [record] = decisions(aws, service)
    # The tracking policy's own target (40%), not 80% of the step alarm's threshold: 2 x 96 / 40 -> 5.
    assert (record["decision"], record["recommended_count"], record["applied"]) == ("SCALE_OUT", 5, False)
    assert record["not_applied_because"] == (
        "target-tracking policy web-cpu-tracking manages the desired count: act mode stands down"
    )
    assert desired(aws, service) == 2


def test_a_target_tracking_policy_on_metric_math_is_read_through_its_expression(aws, invoke_review, recorded):
    """CustomizedMetricSpecification may carry ``Metrics`` (TargetTrackingMetricDataQuery: Id,
    Expression or MetricStat without Period, Label, ReturnData true for the final expression;
    botocore's application-autoscaling model) in place of one metric. moto evaluates no metric math
    (EMULATOR.md): the expression is answered as GetMetricData answers one (GetMetricData API
    reference), and the review sizes on it at the policy's own target."""
    service = scalable_service(aws.ecs, aws.autoscaling, aws.cloudwatch, "prod", "web", desired=2)
    backlog = {
        "Namespace": "AWS/SQS", "MetricName": "ApproximateNumberOfMessagesVisible",
        "Dimensions": [{"Name": "QueueName", "Value": "jobs"}],
    }  # fmt: skip
    aws.autoscaling.put_scaling_policy(
        PolicyName="web-backlog-per-task", ServiceNamespace="ecs", ResourceId=WEB,
        ScalableDimension="ecs:service:DesiredCount", PolicyType="TargetTrackingScaling",
        TargetTrackingScalingPolicyConfiguration={
            "TargetValue": 100.0,
            "CustomizedMetricSpecification": {
                "Metrics": [
                    {"Id": "m1", "MetricStat": {"Metric": backlog, "Stat": "Sum"}, "ReturnData": False},
                    {"Id": "e1", "Expression": "m1 / 2", "Label": "backlog per task", "ReturnData": True},
                ]
            },
        },
    )  # fmt: skip
    put_cpu(aws.cloudwatch, "prod", "web", [30.0] * 15)
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    recorded.series["m1 / 2"] = [(now - timedelta(minutes=3 - i), 150.0) for i in range(3)]

    invoke_review(load_event("review-schedule.json"))

    [record] = decisions(aws, service)
    signal = record["inputs"]["signals"]["metric math backlog per task (web-backlog-per-task)"]
    assert (signal["target"], signal["recent"]) == (100.0, [150.0, 150.0, 150.0])
    # 2 tasks carry 150 messages each against the policy's 100: 3 tasks (ceil(2 x 150 / 100)).
    assert (record["decision"], record["recommended_count"]) == ("SCALE_OUT", 3)
    assert record["unseen"] == []


def test_a_scheduled_change_about_to_run_is_never_worked_against(aws, invoke_review):
    """DescribeScheduledActions works on moto (EMULATOR.md): a MinCapacity raise due in minutes holds
    a scale-in that would go below it."""
    service = scalable_service(aws.ecs, aws.autoscaling, aws.cloudwatch, "prod", "web", desired=6, review="act")
    put_cpu(aws.cloudwatch, "prod", "web", [5.0] * 15)
    soon = datetime.now(UTC) + timedelta(minutes=10)
    aws.autoscaling.put_scheduled_action(
        ServiceNamespace="ecs", ScheduledActionName="morning", ResourceId=WEB,
        ScalableDimension="ecs:service:DesiredCount", Schedule=f"at({soon:%Y-%m-%dT%H:%M:%S})",
        ScalableTargetAction={"MinCapacity": 6, "MaxCapacity": 8},
    )  # fmt: skip

    invoke_review(load_event("review-schedule.json"))

    [record] = decisions(aws, service)
    assert (record["decision"], record["applied"]) == ("HOLD", False)
    assert record["reason"].startswith(f"holding: scheduled action morning at {soon:%H:%M} sets MinCapacity to 6")
    assert desired(aws, service) == 6


def test_an_anomaly_detection_alarm_compares_with_its_band(aws, invoke_review, recorded):
    """An anomaly-detection alarm has no Threshold: it compares its metric with the band its
    ThresholdMetricId names (PutMetricAlarm API reference); moto computes no band, so the band and
    the metric come as AWS would return them from GetMetricData."""
    service = scalable_service(aws.ecs, aws.autoscaling, aws.cloudwatch, "prod", "web", desired=2)
    policy = aws.autoscaling.describe_scaling_policies(ServiceNamespace="ecs")["ScalingPolicies"][0]["PolicyARN"]
    requests = {"Namespace": "AWS/ApplicationELB", "MetricName": "RequestCount", "Dimensions": []}
    aws.cloudwatch.put_metric_alarm(
        AlarmName="web-requests-anomaly", EvaluationPeriods=3, ThresholdMetricId="ad1",
        ComparisonOperator="GreaterThanUpperThreshold", AlarmActions=[policy],
        Metrics=[
            {"Id": "m1", "MetricStat": {"Metric": requests, "Period": 60, "Stat": "Sum"}, "ReturnData": True},
            {"Id": "ad1", "Expression": "ANOMALY_DETECTION_BAND(m1, 2)", "ReturnData": True},
        ],
    )  # fmt: skip
    aws.cloudwatch.set_alarm_state(AlarmName="web-requests-anomaly", StateValue="ALARM", StateReason="surge")
    put_cpu(aws.cloudwatch, "prod", "web", [30.0] * 15)
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    aws.cloudwatch.put_metric_data(
        Namespace="AWS/ApplicationELB",
        MetricData=[
            {"MetricName": "RequestCount", "Timestamp": now - timedelta(minutes=3 - i), "Value": 3000.0}
            for i in range(3)
        ],
    )  # the plain metric: moto answers it
    recorded.series["ANOMALY_DETECTION_BAND(m1, 2)"] = [(now - timedelta(minutes=3 - i), 1000.0) for i in range(3)]

    invoke_review(load_event("review-schedule.json"))

    [record] = decisions(aws, service)
    assert record["native"]["alarm"] == "web-requests-anomaly"
    assert record["native"]["why"].startswith("average 3000 vs threshold 1000: step [0, +inf) -> +1")
