"""The metrics that drive a service's scaling, each with the target the recommendation holds it at.

- The service's CPU always; its memory at the policy's target when a policy scales on it.
- Its memory as a saturation signal when no policy does (``memory_doubt``): ECS publishes
  MemoryUtilization for every service, as it does CPUUtilization (ECS developer guide, "Amazon ECS
  service utilization metrics"), so a memory-bound service under CPU-only policies is visible.
- Each target-tracking policy's metric at the policy's own target (ALB RequestCountPerTarget,
  custom metrics...): the reviewer never aims elsewhere than the policy that owns the count.
- Each scale-out alarm running a step policy, on its own metric or expression as the alarm reads
  it, aimed at ``target_ratio`` of its threshold.

A signal's points are the fresh ones: none from before the last change of the desired count, and
a series with no point in its last ``stale_periods`` periods is missing data, not a load.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from autodeploy.scaling.findings import SERVICE_DIMENSIONS
from autodeploy.scaling.models import AlarmView, ReviewInputs, ReviewSettings, Series, values

_CPU_TRACKING = "ECSServiceAverageCPUUtilization"
_MEMORY_TRACKING = "ECSServiceAverageMemoryUtilization"


@dataclass(frozen=True, slots=True)
class Signal:
    name: str
    target: float
    points: Series  # fresh, after the last change
    period: int = 60
    # A saturation signal (memory no policy scales on): it asks for more tasks only from this level,
    # and for at most ``ReviewSettings.memory_step_percent`` more at once; it always holds scale-in.
    saturation: float | None = None

    def now(self) -> float:
        """The load now: the mean of the last three points (one minute is noise)."""
        recent = values(self.points)[-3:]
        return sum(recent) / len(recent)

    def need(self, running: int, value: float) -> int:
        """Tasks that carry ``value`` at the target, if ``running`` tasks carry it now (HPA's rule)."""
        return max(1, math.ceil(running * value / self.target))


@dataclass(frozen=True, slots=True)
class Signals:
    usable: tuple[Signal, ...]
    missing: tuple[str, ...]  # sentences: which series had no fresh data, and why
    since: datetime | None  # the last change of the desired count, when known
    notes: tuple[str, ...] = ()  # findings: a metric read and deliberately not counted, and why


def last_change(inputs: ReviewInputs) -> datetime | None:
    """The latest change of the desired count: a native activity's end or this reviewer's own."""
    moments = [a.at for a in inputs.activities or ()] + [p.at for p in inputs.history if p.applied]
    return max(moments, default=None)


def driving_signals(inputs: ReviewInputs, settings: ReviewSettings) -> Signals:
    since = last_change(inputs)
    usable: list[Signal] = []
    missing: list[str] = []

    def consider(name: str, target: float | None, series: Series, period: int = 60) -> None:
        if target is None or target <= 0:
            missing.append(f"{name}: no usable target")
            return
        stale_before = inputs.now - timedelta(seconds=period * (settings.stale_periods + 1))
        if not series or series[-1].at < stale_before:
            last = f"last point {series[-1].at:%H:%M}" if series else "no point"
            missing.append(f"{name}: no data in the last {settings.stale_periods} periods ({last})")
            return
        window_start = inputs.now - timedelta(minutes=settings.window_minutes)
        fresh = tuple(p for p in series if p.at >= window_start and (since is None or p.at >= since))
        if not fresh:
            missing.append(f"{name}: no point since the last change at {since:%H:%M:%S}" if since else name)
            return
        usable.append(Signal(name, target, fresh, period))

    tracking = [v.tracking for v in inputs.policies if v.tracking is not None]
    cpu_tracking = next((t for t in tracking if t.metric == _CPU_TRACKING), None)
    memory_tracking = next((t for t in tracking if t.metric == _MEMORY_TRACKING), None)
    tracking_arns = {v.arn for v in inputs.policies if v.tracking is not None}
    # A target-tracking policy's own alarms are not targets: the policy's target value is.
    service_alarms = [
        a
        for a in inputs.alarms
        if _on_service_metric(a, inputs)
        and a.scales_out
        and a.threshold
        and not any(a.invokes(arn) for arn in tracking_arns)
    ]
    cpu_alarms = [
        a.threshold * settings.target_ratio for a in service_alarms if a.metric == "CPUUtilization" and a.threshold
    ]
    memory_alarms = [
        a.threshold * settings.target_ratio for a in service_alarms if a.metric == "MemoryUtilization" and a.threshold
    ]
    cpu_target = (
        settings.target
        or (cpu_tracking.target if cpu_tracking else None)
        or (min(cpu_alarms) if cpu_alarms else None)
        or settings.default_target
    )
    consider("CPUUtilization", cpu_target, inputs.cpu)
    notes: list[str] = []
    if memory_tracking or memory_alarms:
        memory_target = settings.target or (memory_tracking.target if memory_tracking else None) or min(memory_alarms)
        consider("MemoryUtilization", memory_target, inputs.memory)
    elif inputs.memory:
        doubt = memory_doubt(inputs.cpu, inputs.memory, settings)
        if doubt is None:
            before = len(usable)
            consider(
                "MemoryUtilization", settings.target or settings.memory_high * settings.target_ratio, inputs.memory
            )
            if len(usable) > before:
                usable[-1] = replace(usable[-1], saturation=settings.memory_high)
                notes.extend(_blind_scale_in(inputs))
        elif max(values(inputs.memory[-3:])) >= settings.memory_high:
            notes.append(
                f"memory at {values(inputs.memory)[-1]:.4g}% but not counted as load: {doubt}; if this service "
                "is memory-bound, scale it on memory (an alarm or a target-tracking policy on MemoryUtilization)"
            )
    for policy in tracking:
        if policy.metric not in (_CPU_TRACKING, _MEMORY_TRACKING):
            consider(f"{policy.metric} ({policy.name})", policy.target, policy.datapoints)
    step_arns = {v.arn for v in inputs.policies if v.policy is not None}
    for alarm in inputs.alarms:
        if not alarm.scales_out or alarm in service_alarms:
            continue
        if any(alarm.invokes(arn) for arn in tracking_arns) or not any(alarm.invokes(arn) for arn in step_arns):
            continue  # a target-tracking policy's own alarm, or one that runs none of the service's step policies
        target = alarm.threshold * settings.target_ratio if alarm.threshold is not None else None
        consider(f"{alarm.metric} ({alarm.name})", target, alarm.datapoints, alarm.period)
    return Signals(tuple(usable), tuple(missing), since, tuple(notes))


def _blind_scale_in(inputs: ReviewInputs) -> list[str]:
    """Scale-in alarms blind to memory that moves with the load: what they remove, memory will need back."""
    step_arns = [
        v.arn for v in inputs.policies if v.policy is not None and any(s.adjustment < 0 for s in v.policy.steps)
    ]
    return [
        f"alarm {a.name} scales in on {a.metric or 'an expression'} alone, but memory moves with the load here: "
        "its scale-ins can remove tasks memory needs (scale in on memory too, e.g. a metric-math alarm on both)"
        for a in inputs.alarms
        if not a.scales_out and a.metric != "MemoryUtilization" and any(a.invokes(arn) for arn in step_arns)
    ]


def memory_doubt(cpu: Series, memory: Series, settings: ReviewSettings) -> str | None:
    """Why memory that no policy scales on is not evidence of load; None: it moved with the load.

    A memory-bound service's memory rises and falls with its load, minute by minute with its CPU
    (both divide across the running tasks when the count changes). A JVM heap sized to its
    reservation, a cache or a leak does not: it sits flat, or drifts on its own clock, and adding
    tasks would not bring it down, so sizing on it would run the service up to MaxCapacity. Memory
    counts only when, over the window, it swung by ``memory_min_swing`` points or more and its
    correlation with CPU reached ``memory_min_correlation``; otherwise the review says so as a
    finding and leaves the count to the policies' own metrics.
    """
    cpu_at = {p.at: p.value for p in cpu}
    pairs = [(cpu_at[p.at], p.value) for p in memory if p.at in cpu_at]
    if len(pairs) < settings.memory_min_points:
        return f"only {len(pairs)} minutes of memory and CPU together to judge it by"
    cpus, memories = [c for c, _ in pairs], [m for _, m in pairs]
    swing = max(memories) - min(memories)
    if swing < settings.memory_min_swing:
        return (
            f"it stayed within {swing:.3g} points over {len(pairs)} minutes (flat, as a heap sized to its reservation)"
        )
    try:
        correlation = statistics.correlation(cpus, memories)
    except statistics.StatisticsError:
        return "CPU did not move at all, so nothing shows memory follows the load"
    if correlation < settings.memory_min_correlation:
        return f"it did not move with CPU (correlation {correlation:.2f} over {len(pairs)} minutes)"
    return None


def _on_service_metric(alarm: AlarmView, inputs: ReviewInputs) -> bool:
    """An alarm on the service's own average CPU or memory: the service series already covers it."""
    return (
        alarm.namespace == "AWS/ECS"
        and alarm.metric in ("CPUUtilization", "MemoryUtilization")
        and alarm.statistic == "Average"
        and set(alarm.dimensions) == SERVICE_DIMENSIONS
        and alarm.dimensions == {"ClusterName": inputs.cluster, "ServiceName": inputs.service}
    )
