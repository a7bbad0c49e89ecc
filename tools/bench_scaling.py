"""`make bench-scaling` (and the last step of `make bench`): the closed-loop scaling simulation's
section of BENCHMARKS.md. It reports figures and whether each target is met; it asserts nothing."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from tools.benchmarks_file import replace_section
from tools.scaling_plant import (
    HPA_STABILIZATION_MINUTES,
    HPA_TOLERANCE,
    IDLE_MEMORY,
    MEMORY_BOUND_CPU_SHARE,
    STARTUP_MINUTES,
    TRACKING_COOLDOWN_SECONDS,
    TRACKING_HIGH_PERIODS,
    TRACKING_LOW_PERIODS,
    TRACKING_LOW_RATIO,
    reference_stack_scaling,
)
from tools.scaling_product import SETTINGS
from tools.scaling_sim import (
    MINUTES,
    OPENING_UTILIZATION,
    SEED,
    TRACKING_TARGET,
    Outcome,
    TargetCheck,
    check_targets,
    hpa_target,
    reviewer_target,
    simulate_all,
    traces,
)
from tools.template import ROOT

SECTION = "## Closed-loop scaling"
BENCHMARKS = ROOT / "BENCHMARKS.md"


# Why memory no policy scales on is read the way it is (`autodeploy.scaling.signals.memory_doubt`).
MEMORY_RULE = (
    "Memory no policy scales on. ECS publishes every service's MemoryUtilization, as it does CPUUtilization",
    '(ECS developer guide, "Amazon ECS service utilization metrics"), so the reviewer reads it everywhere. It',
    "is not every service's load: a JVM heap sized to its reservation, a cache or a leak sits high whatever",
    "the load, and adding tasks does not bring it down, so sizing on it would run such a service to",
    "MaxCapacity (the HPA reference does exactly that on the held-memory trace). The rule an SRE can check:",
    "memory counts only once it has moved with the load, minute by minute with CPU over the window (a",
    "memory-bound service's memory divides across its tasks as CPU does, through count changes too); it",
    "asks for more tasks only from its high level, and by at most half the tasks at once, since no owner",
    "chose it as a scaling metric; once counted it also holds scale-in, so the tasks it asked for are not",
    "taken back while it still needs them. Memory that is high but flat or drifting is a finding in the",
    "record, never an action; so is a memory-bound service's under perfectly steady load, which shows no",
    "evidence either way (its owner can add a memory policy; the reviewer will not guess). On the",
    "memory-bound trace the native scale-in (CPU below 20%) keeps removing a task the memory needs and the",
    "reviewer adds it back (the direction flips there); the record says so as a finding (the scale-in",
    "alarm is blind to memory), because only the service's owner can fix that policy. The held-memory",
    "trace is the spike's load with memory held at 95%: the reviewer must scale it exactly as the spike.",
    "",
)


def section(outcomes: Sequence[Outcome], checks: Sequence[TargetCheck]) -> str:
    stack = reference_stack_scaling()
    alarms = ", ".join(
        f"{a.name} ({a.metric} {'>' if 'Greater' in a.comparison else '<'} {a.threshold:g}, "
        f"{a.evaluation_periods} of {a.evaluation_periods} minutes)"
        for a in stack.alarms
    )
    policies = ", ".join(
        f"{v.policy.name} (steps {', '.join(f'{s.adjustment:+d}' for s in v.policy.steps)}, "
        f"cooldown {v.policy.cooldown_seconds} s)"
        for v in stack.policies
        if v.policy is not None
    )
    all_traces = traces()
    step_target = reviewer_target(all_traces[0].scaling())
    tracked = next(t for t in all_traces if t.target_tracking).scaling()
    tracked_target, tracked_hpa = reviewer_target(tracked), hpa_target(tracked)
    met = sum(c.met for c in checks)
    missed = [c for c in checks if not c.met]
    lines = [
        SECTION,
        "",
        f"A deterministic simulation (`tools/scaling_sim.py`, seed {SEED}, {MINUTES} one-minute steps per trace) of",
        "one service under load, closed loop: each minute the plant runs, CloudWatch gets its datapoints, the",
        "alarms evaluate and the controllers act on what they see. No emulator: the native step policies act",
        "as the product's own shadow (`autodeploy.scaling.native.native_shadow`) says they act, and the reviewer",
        "is `autodeploy.scaling.review.review` fed the inputs the use case (`autodeploy.scaling.reviewer` and",
        "`readings`) would read from AWS (`tools/scaling_product.py`, the one adapter): timestamped datapoints",
        "over the last 20 minutes (the service's memory included), the scaling activities as AWS",
        "writes them read through `interpret_activities`, the reviewer's history as its summary item keeps it.",
        "",
        "Plant model:",
        "",
        "- load in task-units (one busy task carries 1.0); CPU% = 100 x load / running tasks, capped at 100;",
        f"  on the memory-bound trace memory% is that figure and CPU% {MEMORY_BOUND_CPU_SHARE:g} of it; on the"
        " held-memory trace memory% is the trace's own figure, whatever the load and the count; elsewhere"
        f" memory stays at {IDLE_MEMORY:g}%;",
        f"- a new task runs and carries load {STARTUP_MINUTES} minutes after the desired count rises; lowering it"
        " cancels starting tasks first;",
        '- task-minutes count running and starting tasks; "minutes above 90%" is CPU, or memory on the',
        "  memory-bound trace (what saturates there);",
        "- alarms: Period 60, Average, N of N datapoints, TreatMissingData missing (no datapoint in the range:",
        "  INSUFFICIENT_DATA; a gap keeps an N-of-N alarm out of ALARM); an alarm in ALARM invokes its policy",
        "  every minute;",
        f"- reference stack (`stacks/service.yaml`, read by the simulation): MinCapacity {stack.minimum}, MaxCapacity"
        f" {stack.maximum}; {alarms}; {policies};",
        f"- target tracking at {TRACKING_TARGET:g}% CPU: AlarmHigh {TRACKING_HIGH_PERIODS} of"
        f" {TRACKING_HIGH_PERIODS} minutes above the target, AlarmLow {TRACKING_LOW_PERIODS} of"
        f" {TRACKING_LOW_PERIODS} below {TRACKING_LOW_RATIO:.0%} of it; proportional capacity"
        " (ceil(desired x metric / target), on the latest datapoint out, on the highest of the 15 in),"
        f" {TRACKING_COOLDOWN_SECONDS} s cooldowns (the ECS default) with the capacity a scale-out added counted"
        " towards the next during its cooldown;",
        "- the reviewer reviews once a minute, 30 s after the native policy acted, in act mode, and applies a",
        "  decision when the use case's act mode would (not HOLD, not blocked, within MinCapacity..MaxCapacity);",
        "  beside a target-tracking policy act mode stands down, so there it only explains;",
        f"- the HPA-style reference: ceil(running x utilization / target) for CPU and memory (the larger wins),"
        f" no change within {HPA_TOLERANCE:.0%} of the target, scale-up at once, scale-down to the highest"
        f" recommendation of the last {HPA_STABILIZATION_MINUTES} minutes; its target is the one the service's"
        f" set-up asks for: the target tracking value ({tracked_hpa:g}%) on the target-tracking trace, and on the"
        f" reference stack, whose step policies name none, the reviewer's own ({step_target:g}%, 0.8 x the"
        " scale-out alarm's threshold);",
        f"- the reviewer's CPU target: {step_target:g}% on the reference stack (0.8 x the scale-out alarm's"
        f" threshold), {tracked_target:g}% under target tracking (the policy's own target value);",
        f"- memory no policy scales on (the reference stack scales on CPU only) counts only when it moved with the"
        f" load: a swing of at least {SETTINGS.memory_min_swing:g} points and a correlation with CPU of at least"
        f" {SETTINGS.memory_min_correlation:g} over the window; then it asks for more tasks only from"
        f" {SETTINGS.memory_high:g}%, {SETTINGS.memory_step_percent}% more at most per review, aims at"
        f" {SETTINGS.memory_high * SETTINGS.target_ratio:g}% ({SETTINGS.target_ratio:g} x {SETTINGS.memory_high:g})"
        " and holds scale-in like any signal; memory that is flat or drifts on its own is a finding, not load;",
        f"- every trace starts with the count that carries its first minute at {OPENING_UTILIZATION:.0%}.",
        "",
        "Traces:",
        "",
        *[f"- {t.name}: {t.description}." for t in all_traces],
        "",
        "| trace | controller | task-minutes | minutes above 90% | count changes | direction flips | peak tasks |",
        "|---|---|---|---|---|---|---|",
        *[
            f"| {o.trace} | {o.controller} | {o.task_minutes} | {o.minutes_hot} | {o.count_changes} "
            f"| {o.direction_flips} | {o.peak_tasks} |"
            for o in outcomes
        ],
        "",
        'Targets for the reviewer (native + reviewer against native only, or against the HPA reference; "fewer',
        'minutes above 90%" counts as met when both are 0):',
        "",
        "| trace | target | reviewer vs reference | met |",
        "|---|---|---|---|",
        *[f"| {c.trace} | {c.target} | {c.figures} | {'met' if c.met else '**not met**'} |" for c in checks],
        "",
        "Read cost and saturation together: a task-minutes target met while the reviewer's minutes above 90%",
        "exceed the HPA reference's is met by under-provisioning, not by good scaling.",
        "",
        f"{met} of {len(checks)} targets met with today's recommendation rules."
        + (f" Missed: {'; '.join(f'{c.trace}, {c.target}' for c in missed)}." if missed else ""),
        "",
        *MEMORY_RULE,
    ]
    return "\n".join(lines)


def update_benchmarks(path: Path = BENCHMARKS) -> list[Outcome]:
    """Rewrite this section of BENCHMARKS.md in place (or append it), leaving the other sections alone."""
    outcomes = simulate_all()
    new = section(outcomes, check_targets(outcomes))
    replace_section(path, SECTION, new)
    return outcomes


def main() -> int:
    outcomes = update_benchmarks()
    for outcome in outcomes:
        print(
            f"  {outcome.trace} / {outcome.controller}: {outcome.task_minutes} task-minutes, "
            f"{outcome.minutes_hot} minutes above 90%, {outcome.count_changes} changes, "
            f"{outcome.direction_flips} flips",
            flush=True,
        )
    print(f"wrote the '{SECTION[3:]}' section of BENCHMARKS.md", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
