"""The native shadow by AWS's rules: each test names the AWS document it follows."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import botocore.loaders

from autodeploy.adapters.autoscaling import _policy_view, interpret_activities
from autodeploy.adapters.decision_log import past_decision
from autodeploy.scaling.models import (
    AlarmView,
    Datapoint,
    Decision,
    PastDecision,
    PolicyView,
    ReviewInputs,
    ReviewMode,
    ScalableTargetView,
    summarize_history,
)
from autodeploy.scaling.native import native_shadow
from autodeploy.scaling.step_policy import (
    DEFAULT_COOLDOWN_SECONDS,
    AdjustmentType,
    ScalingActivity,
    Step,
    StepPolicy,
    evaluate,
)

NOW = datetime(2026, 11, 26, 12, tzinfo=UTC)
BOTOCORE_DATA = Path(botocore.__file__).parent / "data" / "application-autoscaling" / "2016-02-06"
ARN = "arn:aws:autoscaling:us-east-1:123456789012:scalingPolicy:{}:resource/ecs/service/prod/web:policyName/{}"


def policy_arn(name: str) -> str:
    return ARN.format("0b7c0ec9-b2dc-4b5f-9b0b-2b8d5d7c0001", name)


def points(*values: float) -> tuple[Datapoint, ...]:
    return tuple(Datapoint(NOW - timedelta(minutes=len(values) - i), v) for i, v in enumerate(values))


def alarm(name: str, state: str = "ALARM", value: float = 80.0, threshold: float = 60.0, **kwargs) -> AlarmView:
    fields = {
        "name": name,
        "state": state,
        "namespace": "AWS/ECS",
        "metric": "CPUUtilization",
        "dimensions": {"ClusterName": "prod", "ServiceName": "web"},
        "statistic": "Average",
        "threshold": threshold,
        "comparison": "GreaterThanThreshold",
        "period": 60,
        "evaluation_periods": 3,
        "actions": (),
        "datapoints": points(value, value, value),
    }
    return AlarmView(**(fields | kwargs))


WIDE = ScalableTargetView(1, 100)


def service(policies, alarms, desired=10, activities=(), target=WIDE) -> ReviewInputs:
    return ReviewInputs(
        service_arn="arn:aws:ecs:us-east-1:123456789012:service/prod/web",
        cluster="prod",
        service="web",
        mode=ReviewMode.OBSERVE,
        now=NOW,
        desired=desired,
        running=desired,
        pending=0,
        cpu=points(80.0),
        target=target,
        policies=tuple(policies),
        alarms=tuple(alarms),
        activities=activities,
    )


def step(
    name: str, adjustment_type: AdjustmentType, adjustment: int, lower=0.0, upper=None, cooldown=300
) -> PolicyView:
    return PolicyView(policy_arn(name), StepPolicy(name, adjustment_type, (Step(adjustment, lower, upper),), cooldown))


def test_the_policy_giving_the_largest_capacity_wins():
    """PutScalingPolicy (botocore service-2.json): "if one policy increases capacity by 3, another
    policy increases capacity by 200 percent, and the current capacity is 10, Application Auto
    Scaling uses the policy with the highest calculated capacity (200% of 10 = 20) and scales out to 30"."""
    plus_three = step("plus-three", AdjustmentType.CHANGE_IN_CAPACITY, 3)
    double = step("double", AdjustmentType.PERCENT_CHANGE_IN_CAPACITY, 200)
    alarms = [alarm("a", actions=(plus_three.arn,)), alarm("b", actions=(double.arn,))]
    shadow = native_shadow(service([plus_three, double], alarms, desired=10))
    assert (shadow["policy"], shadow["new_desired"], shadow["adjustment"]) == ("double", 30, 20)
    assert shadow["also"] == ["plus-three via a: 13"]


