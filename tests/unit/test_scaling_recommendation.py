"""The recommendation's rules an SRE would trust: every driving metric, readiness, tolerance,
stabilization, staleness, coexistence with the native setup, scale from zero, per-service tags."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from autodeploy.errors import MisconfiguredTarget
from autodeploy.scaling.models import (
    Decision,
    PastDecision,
    PolicyView,
    ReviewMode,
    ReviewSettings,
    ScalableTargetView,
    ScheduledChange,
    TargetTracking,
    summarize_history,
)
from autodeploy.scaling.review import review
from autodeploy.scaling.settings import parse_settings
from autodeploy.scaling.step_policy import AdjustmentType, ScalingActivity, Step, StepPolicy
from tests.unit.test_scaling_review import NOW, POLICY_ARN, SEED_POLICY, alarm, inputs, per_minute

TT_ARN = POLICY_ARN.replace("web-out", "web-requests")


def tracking(metric: str, target: float, datapoints=()) -> PolicyView:
    return PolicyView(
        TT_ARN, None, "TargetTrackingScaling", TargetTracking("web-requests", metric, target, datapoints=datapoints)
    )


def quiet(**kwargs):
    return alarm(state="OK", datapoints=(20.0,) * 5, **kwargs)


def test_memory_drives_the_count_when_a_policy_scales_on_it():
    memory_alarm = alarm(name="web-mem-high", metric="MemoryUtilization", threshold=75.0)
    decision = review(inputs(cpu=(30.0,) * 15, desired=4, memory=per_minute((90.0,) * 15), alarms=(memory_alarm,)))
    # memory target 60% (80% of 75): 4 x 90 / 60 -> 6; CPU alone would not move.
    assert (decision.decision, decision.recommended_count) == (Decision.SCALE_OUT, 6)
    assert decision.reason.startswith("MemoryUtilization 90 against a target of 60 on 4 running")


# Memory no policy scales on: ECS publishes the service's MemoryUtilization for every service, as
# it does CPUUtilization (ECS developer guide, "Amazon ECS service utilization metrics": total
# memory in use by the service's tasks over the memory its task definition specifies, Average).
RISING_CPU = tuple(10.0 + 2 * i for i in range(15))  # 10% .. 38%: under the 48% CPU target throughout


def test_memory_no_policy_scales_on_counts_when_high_and_moving_with_the_load():
    # Memory 4x CPU, minute by minute, as on a memory-bound service: 40% .. 152% capped at 100.
    memory = per_minute(tuple(min(100.0, 4 * c) for c in RISING_CPU))
    decision = review(inputs(cpu=RISING_CPU, desired=4, memory=memory, alarms=(quiet(),)))
    # target 68% (80% of the 85% memory_high); 4 x 100 / 68 -> 6, within the cap of +50% (4 -> 6).
    assert (decision.decision, decision.recommended_count) == (Decision.SCALE_OUT, 6)
    assert "no policy scales on MemoryUtilization, but it passed 85% and moved with the load" in decision.reason


def test_memory_no_policy_scales_on_adds_at_most_half_the_tasks_at_once():
    memory = per_minute(tuple(min(100.0, 4 * c) for c in RISING_CPU))
    low_target = ReviewSettings(target=30.0)  # 4 x 100 / 30 -> 14, capped at 4 + 2
    decision = review(inputs(cpu=RISING_CPU, desired=4, memory=memory, alarms=(quiet(),)), low_target)
    assert (decision.decision, decision.recommended_count) == (Decision.SCALE_OUT, 6)


def test_memory_held_flat_and_high_by_design_is_a_finding_not_a_scale_out():
    heap = per_minute((94.0, 95.0, 96.0, 95.0, 94.0) * 3)  # a JVM heap sized to its reservation
    decision = review(inputs(cpu=RISING_CPU, desired=4, memory=heap, alarms=(quiet(),)))
    assert decision.decision is Decision.HOLD
    (note,) = [f for f in decision.findings if f.startswith("memory at")]
    assert "not counted as load: it stayed within 2 points over 15 minutes" in note
    assert "MemoryUtilization" not in decision.inputs["signals"]


def test_memory_that_drifts_on_its_own_clock_is_not_load():
    # A leak: memory climbs while the load (CPU) falls.
    leak = per_minute(tuple(60.0 + 2.5 * i for i in range(15)))
    decision = review(inputs(cpu=tuple(reversed(RISING_CPU)), desired=4, memory=leak, alarms=(quiet(),)))
    assert decision.decision is not Decision.SCALE_OUT
    assert any("it did not move with CPU (correlation -1.00 over 15 minutes)" in f for f in decision.findings)


def test_memory_moving_with_the_load_below_its_high_level_only_holds_scale_in():
    falling = tuple(20.0 - i for i in range(15))  # CPU 20% .. 6%: alone, it would scale 6 tasks in to 3
    memory = per_minute(tuple(4 * c for c in falling))  # 80% .. 24%, under 85%: never a scale-out
    alone = review(inputs(cpu=falling, desired=6, alarms=(quiet(),)))
    assert (alone.decision, alone.recommended_count) == (Decision.SCALE_IN, 3)
    decision = review(inputs(cpu=falling, desired=6, memory=memory, alarms=(quiet(),)))
    # Memory's highest over the 10-minute window, 60%, needs 6 x 60 / 68 -> 6: no scale-in.
    assert (decision.decision, decision.recommended_count) == (Decision.HOLD, 6)


def test_a_scale_in_alarm_blind_to_memory_that_counts_is_found():
    memory = per_minute(tuple(min(100.0, 4 * c) for c in RISING_CPU))
    scale_in = PolicyView(
        POLICY_ARN.replace("web-out", "web-in"),
        StepPolicy("web-in", AdjustmentType.CHANGE_IN_CAPACITY, (Step(-1, None, 0),), 300),
    )
    cpu_low = quiet(name="web-cpu-low", comparison="LessThanThreshold", threshold=20.0, actions=(scale_in.arn,))
    decision = review(
        inputs(cpu=RISING_CPU, desired=4, memory=memory, policies=(SEED_POLICY, scale_in), alarms=(quiet(), cpu_low))
    )
    assert (
        "alarm web-cpu-low scales in on CPUUtilization alone, but memory moves with the load here: its scale-ins "
        "can remove tasks memory needs (scale in on memory too, e.g. a metric-math alarm on both)"
    ) in decision.findings


def test_a_target_tracking_policys_own_alarm_never_sets_the_cpu_target():
    """Target tracking's alarms act on ``<policy ARN>:createdBy/<id>`` (Application Auto Scaling user
    guide); their threshold is the policy's business, not a CPU target for the reviewer."""
    backlog = tracking("AWS/SQS/ApproximateNumberOfMessagesVisible", 100.0, per_minute((100.0,) * 15))
    own = quiet(name="TargetTracking-service/prod/web-AlarmHigh", threshold=6.0, actions=(f"{TT_ARN}:createdBy/1",))
    decision = review(inputs(cpu=(30.0,) * 15, desired=4, policies=(backlog,), alarms=(own,)))
    assert decision.inputs["signals"]["CPUUtilization"]["target"] == 50.0  # the default, not 0.8 x 6


