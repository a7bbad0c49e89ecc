"""What a native Application Auto Scaling step-scaling policy does, by AWS's documented rules.

- Step bounds are relative to the alarm threshold. Above the threshold a step's lower bound is
  inclusive and its upper bound exclusive; below it, the lower bound is exclusive and the upper
  inclusive. A missing bound is infinite.
- The metric is aggregated with the policy's MetricAggregationType (Average, Minimum, Maximum).
- ChangeInCapacity adds the step's adjustment; ExactCapacity sets it; PercentChangeInCapacity
  adds that percent of the current capacity, rounded toward zero except that a change between 0
  and 1 (or 0 and -1) counts as 1 (or -1), and at least MinAdjustmentMagnitude when set.
- Cooldown (StepScalingPolicyConfiguration.Cooldown, 300 s when not set, counted from the
  activity's end): while a scale-out's cooldown runs, the capacity it added counts towards the
  next scale-out, so only a larger scale-out adds more (the difference, ExactCapacity included),
  and no scale-in happens (ECS developer guide, step scaling). After a scale-in: no further
  scale-in until the cooldown ends, but a scale-out interrupts the scale-in's cooldown.
- Several policies triggered at once: the one giving the largest resulting capacity wins, for
  scale-out and scale-in alike (PutScalingPolicy).
- The result is clamped to the scalable target's MinCapacity and MaxCapacity; a suspended
  direction does nothing.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Final

DEFAULT_COOLDOWN_SECONDS: Final = 300  # StepScalingPolicyConfiguration.Cooldown when not set


class AdjustmentType(StrEnum):
    CHANGE_IN_CAPACITY = "ChangeInCapacity"
    PERCENT_CHANGE_IN_CAPACITY = "PercentChangeInCapacity"
    EXACT_CAPACITY = "ExactCapacity"


@dataclass(frozen=True, slots=True)
class Step:
    adjustment: int
    lower: float | None = None  # MetricIntervalLowerBound, relative to the threshold
    upper: float | None = None  # MetricIntervalUpperBound


@dataclass(frozen=True, slots=True)
class StepPolicy:
    name: str
    adjustment_type: AdjustmentType
    steps: tuple[Step, ...]
    cooldown_seconds: int = DEFAULT_COOLDOWN_SECONDS
    aggregation: str = "Average"
    min_adjustment_magnitude: int | None = None


@dataclass(frozen=True, slots=True)
class ScalingActivity:
    """A past scaling activity that matters for cooldown: when it ended, and by how much."""

    at: datetime  # EndTime: the cooldown runs from the activity's end
    change: int  # positive: scale-out, negative: scale-in
    cooldown_seconds: int


@dataclass(frozen=True, slots=True)
class NativeOutcome:
    adjustment: int  # the change in desired count the policy makes now (0: none)
    new_desired: int
    why: str

    def to_item(self) -> dict[str, object]:
        return {"adjustment": self.adjustment, "new_desired": self.new_desired, "why": self.why}


def aggregate(values: Sequence[float], aggregation: str) -> float | None:
    if not values:
        return None
    if aggregation == "Minimum":
        return min(values)
    if aggregation == "Maximum":
        return max(values)
    return sum(values) / len(values)


def matching_step(steps: Sequence[Step], breach: float) -> Step | None:
    """The step whose interval holds ``breach`` (metric value minus threshold).

    At the threshold itself both readings apply: [0, 10) and (-10, 0] each hold a breach of 0.
    """
    for step in steps:
        lower = -math.inf if step.lower is None else step.lower
        upper = math.inf if step.upper is None else step.upper
        above = lower <= breach < upper
        below = lower < breach <= upper
        if (breach > 0 and above) or (breach < 0 and below) or (breach == 0 and (above or below)):
            return step
    return None


def change_for(policy: StepPolicy, step: Step, current: int) -> int:
    """The capacity change one step asks for, before cooldown and clamping."""
    if policy.adjustment_type is AdjustmentType.EXACT_CAPACITY:
        return step.adjustment - current
    if policy.adjustment_type is AdjustmentType.CHANGE_IN_CAPACITY:
        return step.adjustment
    raw = current * step.adjustment / 100
    if 0 < raw < 1:
        change = 1
    elif -1 < raw < 0:
        change = -1
    else:
        change = math.trunc(raw)
    if policy.min_adjustment_magnitude and change != 0 and abs(change) < policy.min_adjustment_magnitude:
        change = policy.min_adjustment_magnitude if change > 0 else -policy.min_adjustment_magnitude
    return change


def evaluate(
    policy: StepPolicy,
    threshold: float,
    datapoints: Sequence[float],
    current: int,
    minimum: int,
    maximum: int,
    now: datetime,
    last_activity: ScalingActivity | None = None,
    suspended_out: bool = False,
    suspended_in: bool = False,
) -> NativeOutcome:
    """What the policy does now, when its alarm is in ALARM with these datapoints."""
    value = aggregate(datapoints, policy.aggregation)
    if value is None:
        return NativeOutcome(0, current, "no datapoints: the policy cannot pick a step")
    breach = value - threshold
    step = matching_step(policy.steps, breach)
    if step is None:
        return NativeOutcome(
            0, current, f"{policy.aggregation.lower()} {value:g} matches no step (threshold {threshold:g})"
        )
    change = change_for(policy, step, current)
    where = (
        f"{policy.aggregation.lower()} {value:g} vs threshold {threshold:g}: "
        f"step {_bounds(step)} -> {_describe(policy, step)}"
    )
    if change > 0 and suspended_out:
        return NativeOutcome(0, current, f"{where}, but dynamic scale-out is suspended")
    if change < 0 and suspended_in:
        return NativeOutcome(0, current, f"{where}, but dynamic scale-in is suspended")
    if last_activity is not None and now < last_activity.at + timedelta(seconds=last_activity.cooldown_seconds):
        if last_activity.change > 0 and change < 0:
            return NativeOutcome(
                0, current, f"{where}, but the last scale-out (+{last_activity.change}) is still in its cooldown"
            )
        if last_activity.change > 0 and change > 0:
            # The capacity the scale-out added counts as part of the next one: size it from before.
            before = current - last_activity.change
            proposed = before + change_for(policy, step, before)
            if proposed <= current:
                return NativeOutcome(
                    0, current, f"{where}, but the last scale-out (+{last_activity.change}) is still in its cooldown"
                )
            change, where = proposed - current, f"{where}, less the +{last_activity.change} still in cooldown"
        elif last_activity.change < 0 and change < 0:
            return NativeOutcome(0, current, f"{where}, but the last scale-in is still in its cooldown")
    target = min(maximum, max(minimum, current + change))
    if target == current:
        bound = "MaxCapacity" if change > 0 else "MinCapacity"
        return NativeOutcome(0, current, f"{where}, but the service is at its {bound} ({current})")
    clamped = "" if target == current + change else f", clamped to {'MaxCapacity' if change > 0 else 'MinCapacity'}"
    return NativeOutcome(target - current, target, f"{where}{clamped}")


def _bounds(step: Step) -> str:
    lower = "-inf" if step.lower is None else f"{step.lower:g}"
    upper = "+inf" if step.upper is None else f"{step.upper:g}"
    return f"[{lower}, {upper})"


def _describe(policy: StepPolicy, step: Step) -> str:
    if policy.adjustment_type is AdjustmentType.EXACT_CAPACITY:
        return f"exactly {step.adjustment}"
    if policy.adjustment_type is AdjustmentType.PERCENT_CHANGE_IN_CAPACITY:
        return f"{step.adjustment:+d}%"
    return f"{step.adjustment:+d}"
