"""Each recommendation rule of the scaling review, on hand-built inputs (no emulator)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from autodeploy.scaling.models import (
    AlarmView,
    Datapoint,
    Decision,
    PastDecision,
    PolicyView,
    ReviewInputs,
    ReviewMode,
    ScalableTargetView,
)
from autodeploy.scaling.review import review
from autodeploy.scaling.step_policy import AdjustmentType, ScalingActivity, Step, StepPolicy

NOW = datetime(2026, 11, 26, 12, tzinfo=UTC)


def per_minute(values, end=NOW - timedelta(minutes=1)):
    """Points one minute apart, the last at ``end`` (GetMetricData labels a period by its start)."""
    return tuple(Datapoint(end - timedelta(minutes=len(values) - 1 - i), v) for i, v in enumerate(values))


POLICY_ARN = (
    "arn:aws:autoscaling:us-east-1:123456789012:scalingPolicy:x:resource/ecs/service/prod/web:policyName/web-out"
)
SEED_POLICY = PolicyView(POLICY_ARN, StepPolicy("web-out", AdjustmentType.CHANGE_IN_CAPACITY, (Step(1, 0, None),), 300))


def alarm(state="ALARM", datapoints=(80.0,) * 5, dimensions=None, **kwargs) -> AlarmView:
    values = {
        "name": "web-cpu-high",
        "state": state,
        "namespace": "AWS/ECS",
        "metric": "CPUUtilization",
        "dimensions": dimensions if dimensions is not None else {"ClusterName": "prod", "ServiceName": "web"},
        "statistic": "Average",
        "threshold": 60.0,
        "comparison": "GreaterThanThreshold",
        "period": 60,
        "evaluation_periods": 5,
        "actions": (POLICY_ARN,),
        "datapoints": per_minute(datapoints),
    }
    return AlarmView(**(values | kwargs))


def inputs(cpu=(80.0,) * 15, desired=2, **kwargs) -> ReviewInputs:
    cpu = per_minute(cpu)
    values = {
        "service_arn": "arn:aws:ecs:us-east-1:123456789012:service/prod/web",
        "cluster": "prod",
        "service": "web",
        "mode": ReviewMode.OBSERVE,
        "now": NOW,
        "desired": desired,
        "running": desired,
        "pending": 0,
        "cpu": cpu,
        "target": ScalableTargetView(1, 10),
        "policies": (SEED_POLICY,),
        "alarms": (alarm(),),
        "activities": (),
    }
    return ReviewInputs(**(values | kwargs))


def test_scales_out_in_proportion_to_the_load_next_to_the_native_plus_one():
    decision = review(inputs(cpu=(96.0,) * 15, desired=2))
    # target 48% (80% of the 60% threshold): 2 tasks at 96% need 4.
    assert (decision.decision, decision.recommended_count) == (Decision.SCALE_OUT, 4)
    assert decision.native["adjustment"] == 1
    assert decision.native["new_desired"] == 3
    assert decision.diverges
    assert decision.reason == (
        "CPUUtilization 96 against a target of 48 on 2 running: 4 tasks can carry this load (native: +1)"
    )


def test_the_recommendation_stays_within_max_and_holds_at_max():
    assert review(inputs(cpu=(99.0,) * 15, desired=8)).recommended_count == 10
    at_max = review(inputs(cpu=(99.0,) * 15, desired=10))
    assert (at_max.decision, at_max.recommended_count) == (Decision.HOLD, 10)
    assert "at MaxCapacity (10) with CPUUtilization 99 against a target of 48" in " ".join(at_max.findings)
    assert at_max.act_blocked == "at MaxCapacity"


def test_scales_in_when_the_service_stayed_under_the_target_at_most_half_at_once():
    decision = review(inputs(cpu=(10.0,) * 15, desired=6, alarms=(alarm(state="OK", datapoints=(10.0,) * 5),)))
    # 6 tasks at 10% of a 48% target need 2, but one review removes at most 50% of the tasks.
    assert (decision.decision, decision.recommended_count) == (Decision.SCALE_IN, 3)
    assert "(rate-limited)" in decision.reason
    assert "no scale-in path" in " ".join(decision.findings)
    assert decision.native["adjustment"] == 0


def test_never_scales_in_below_min():
    decision = review(inputs(cpu=(5.0,) * 15, desired=3, target=ScalableTargetView(3, 10), alarms=()))
    assert decision.decision is Decision.HOLD


def test_scale_in_goes_to_the_highest_need_over_the_stabilization_window():
    decision = review(inputs(cpu=(10.0,) * 8 + (40.0,) + (10.0,) * 6, desired=6, alarms=(alarm(state="OK"),)))
    # The 40% minute, 7 minutes ago, is inside the 10-minute window: 6 x 40 / 48 -> 5 tasks.
    assert (decision.decision, decision.recommended_count) == (Decision.SCALE_IN, 5)
    older = review(inputs(cpu=(40.0,) + (10.0,) * 14, desired=4, alarms=(alarm(state="OK"),)))
    assert (older.decision, older.recommended_count) == (Decision.SCALE_IN, 2)


def test_holds_on_missing_data_and_never_acts_on_it():
    decision = review(inputs(cpu=(), desired=6, alarms=(alarm(state="INSUFFICIENT_DATA", datapoints=()),)))
    assert (decision.decision, decision.act_blocked) == (Decision.HOLD, "missing data")
    assert "never scale on missing data" in decision.reason


def test_finds_the_alarm_that_can_never_see_data():
    wrong = alarm(state="INSUFFICIENT_DATA", datapoints=(), dimensions={"ServiceName": "web"})
    decision = review(inputs(alarms=(wrong,)))
    assert (
        "alarm web-cpu-high can never see data: ECS publishes service CPUUtilization under the dimensions "
        "ClusterName and ServiceName, the alarm uses ServiceName"
    ) in decision.findings
    assert decision.native["why"] == "web-out: alarm web-cpu-high is INSUFFICIENT_DATA"


def test_finds_the_slow_one_task_per_cooldown_policy():
    decision = review(inputs(desired=2, target=ScalableTargetView(1, 8)))
    assert (
        "policy web-out adds one task per 300s cooldown: reaching MaxCapacity (8) from 2 takes about 30 minutes"
        in decision.findings
    )


def test_flags_useless_scale_out_when_tasks_cannot_be_placed():
    message = "(service web) was unable to place a task because no container instance met all of its requirements."
    events = ((NOW - timedelta(minutes=2), message),)
    decision = review(inputs(cpu=(95.0,) * 15, desired=4, pending=3, service_events=events))
    assert (decision.decision, decision.act_blocked) == (Decision.HOLD, "tasks cannot be placed")
    assert decision.findings[-1].startswith("3 tasks PENDING: the cluster has no room for them")


def test_detects_flapping_and_holds_instead_of_reversing():
    moves = [Decision.SCALE_OUT, Decision.SCALE_IN, Decision.SCALE_OUT, Decision.SCALE_IN]
    history = tuple(PastDecision(NOW - timedelta(minutes=50 - 10 * i), d, True, 3) for i, d in enumerate(moves))
    decision = review(inputs(cpu=(96.0,) * 15, desired=2, history=history))
    assert decision.decision is Decision.HOLD
    assert decision.act_blocked == "flapping"
    assert "flapping: 3 changes of direction in the last 60 minutes" in decision.findings


def test_act_mode_is_blocked_during_a_native_cooldown():
    recent = (ScalingActivity(NOW - timedelta(seconds=100), change=1, cooldown_seconds=300),)
    decision = review(inputs(cpu=(96.0,) * 15, desired=3, activities=recent))
    assert decision.decision is Decision.SCALE_OUT
    assert decision.act_blocked == "a native scaling activity ended at 11:58:20 is still in its 300s cooldown"


def test_when_activities_are_not_visible_cooldown_comes_from_own_records():
    history = (PastDecision(NOW - timedelta(seconds=120), Decision.SCALE_OUT, True, 3),)
    decision = review(inputs(cpu=(96.0,) * 15, desired=3, activities=None, history=history))
    assert decision.unseen[0].startswith("scaling activities (DescribeScalingActivities did not answer)")
    assert decision.act_blocked == "this reviewer changed the desired count at 11:58:00, within the 300s cooldown"


def test_holds_within_the_band():
    decision = review(inputs(cpu=(45.0,) * 15, desired=3, alarms=(alarm(state="OK"),)))
    assert decision.decision is Decision.HOLD
    assert decision.reason == "CPUUtilization 45 is within 10% of its target 48"


def test_without_a_scalable_target_it_only_reports():
    decision = review(inputs(target=None))
    assert decision.decision is Decision.HOLD
    assert decision.findings[0].startswith("no scalable target")


def test_suspended_scale_out_is_found_and_the_native_policy_does_nothing():
    decision = review(inputs(cpu=(96.0,) * 15, target=replace(ScalableTargetView(1, 10), suspended_out=True)))
    assert "dynamic scale-out is suspended on the scalable target" in decision.findings
    assert decision.native["adjustment"] == 0