def test_request_count_per_target_at_the_tracking_policys_own_target_and_act_mode_stands_down():
    requests = tracking("ALBRequestCountPerTarget", 1000.0, per_minute((1500.0,) * 15))
    decision = review(inputs(cpu=(30.0,) * 15, desired=4, policies=(requests,), alarms=(), mode=ReviewMode.ACT))
    assert (decision.decision, decision.recommended_count) == (Decision.SCALE_OUT, 6)
    assert decision.act_blocked == (
        "target-tracking policy web-requests manages the desired count: act mode stands down"
    )
    assert "target-tracking policy web-requests owns the count, so this only explains" in decision.reason


def test_the_recommendation_is_the_largest_need_of_any_metric():
    other = alarm(
        name="queue-deep", namespace="AWS/SQS", metric="ApproximateNumberOfMessagesVisible", threshold=100.0,
        dimensions={"QueueName": "jobs"}, datapoints=(200.0,) * 5,
    )  # fmt: skip
    decision = review(inputs(cpu=(60.0,) * 15, desired=4, alarms=(alarm(), other)))
    # CPU: 4 x 60 / 48 -> 5; the queue: 4 x 200 / 80 -> 10.
    assert decision.recommended_count == 10
    assert set(decision.inputs["signals"]) == {"CPUUtilization", "ApproximateNumberOfMessagesVisible (queue-deep)"}


def test_never_scale_in_while_a_scale_out_alarm_is_in_alarm():
    firing = alarm(name="latency-high", metric="TargetResponseTime", namespace="AWS/ApplicationELB", threshold=None)
    decision = review(inputs(cpu=(10.0,) * 15, desired=6, alarms=(quiet(), firing)))
    assert decision.decision is Decision.HOLD
    assert decision.reason == "holding: never scale in while latency-high is in ALARM"


def test_sized_from_running_tasks_not_from_tasks_still_starting():
    # desired 4, of which 2 run at 96%: those 2 carry the load, 4 will do -> no further scale-out.
    decision = review(inputs(cpu=(96.0,) * 15, desired=4, running=2, pending=2))
    assert decision.decision is Decision.HOLD
    assert decision.reason == "holding: 2 of 4 tasks still starting"
    nothing_runs = review(inputs(cpu=(96.0,) * 15, desired=4, running=0, pending=4))
    assert nothing_runs.act_blocked == "no running task"


def test_datapoints_from_before_the_last_change_are_ignored():
    change = (ScalingActivity(NOW - timedelta(minutes=4), 2, 300),)
    decision = review(inputs(cpu=(96.0,) * 12 + (40.0,) * 3, desired=4, activities=change))
    # Only the 3 points since the change count: 4 tasks at 40% of a 48% target need 4 (no scale-out),
    # and scale-in waits for a whole stabilization window after the change.
    assert decision.inputs["signals"]["CPUUtilization"]["recent"] == [40.0, 40.0, 40.0]
    assert decision.decision is Decision.HOLD


