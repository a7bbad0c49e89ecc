"""The native step policy's arithmetic, against the examples of the AWS documentation.

Bounds (StepAdjustment, Application Auto Scaling API): with a threshold of 50, [0, 10) means
50 <= metric < 60 and (-10, 0] means 40 < metric <= 50. Rounding of PercentChangeInCapacity
(EC2 Auto Scaling user guide, "Step adjustments"): 12.7 -> 12, 0.5 -> 1, -6.67 -> -6, -0.5 -> -1.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from autodeploy.scaling.step_policy import (
    AdjustmentType,
    ScalingActivity,
    Step,
    StepPolicy,
    aggregate,
    change_for,
    evaluate,
    matching_step,
)

NOW = datetime(2026, 11, 26, 12, tzinfo=UTC)
# The documentation's layout: threshold 50; out 0-10: 0, 10-20: +10%, 20+: +30%; in mirrored.
OUT_STEPS = (Step(0, 0, 10), Step(10, 10, 20), Step(30, 20, None))
IN_STEPS = (Step(0, -10, 0), Step(-10, -20, -10), Step(-30, None, -20))
SEED = StepPolicy("seed-out", AdjustmentType.CHANGE_IN_CAPACITY, (Step(1, 0, None),), cooldown_seconds=300)


def percent(steps, **kwargs):
    return StepPolicy("p", AdjustmentType.PERCENT_CHANGE_IN_CAPACITY, steps, **kwargs)


@pytest.mark.parametrize(
    ("metric", "expected"),
    [(50, 0), (59.99, 0), (60, 10), (69.9, 10), (70, 30), (500, 30)],
)
def test_above_the_threshold_the_lower_bound_is_inclusive(metric, expected):
    assert matching_step(OUT_STEPS, metric - 50).adjustment == expected


@pytest.mark.parametrize(
    ("metric", "expected"),
    [(50, 0), (40.01, 0), (40, -10), (30.01, -10), (30, -30), (0, -30)],
)
def test_below_the_threshold_the_upper_bound_is_inclusive(metric, expected):
    assert matching_step(IN_STEPS, metric - 50).adjustment == expected


def test_no_step_matches_outside_the_ranges():
    assert matching_step(OUT_STEPS, -1) is None


@pytest.mark.parametrize(
    ("current", "adjustment", "expected"),
    [
        (127, 10, 12),  # 12.7 is rounded down to 12
        (5, 10, 1),  # 0.5 is rounded to 1
        (10, 10, 1),
        (67, -10, -6),  # -6.7 is rounded up to -6
        (5, -10, -1),  # -0.5 is rounded to -1
        (11, 30, 3),  # 3.3 -> 3
    ],
)
def test_percent_change_rounds_toward_zero_but_never_to_zero(current, adjustment, expected):
    assert change_for(percent(()), Step(adjustment, 0, None), current) == expected


def test_min_adjustment_magnitude_raises_small_percent_changes():
    policy = percent((), min_adjustment_magnitude=2)
    assert change_for(policy, Step(10, 0, None), 10) == 2
    assert change_for(policy, Step(-10, None, 0), 10) == -2
    assert change_for(policy, Step(50, 0, None), 10) == 5


def test_exact_capacity_sets_the_count():
    policy = StepPolicy("exact", AdjustmentType.EXACT_CAPACITY, (Step(6, 0, None),))
    assert evaluate(policy, 60, [80], current=2, minimum=1, maximum=10, now=NOW).new_desired == 6


@pytest.mark.parametrize(("aggregation", "expected"), [("Average", 60), ("Minimum", 40), ("Maximum", 80)])
def test_aggregation_type(aggregation, expected):
    assert aggregate([40, 60, 80], aggregation) == expected


def test_documented_walk_through_of_a_percent_policy():
    """Capacity 10: metric 60 adds 10% (1) -> 11; then metric 70 adds 30% of 11 (3.3 -> 3) -> 14."""
    policy = percent(OUT_STEPS)
    first = evaluate(policy, 50, [60], current=10, minimum=1, maximum=20, now=NOW)
    second = evaluate(policy, 50, [70], current=first.new_desired, minimum=1, maximum=20, now=NOW)
    assert (first.new_desired, second.new_desired) == (11, 14)


def test_the_seed_policy_adds_one_task_and_clamps_to_max():
    assert evaluate(SEED, 60, [95], current=2, minimum=1, maximum=8, now=NOW).adjustment == 1
    at_max = evaluate(SEED, 60, [95], current=8, minimum=1, maximum=8, now=NOW)
    assert (at_max.adjustment, at_max.why.endswith("at its MaxCapacity (8)")) == (0, True)


def test_clamping_to_max_is_said():
    policy = StepPolicy("big", AdjustmentType.CHANGE_IN_CAPACITY, (Step(5, 0, None),))
    outcome = evaluate(policy, 60, [90], current=6, minimum=1, maximum=8, now=NOW)
    assert outcome.new_desired == 8
    assert "clamped to MaxCapacity" in outcome.why


def test_scale_out_cooldown_counts_the_capacity_already_added():
    policy = StepPolicy(
        "out", AdjustmentType.CHANGE_IN_CAPACITY, (Step(1, 0, 10), Step(3, 10, None)), cooldown_seconds=300
    )
    recent = ScalingActivity(NOW - timedelta(seconds=60), change=1, cooldown_seconds=300)
    same = evaluate(policy, 60, [65], current=3, minimum=1, maximum=10, now=NOW, last_activity=recent)
    larger = evaluate(policy, 60, [75], current=3, minimum=1, maximum=10, now=NOW, last_activity=recent)
    after = evaluate(
        policy, 60, [65], current=3, minimum=1, maximum=10, now=NOW + timedelta(seconds=300), last_activity=recent
    )
    assert same.adjustment == 0 and "still in its cooldown" in same.why
    assert larger.adjustment == 2  # +3 asked, +1 already added by the activity in cooldown
    assert after.adjustment == 1


def test_scale_in_waits_for_its_cooldown_but_scale_out_interrupts_it():
    scale_in = StepPolicy("in", AdjustmentType.CHANGE_IN_CAPACITY, (Step(-1, None, 0),), cooldown_seconds=300)
    scale_out = StepPolicy("out", AdjustmentType.CHANGE_IN_CAPACITY, (Step(2, 0, None),), cooldown_seconds=300)
    recent_in = ScalingActivity(NOW - timedelta(seconds=30), change=-1, cooldown_seconds=300)
    assert (
        evaluate(scale_in, 30, [10], current=4, minimum=1, maximum=10, now=NOW, last_activity=recent_in).adjustment == 0
    )
    assert (
        evaluate(scale_out, 60, [90], current=4, minimum=1, maximum=10, now=NOW, last_activity=recent_in).adjustment
        == 2
    )


def test_suspended_directions_do_nothing():
    outcome = evaluate(SEED, 60, [95], current=2, minimum=1, maximum=8, now=NOW, suspended_out=True)
    assert (outcome.adjustment, outcome.why.endswith("dynamic scale-out is suspended")) == (0, True)


def test_no_datapoints_no_step():
    assert evaluate(SEED, 60, [], current=2, minimum=1, maximum=8, now=NOW).why.startswith("no datapoints")