def test_for_scale_in_too_the_largest_resulting_capacity_wins():
    """PutScalingPolicy: precedence "to the policy that provides the largest capacity for both scale
    out and scale in": of -1 and -50%, the -1."""
    minus_one = step("minus-one", AdjustmentType.CHANGE_IN_CAPACITY, -1, lower=None, upper=0)
    halve = step("halve", AdjustmentType.PERCENT_CHANGE_IN_CAPACITY, -50, lower=None, upper=0)
    low = {"comparison": "LessThanThreshold", "value": 10.0, "threshold": 20.0}
    alarms = [alarm("x", actions=(minus_one.arn,), **low), alarm("y", actions=(halve.arn,), **low)]
    shadow = native_shadow(service([halve, minus_one], alarms, desired=10))
    assert (shadow["policy"], shadow["new_desired"]) == ("minus-one", 9)


def test_a_policy_described_without_cooldown_uses_300_seconds():
    """StepScalingPolicyConfiguration.Cooldown (botocore service-2.json): "If not specified, the
    default value is 300"."""
    model = botocore.loaders.Loader().load_service_model("application-autoscaling", "service-2")
    doc = model["shapes"]["StepScalingPolicyConfiguration"]["members"]["Cooldown"]["documentation"]
    assert "the default value is 300" in doc
    view = _policy_view(
        {
            "PolicyARN": policy_arn("p"),
            "PolicyName": "p",
            "PolicyType": "StepScaling",
            "StepScalingPolicyConfiguration": {
                "AdjustmentType": "ChangeInCapacity",
                "StepAdjustments": [{"MetricIntervalLowerBound": 0, "ScalingAdjustment": 1}],
            },
        }
    )
    assert view.policy is not None and view.policy.cooldown_seconds == DEFAULT_COOLDOWN_SECONDS == 300


def test_a_scale_out_cooldown_blocks_scale_in():
    """ECS developer guide, step scaling cooldowns: scale-in waits while a scale-out's cooldown runs."""
    scale_in = StepPolicy("in", AdjustmentType.CHANGE_IN_CAPACITY, (Step(-1, None, 0),))
    after_out = ScalingActivity(NOW - timedelta(seconds=60), change=2, cooldown_seconds=300)
    outcome = evaluate(scale_in, 20, [10.0], 6, 1, 10, NOW, after_out)
    assert outcome.adjustment == 0 and "last scale-out (+2) is still in its cooldown" in outcome.why
    later = evaluate(scale_in, 20, [10.0], 6, 1, 10, NOW + timedelta(seconds=300), after_out)
    assert later.adjustment == -1


def test_during_a_scale_out_cooldown_exact_capacity_adds_only_the_difference():
    """StepScalingPolicyConfiguration.Cooldown: while a scale-out's cooldown is in effect, "capacity
    added by the initiating scale-out activity is calculated as part of the desired capacity for the
    next scale-out", so only a larger scale-out adds more. ExactCapacity 8 after 4 -> 6 (+2): 8."""
    exact = StepPolicy("exact", AdjustmentType.EXACT_CAPACITY, (Step(8, 0, None),))
    recent = ScalingActivity(NOW - timedelta(seconds=30), change=2, cooldown_seconds=300)
    outcome = evaluate(exact, 60, [90.0], 6, 1, 20, NOW, recent)
    assert (outcome.adjustment, outcome.new_desired) == (2, 8)
    same = evaluate(replace(exact, steps=(Step(6, 0, None),)), 60, [90.0], 6, 1, 20, NOW, recent)
    assert same.adjustment == 0


def test_ok_actions_run_their_policy_when_the_alarm_is_ok():
    """PutMetricAlarm (CloudWatch API): OKActions run "when this alarm transitions into an OK state"."""
    scale_in = step("in", AdjustmentType.CHANGE_IN_CAPACITY, -1, lower=None, upper=0)
    quiet = alarm("cpu", state="OK", value=30.0, ok_actions=(scale_in.arn,))
    shadow = native_shadow(service([scale_in], [quiet], desired=4))
    assert (shadow["alarm"], shadow["new_desired"]) == ("cpu", 3)


def test_an_alarm_with_actions_disabled_triggers_nothing():
    """PutMetricAlarm (CloudWatch API): ActionsEnabled "indicates whether actions should be executed"."""
    out = step("out", AdjustmentType.CHANGE_IN_CAPACITY, 1)
    shadow = native_shadow(service([out], [alarm("cpu", actions=(out.arn,), actions_enabled=False)]))
    assert shadow["adjustment"] == 0
    assert shadow["why"] == "out: alarm cpu has its actions disabled"