def test_no_change_within_the_tolerance():
    assert review(inputs(cpu=(52.0,) * 15, desired=4, alarms=(quiet(),))).decision is Decision.HOLD
    assert review(inputs(cpu=(54.0,) * 15, desired=4, alarms=(quiet(),))).recommended_count == 5
    wide = replace(ReviewSettings(), tolerance=0.2)
    assert review(inputs(cpu=(54.0,) * 15, desired=4, alarms=(quiet(),)), wide).decision is Decision.HOLD


def test_scale_in_waits_for_a_full_stabilization_window_after_a_change():
    change = (ScalingActivity(NOW - timedelta(minutes=6), 2, 0),)
    decision = review(inputs(cpu=(10.0,) * 15, desired=6, alarms=(quiet(),), activities=change))
    assert decision.decision is Decision.HOLD
    assert decision.reason.startswith("stabilizing: scale-in needs 10 minutes of data since the last change")


def test_a_stale_series_is_missing_data_not_a_load():
    stale = per_minute((96.0,) * 10, end=NOW - timedelta(minutes=8))
    decision = review(replace(inputs(desired=3), cpu=stale))
    assert (decision.decision, decision.act_blocked) == (Decision.HOLD, "missing data")
    assert "CPUUtilization: no data in the last 3 periods (last point 11:52)" in decision.reason


def test_old_placement_failures_are_not_evidence():
    message = "(service web) was unable to place a task because no container instance met all of its requirements."
    old = ((NOW - timedelta(hours=2), message),)
    decision = review(inputs(cpu=(95.0,) * 15, desired=4, pending=3, running=4, service_events=old))
    assert decision.decision is Decision.SCALE_OUT


def test_never_work_against_a_scheduled_change():
    raise_min = ScheduledChange("morning", NOW + timedelta(minutes=10), minimum=6, maximum=None)
    decision = review(inputs(cpu=(10.0,) * 15, desired=6, alarms=(quiet(),), scheduled=(raise_min,)))
    assert decision.decision is Decision.HOLD
    assert decision.reason.startswith("holding: scheduled action morning at 12:10 sets MinCapacity to 6")


def test_act_mode_never_moves_a_direction_that_is_suspended():
    suspended = ScalableTargetView(1, 10, suspended_in=True)
    decision = review(inputs(cpu=(10.0,) * 15, desired=6, alarms=(quiet(),), target=suspended))
    assert decision.decision is Decision.SCALE_IN
    assert decision.act_blocked == "dynamic scale-in is suspended"


def test_scale_from_zero_when_a_scale_out_alarm_fires():
    zero = ScalableTargetView(0, 10)
    decision = review(inputs(cpu=(), desired=0, running=0, target=zero))
    assert (decision.decision, decision.recommended_count) == (Decision.SCALE_OUT, 1)
    assert decision.reason == "scale from zero: web-cpu-high in ALARM with no task running"
    idle = review(inputs(cpu=(), desired=0, running=0, target=zero, alarms=(quiet(),)))
    assert (idle.decision, idle.recommended_count) == (Decision.HOLD, 0)


def test_the_flap_window_really_covers_its_minutes():
    reviews = [PastDecision(NOW - timedelta(minutes=m), Decision.HOLD, False, 3, 3) for m in range(90)]
    kept = summarize_history(reviews, NOW, 60)
    assert len(kept) == 61  # one review a minute for the whole hour, not the last 30
    assert kept[0]["at"] == (NOW - timedelta(minutes=60)).isoformat()


def test_settings_from_tags():
    mode, settings = parse_settings(
        {
            "autodeploy:scaling-review": "act",
            "autodeploy:scaling-target": "65",
            "autodeploy:scaling-tolerance": "5",
            "autodeploy:scaling-stabilization": "15",
            "autodeploy:scaling-scale-in-step": "25",
            "autodeploy:scaling-flap-window": "120",
        }
    )
    assert mode is ReviewMode.ACT
    assert (settings.target, settings.tolerance, settings.stabilization_minutes) == (65.0, 0.05, 15)
    assert (settings.scale_in_max_percent, settings.flap_window_minutes) == (25, 120)
    decision = review(inputs(cpu=(80.0,) * 15, desired=4), settings)
    assert decision.inputs["signals"]["CPUUtilization"]["target"] == 65.0


def test_bad_tags_are_rejected_with_every_problem_named():
    with pytest.raises(MisconfiguredTarget) as caught:
        parse_settings(
            {
                "autodeploy:scaling-review": "yes",
                "autodeploy:scaling-target": "150",
                "autodeploy:scaling-stabilization": "2.5",
            }
        )
    assert str(caught.value) == (
        "autodeploy:scaling-review='yes': expected 'observe' or 'act'; "
        "autodeploy:scaling-target='150': expected a number from 1 to 100; "
        "autodeploy:scaling-stabilization='2.5': expected a whole number from 1 to 60"
    )
