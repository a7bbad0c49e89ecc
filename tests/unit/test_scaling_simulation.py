"""The closed-loop scaling benchmark's plant, alarms, target tracking and HPA reference, on tiny
hand-computed cases, and the simulation's determinism (tools/scaling_*.py, tools/bench_scaling.py).

Rules checked against AWS's documents: an N-of-N alarm with TreatMissingData "missing" goes
INSUFFICIENT_DATA when no datapoint is in its range (CloudWatch user guide, "Configuring how
CloudWatch alarms treat missing data"); a step policy's scale-out cooldown counts the capacity it
added towards the next scale-out, and target tracking's does the same (Application Auto Scaling
user guide, step scaling "Cooldown" and target tracking "Define cooldown periods").
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from autodeploy.scaling.models import ReviewMode
from autodeploy.scaling.step_policy import ScalingActivity
from tools.bench_scaling import SECTION, update_benchmarks
from tools.scaling_plant import (
    AlarmSpec,
    HpaReference,
    Plant,
    Scaling,
    Service,
    alarm_state,
    at,
    reference_stack_scaling,
    target_tracking,
    target_tracking_scaling,
)
from tools.scaling_product import native_step_policies, review_inputs, reviewer
from tools.scaling_sim import (
    HPA,
    NATIVE,
    REVIEWED,
    Outcome,
    Trace,
    check_targets,
    direction_flips,
    run,
    simulate,
    simulate_all,
    traces,
)

NO_POLICIES = Scaling(minimum=1, maximum=10, policies=(), alarms=())


def test_a_new_task_carries_load_only_after_its_start_up_delay() -> None:
    plant = Plant(desired=2, running=2)
    plant.set_desired(4, minute=0)
    assert (plant.running, plant.provisioned) == (2, 4)
    assert plant.utilization(3.0, memory_bound=False) == (100.0, 30.0, 100.0)  # 150% capped
    plant.advance(1)
    assert plant.running == 2
    plant.advance(2)
    assert (plant.running, plant.starting) == (4, [])
    assert plant.utilization(3.0, memory_bound=False)[0] == 75.0


def test_scaling_in_cancels_starting_tasks_before_stopping_running_ones() -> None:
    plant = Plant(desired=2, running=2)
    plant.set_desired(5, minute=0)
    plant.set_desired(3, minute=1)
    assert (plant.running, len(plant.starting)) == (2, 1)
    plant.set_desired(1, minute=1)
    assert (plant.running, plant.starting) == (1, [])


def test_a_memory_bound_service_saturates_memory_with_cpu_low() -> None:
    assert Plant(desired=2, running=2).utilization(1.0, memory_bound=True) == (12.5, 50.0, 50.0)


def test_an_n_of_n_alarm_needs_every_period_breaching_and_goes_insufficient_on_no_data() -> None:
    high = AlarmSpec("high", "CPUUtilization", 60, "GreaterThanThreshold", 3, "arn")
    assert alarm_state(high, {0: 70, 1: 70, 2: 70}, 2) == "ALARM"
    assert alarm_state(high, {0: 70, 1: 60, 2: 70}, 2) == "OK"  # 60 is not greater than 60
    assert alarm_state(high, {0: 70, 2: 70}, 2) == "OK"  # a gap: two datapoints cannot make 3 of 3
    assert alarm_state(high, {0: 70}, 5) == "INSUFFICIENT_DATA"


def test_the_hpa_reference_on_a_step_load() -> None:
    """Target 50%, 2 tasks at 50%, then load 3.0 task-units, then back to 1.0 from minute 6.

    m0: 50% within tolerance, hold 2. m1: 100% (capped), ceil(2 x 2) = 4. m2: 2 running, 4 again.
    m3: 4 running at 75%, ceil(4 x 1.5) = 6. m4: hold. m5: 6 at 50%, hold. m6..m9: ceil(6 x 1/3) = 2,
    but the last 5 minutes still hold a 6. m10: every recommendation of the last 5 minutes is 2.
    """
    load = (1.0, 3.0, 3.0, 3.0, 3.0, 3.0, 1.0, 1.0, 1.0, 1.0, 1.0)
    before = run(Trace("step", "", load[:10]), HPA, NO_POLICIES, [HpaReference(50.0)])
    assert (before.count_changes, before.direction_flips, before.peak_tasks) == (2, 0, 6)
    after = run(Trace("step", "", load), HPA, NO_POLICIES, [HpaReference(50.0)])
    assert (after.count_changes, after.direction_flips) == (3, 1)
    assert after.task_minutes == 2 + 2 + 4 + 4 + 6 + 6 + 6 * 5
    assert after.minutes_hot == 2  # minutes 1 and 2, at 100%


def test_the_hpa_reference_holds_inside_its_ten_percent_band_and_moves_outside_it() -> None:
    # 4 tasks (sized for 1.6 task-units at 50%), then 2.16 task-units: 54%, 8% off the 50% target.
    # Without the tolerance, ceil(4 x 1.08) = 5; with it, no change however long it lasts.
    inside = run(Trace("band", "", (1.6,) + (2.16,) * 30), HPA, NO_POLICIES, [HpaReference(50.0)])
    assert (inside.count_changes, inside.task_minutes) == (0, 4 * 31)
    # 2.3 task-units: 57.5%, 15% off: ceil(4 x 1.15) = 5 at once.
    outside = run(Trace("band", "", (1.6,) + (2.3,) * 30), HPA, NO_POLICIES, [HpaReference(50.0)])
    assert (outside.count_changes, outside.peak_tasks) == (1, 5)


def test_the_step_policies_act_as_the_products_shadow_says_with_their_cooldown() -> None:
    """Reference stack: CPU > 60 for 3 of 3 minutes, +3 from 15 points above it, 120 s cooldown.

    2 tasks, then 2.4 task-units (100%) from minute 1: ALARM at minute 3, +3 -> 5 (running at 5).
    Minute 4: still ALARM, +3 again wanted, but the +3 in cooldown counts towards it: no change.
    Minute 5: 5 tasks at 48%, OK.
    """
    stack = reference_stack_scaling()
    outcome = run(Trace("step", "", (1.0, 2.4, 2.4, 2.4, 2.4, 2.4, 2.4)), NATIVE, stack, [native_step_policies])
    assert (outcome.count_changes, outcome.peak_tasks) == (1, 5)
    assert outcome.task_minutes == 2 + 2 + 2 + 2 + 5 + 5 + 5
    assert outcome.minutes_hot == 4


def test_the_simulation_reads_the_reference_stack() -> None:
    stack = reference_stack_scaling()
    assert (stack.minimum, stack.maximum) == (2, 8)
    by_name = {a.name: a for a in stack.alarms}
    assert (by_name["web-cpu-high"].threshold, by_name["web-cpu-high"].evaluation_periods) == (60, 3)
    assert (by_name["web-cpu-low"].threshold, by_name["web-cpu-low"].evaluation_periods) == (20, 15)
    cooldowns = {v.policy.name: v.policy.cooldown_seconds for v in stack.policies if v.policy}
    assert cooldowns == {"web-scale-out": 120, "web-scale-in": 300}


def test_target_tracking_scales_out_proportionally_then_in_after_fifteen_low_minutes() -> None:
    """Target 50%. 2 tasks, 2.0 task-units from minute 1 (100%): AlarmHigh at minute 3,
    ceil(2 x 100 / 50) = 4. Minute 4: the 2 added in cooldown count: ceil((4 - 2) x 2) = 4, no change.
    From minute 7, 0.8 task-units on 4 tasks (20%): AlarmLow (below 45) at minute 21, ceil(4 x 20 / 50) = 2;
    then 40% keeps AlarmLow in ALARM, but ceil(2 x 40 / 50) = 2: no further change."""
    scaling = target_tracking_scaling(1, 10, 50.0)
    load = (1.0,) + (2.0,) * 6 + (0.8,) * 30
    out_only = run(Trace("tt", "", load[:7]), NATIVE, scaling, [target_tracking])
    assert (out_only.count_changes, out_only.task_minutes, out_only.minutes_hot) == (1, 2 + 2 + 2 + 2 + 4 + 4 + 4, 4)
    before_in = run(Trace("tt", "", load[:21]), NATIVE, scaling, [target_tracking])
    assert before_in.count_changes == 1
    full = run(Trace("tt", "", load), NATIVE, scaling, [target_tracking])
    assert (full.count_changes, full.direction_flips) == (2, 1)


def test_target_tracking_waits_out_its_scale_in_cooldown() -> None:
    """8 tasks (sized for 3.6 task-units at 45%), 1.6 task-units (20%) from minute 1, 0.4 from 16.
    Minute 15: AlarmLow, ceil(8 x 20 / 50) = 4. Minute 16: 10% on 4 tasks, the 15 minutes' highest
    is 20%: ceil(4 x 20 / 50) = 2 is wanted, but the scale-in cooldown (300 s) holds it to minute 20."""
    scaling = target_tracking_scaling(1, 10, 50.0)
    load = (3.6,) + (1.6,) * 15 + (0.4,) * 10
    held = run(Trace("tt", "", load[:20]), NATIVE, scaling, [target_tracking])
    assert (held.count_changes, held.task_minutes) == (1, 8 * 16 + 4 * 4)
    after = run(Trace("tt", "", load[:21]), NATIVE, scaling, [target_tracking])
    assert after.count_changes == 2


def test_direction_flips_count_changes_of_sign() -> None:
    assert direction_flips([1, 1, -1, 2, -3, -1]) == 3
    assert direction_flips([]) == 0


def test_the_simulation_is_deterministic() -> None:
    assert traces() == traces()
    first = simulate_all()
    assert first == simulate_all()
    assert {o.trace for o in first} == {t.name for t in traces()}
    assert len(first) == 3 * len(traces())


def test_targets_report_a_miss() -> None:
    outcomes = [
        Outcome("spike", NATIVE, 1000, 5, 2, 0, 4),
        Outcome("spike", REVIEWED, 1200, 5, 4, 1, 5),
        Outcome("spike", HPA, 1000, 2, 3, 1, 5),
    ]
    checks = {c.target: c.met for c in check_targets(outcomes)}
    assert checks == {
        "fewer minutes above 90% than native only": False,
        "task-minutes at most the HPA reference + 10%": False,
    }


def test_the_section_replaces_itself_and_keeps_the_other_sections(tmp_path: Path) -> None:
    path = tmp_path / "BENCHMARKS.md"
    path.write_text(f"# Benchmarks\n\n## Cold start\nkept\n\n{SECTION}\nstale figures\n\n## After\nalso kept\n")
    update_benchmarks(path)
    once = path.read_text()
    assert "kept\n" in once
    assert "## After\nalso kept\n" in once
    assert "stale figures" not in once
    assert once.count(SECTION) == 1
    assert "| spike | HPA reference |" in once
    update_benchmarks(path)
    assert path.read_text() == once


def test_the_section_is_appended_after_a_fresh_report(tmp_path: Path) -> None:
    path = tmp_path / "BENCHMARKS.md"
    path.write_text("# Benchmarks\n\n## Review fan-out\n\n| services |\n")  # as bench.write_report leaves it
    update_benchmarks(path)
    text = path.read_text()
    assert text.startswith("# Benchmarks\n\n## Review fan-out\n\n| services |\n\n" + SECTION + "\n")
    assert "| trace | target | reviewer vs reference | met |" in text


@pytest.mark.parametrize("comparison", ["GreaterThanUpperThreshold", "LessThanLowerOrGreaterThanUpperThreshold"])
def test_an_alarm_comparison_the_simulation_does_not_model_is_refused(comparison: str) -> None:
    with pytest.raises(ValueError, match="unsupported ComparisonOperator"):
        AlarmSpec("x", "CPUUtilization", 1, comparison, 1, "arn").breaches(2.0)


def test_the_reviewer_reads_a_native_activity_as_aws_writes_it_with_its_own_count_before() -> None:
    """AWS writes only the count an activity set ("Setting desired count to 5.", botocore
    examples-1.json, DescribeScalingActivities): its direction comes from the count the reviewer
    recorded before it, and its cooldown from the step policy its Cause names (120 s, web-scale-out)."""
    service = Service(reference_stack_scaling(), Plant(2, 2))
    service.cpu = {0: 50.0}
    reviewer(service, 0)  # 50% is within 10% of its 48% target: it holds, and records the count (2)
    assert service.plant.desired == 2
    service.cpu |= {1: 100.0, 2: 100.0, 3: 100.0}
    native_step_policies(service, 3)  # web-cpu-high in ALARM, 40 above its threshold: +3
    assert service.plant.desired == 5
    assert review_inputs(service, 3, ReviewMode.ACT).activities == (ScalingActivity(at(3), 3, 120),)
    service.summary = []  # no record of the count before: the direction is unknown, so it is not used
    assert review_inputs(service, 3, ReviewMode.ACT).activities == ()


def test_the_reviewer_reads_the_services_memory_whatever_its_policies_scale_on() -> None:
    # As ScalingReader._series asks GetMetricData for every service's MemoryUtilization.
    service = Service(reference_stack_scaling(), Plant(2, 2))
    service.cpu, service.memory = {0: 20.0}, {0: 95.0}
    assert [p.value for p in review_inputs(service, 0, ReviewMode.ACT).memory] == [95.0]


def test_memory_held_by_design_stays_whatever_the_load_and_the_count() -> None:
    assert Plant(desired=2, running=2).utilization(3.0, memory_bound=False, held_memory=95.0) == (100.0, 95.0, 100.0)
    assert Plant(desired=8, running=8).utilization(0.5, memory_bound=False, held_memory=95.0)[1] == 95.0


def test_the_held_memory_target_fails_when_memory_held_high_moves_the_count() -> None:
    spike, held = (next(t for t in traces() if t.name == n) for n in ("spike", "spike, memory held high"))
    outcomes = [simulate(t, c) for t in (spike, held) for c in (NATIVE, REVIEWED, HPA)]
    moved = [
        replace(o, task_minutes=o.task_minutes + 1) if o.trace == held.name and o.controller == REVIEWED else o
        for o in outcomes
    ]
    verdict = {c.target: c.met for c in check_targets(outcomes) if c.trace == held.name}
    assert verdict == {"scaled as on spike (memory held high is not load)": True}
    assert not next(c.met for c in check_targets(moved) if c.trace == held.name)


def test_beside_target_tracking_the_reviewer_in_act_mode_changes_nothing() -> None:
    scaling = target_tracking_scaling(1, 10, 50.0)
    load = (1.0,) + (2.0,) * 6 + (0.8,) * 30
    alone = run(Trace("tt", "", load), NATIVE, scaling, [target_tracking])
    reviewed = run(Trace("tt", "", load), REVIEWED, scaling, [target_tracking, reviewer])
    assert (reviewed.task_minutes, reviewed.count_changes) == (alone.task_minutes, alone.count_changes)