def test_target_tracking_alarms_name_the_policy_with_created_by():
    """Target tracking's alarms act on ``<policy ARN>:createdBy/<id>`` (EMULATOR.md, as AWS lists
    them); a step policy's ARN prefixed by another's never matches by accident."""
    tracked = alarm("TargetTracking-service/prod/web-AlarmHigh-1", actions=(f"{policy_arn('tt')}:createdBy/9a1b",))
    assert tracked.invokes(policy_arn("tt"))
    assert not tracked.invokes(policy_arn("t"))
    assert not alarm("other", actions=(policy_arn("tt-2"),)).invokes(policy_arn("tt"))


def test_activities_as_aws_writes_them_for_ecs():
    """botocore examples-1.json, DescribeScalingActivities: an ECS activity says only the count it
    set ("Setting desired count to 1."); the change comes from the count before it."""
    example = json.loads((BOTOCORE_DATA / "examples-1.json").read_text())["examples"]["DescribeScalingActivities"][0]
    [recorded] = example["output"]["ScalingActivities"]
    activity = {
        **recorded,
        "StartTime": datetime.fromisoformat(recorded["StartTime"]),
        "EndTime": datetime.fromisoformat(recorded["EndTime"]),
    }
    earlier = {
        **activity,
        "ActivityId": "earlier",
        "Description": "Setting desired count to 3.",
        "StartTime": activity["StartTime"] - timedelta(minutes=30),
        "EndTime": activity["EndTime"] - timedelta(minutes=30),
    }
    read = interpret_activities([activity, earlier], {"web-app-cpu-lt-25": 120})
    [change] = read.changes
    assert (change.at, change.change, change.cooldown_seconds) == (activity["EndTime"], -2, 120)
    # The oldest has no count before it: said, not dropped.
    assert read.unseen == [
        "scaling activity at 15:34:32 set the desired count to 3: "
        "the count before it is unknown, so its direction is too"
    ]


def test_the_count_before_comes_from_the_reviewers_own_records():
    start = NOW - timedelta(minutes=5)
    activity = {
        "ActivityId": "a",
        "Description": "Setting desired count to 5.",
        "Cause": "monitor alarm web-cpu-high in state ALARM triggered policy web-out",
        "StartTime": start,
        "EndTime": start + timedelta(seconds=40),
        "StatusCode": "Successful",
    }
    history = (PastDecision(start - timedelta(minutes=1), Decision.HOLD, False, 3, count=3),)
    read = interpret_activities([activity], {"web-out": 300}, history)
    assert read.changes == [ScalingActivity(start + timedelta(seconds=40), 2, 300)] and read.unseen == []


def test_the_count_survives_the_decision_summary_so_the_count_before_is_known_next_review():
    """The summary the use case writes is what the next review reads back as its history: the
    count it keeps is what gives an activity's direction (AWS writes only the count it set,
    botocore examples-1.json, DescribeScalingActivities)."""
    start = NOW - timedelta(minutes=5)
    written = summarize_history([PastDecision(start - timedelta(minutes=1), Decision.HOLD, False, 3, count=3)], NOW, 60)
    history = tuple(past_decision(entry) for entry in written)
    activity = {
        "ActivityId": "a",
        "Description": "Setting desired count to 5.",
        "Cause": "monitor alarm web-cpu-high in state ALARM triggered policy web-out",
        "StartTime": start,
        "EndTime": start + timedelta(seconds=40),
        "StatusCode": "Successful",
    }
    read = interpret_activities([activity], {"web-out": 300}, history)
    assert read.changes == [ScalingActivity(start + timedelta(seconds=40), 2, 300)] and read.unseen == []


def test_an_activity_that_cannot_be_read_goes_to_unseen():
    odd = {
        "ActivityId": "odd-1",
        "Description": "Setting desired count to many",
        "StartTime": NOW,
        "EndTime": NOW,
        "StatusCode": "Successful",
    }
    read = interpret_activities([odd], {})
    assert read.changes == []
    assert read.unseen == [
        "scaling activity odd-1 at 12:00:00: description not understood ('Setting desired count to many')"
    ]
