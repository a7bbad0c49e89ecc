"""The scaling review: what the native step policy does now, what should happen, and why.

Pure: every input is a model, so each rule has a fast unit test. The reviewer never replaces the
native policy; it explains it, finds what is wrong with its setup, and (in act mode, within
bounds) applies its own recommendation.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from autodeploy.scaling.step_policy import NativeOutcome, ScalingActivity, StepPolicy, evaluate

ECS_SERVICE_METRICS = frozenset({"CPUUtilization", "MemoryUtilization"})
SERVICE_DIMENSIONS = frozenset({"ClusterName", "ServiceName"})


class Decision(StrEnum):
    SCALE_OUT = "SCALE_OUT"
    SCALE_IN = "SCALE_IN"
    HOLD = "HOLD"


class ReviewMode(StrEnum):
    OBSERVE = "observe"
    ACT = "act"


@dataclass(frozen=True, slots=True)
class AlarmView:
    name: str
    state: str  # OK, ALARM, INSUFFICIENT_DATA
    namespace: str
    metric: str
    dimensions: dict[str, str]
    statistic: str
    threshold: float
    comparison: str
    period: int
    evaluation_periods: int
    actions: tuple[str, ...]
    datapoints: tuple[float, ...] = ()  # the alarm's own metric, oldest first

    @property
    def scales_out(self) -> bool:
        return self.comparison in ("GreaterThanThreshold", "GreaterThanOrEqualToThreshold")


@dataclass(frozen=True, slots=True)
class PolicyView:
    arn: str
    policy: StepPolicy | None  # None: not a step policy (target tracking, say)
    kind: str = "StepScaling"


@dataclass(frozen=True, slots=True)
class ScalableTargetView:
    minimum: int
    maximum: int
    suspended_out: bool = False
    suspended_in: bool = False


@dataclass(frozen=True, slots=True)
class PastDecision:
    at: datetime
    decision: Decision
    applied: bool
    recommended: int


@dataclass(frozen=True, slots=True)
class ReviewSettings:
    target_ratio: float = 0.8  # aim at this share of the scale-out alarm's threshold
    default_target: float = 50.0  # when no CPU alarm says otherwise
    scale_in_ratio: float = 0.5  # "well under": every datapoint below this share of the target
    window_minutes: int = 15
    flap_window_minutes: int = 60
    flap_changes: int = 3
    default_cooldown_seconds: int = 300


@dataclass(frozen=True, slots=True)
class ReviewInputs:
    service_arn: str
    cluster: str
    service: str
    mode: ReviewMode
    now: datetime
    desired: int
    running: int
    pending: int
    cpu: tuple[float, ...]  # the service's CPUUtilization (ClusterName+ServiceName), per minute, oldest first
    service_events: tuple[str, ...] = ()
    target: ScalableTargetView | None = None
    policies: tuple[PolicyView, ...] = ()
    alarms: tuple[AlarmView, ...] = ()
    activities: tuple[ScalingActivity, ...] | None = None  # None: not visible
    history: tuple[PastDecision, ...] = ()


@dataclass(frozen=True, slots=True)
class ScalingDecision:
    decision: Decision
    current_count: int
    recommended_count: int
    native: dict[str, Any]
    reason: str
    alarms: dict[str, str]
    findings: tuple[str, ...]
    unseen: tuple[str, ...]
    act_blocked: str | None  # why act mode must not apply it (None: it may)
    inputs: dict[str, Any] = field(default_factory=dict)

    @property
    def diverges(self) -> bool:
        """The native policy and the recommendation disagree on the desired count."""
        return int(self.native.get("new_desired", self.current_count)) != self.recommended_count


def configuration_findings(inputs: ReviewInputs) -> list[str]:
    """What is wrong with the service's scaling setup, in sentences a person can act on."""
    return _target_findings(inputs) + _alarm_findings(inputs) + _policy_findings(inputs)


def _target_findings(inputs: ReviewInputs) -> list[str]:
    findings = []
    if inputs.target is None:
        findings.append("no scalable target: Application Auto Scaling does not manage this service's desired count")
    else:
        if inputs.target.suspended_out:
            findings.append("dynamic scale-out is suspended on the scalable target")
        if inputs.target.suspended_in:
            findings.append("dynamic scale-in is suspended on the scalable target")
    return findings


def _alarm_findings(inputs: ReviewInputs) -> list[str]:
    findings = []
    for alarm in inputs.alarms:
        if alarm.namespace == "AWS/ECS" and alarm.metric in ECS_SERVICE_METRICS:
            keys = set(alarm.dimensions)
            if keys != SERVICE_DIMENSIONS:
                findings.append(
                    f"alarm {alarm.name} can never see data: ECS publishes service {alarm.metric} under the "
                    f"dimensions ClusterName and ServiceName, the alarm uses {', '.join(sorted(keys)) or 'none'}"
                )
            elif alarm.dimensions != {"ClusterName": inputs.cluster, "ServiceName": inputs.service}:
                findings.append(f"alarm {alarm.name} watches another service ({alarm.dimensions})")
        if alarm.state == "INSUFFICIENT_DATA":
            findings.append(f"alarm {alarm.name} is INSUFFICIENT_DATA: its policies cannot act")
    return findings


def _policy_findings(inputs: ReviewInputs) -> list[str]:
    findings = []
    steps = [p.policy for p in inputs.policies if p.policy is not None]
    if steps and not any(s.adjustment < 0 for p in steps for s in p.steps):
        findings.append(
            "no scale-in path: no policy lowers the desired count, so the service never shrinks after a peak"
        )
    for policy in steps:
        if (
            policy.adjustment_type.value == "ChangeInCapacity"
            and all(s.adjustment <= 1 for s in policy.steps)
            and any(s.adjustment == 1 for s in policy.steps)
            and inputs.target is not None
            and policy.cooldown_seconds >= 120
        ):
            room = max(0, inputs.target.maximum - inputs.desired)
            minutes = room * policy.cooldown_seconds // 60
            findings.append(
                f"policy {policy.name} adds one task per {policy.cooldown_seconds}s cooldown: reaching MaxCapacity "
                f"({inputs.target.maximum}) from {inputs.desired} takes about {minutes} minutes"
            )
    for view in inputs.policies:
        if view.policy is None:
            findings.append(f"policy {view.arn.rsplit('/', 1)[-1]} is {view.kind}: not shadowed")
    return findings


def native_shadow(inputs: ReviewInputs) -> dict[str, Any]:
    """What the native step policies do now: the acting one, or why none acts."""
    if inputs.target is None:
        return {"adjustment": 0, "new_desired": inputs.desired, "why": "no scalable target"}
    last = _last_activity(inputs)
    outcomes: list[tuple[str, str, NativeOutcome]] = []
    quiet: list[str] = []
    for view in inputs.policies:
        if view.policy is None:
            continue
        alarms = [a for a in inputs.alarms if view.arn in a.actions]
        if not alarms:
            quiet.append(f"{view.policy.name}: no alarm invokes it")
        for alarm in alarms:
            if alarm.state != "ALARM":
                quiet.append(f"{view.policy.name}: alarm {alarm.name} is {alarm.state}")
                continue
            datapoints = alarm.datapoints[-max(1, alarm.evaluation_periods) :]
            outcome = evaluate(
                view.policy,
                alarm.threshold,
                datapoints,
                inputs.desired,
                inputs.target.minimum,
                inputs.target.maximum,
                inputs.now,
                last,
                inputs.target.suspended_out,
                inputs.target.suspended_in,
            )
            outcomes.append((view.policy.name, alarm.name, outcome))
    acting = [o for o in outcomes if o[2].adjustment != 0]
    if acting or outcomes:
        name, alarm_name, outcome = max(acting, key=lambda o: abs(o[2].adjustment)) if acting else outcomes[0]
        return {"policy": name, "alarm": alarm_name, **outcome.to_item()}
    why = "; ".join(quiet) if quiet else "no step scaling policy"
    return {"adjustment": 0, "new_desired": inputs.desired, "why": why}


def target_utilization(inputs: ReviewInputs, settings: ReviewSettings) -> float:
    cpu_out = [a for a in inputs.alarms if a.metric == "CPUUtilization" and a.scales_out]
    if cpu_out:
        return min(a.threshold for a in cpu_out) * settings.target_ratio
    return settings.default_target


def review(inputs: ReviewInputs, settings: ReviewSettings = ReviewSettings()) -> ScalingDecision:
    findings = configuration_findings(inputs)
    unseen = (
        []
        if inputs.activities is not None
        else [
            "scaling activities (DescribeScalingActivities did not answer): "
            "cooldown judged from this reviewer's records"
        ]
    )
    native = native_shadow(inputs)
    alarms = {a.name: a.state for a in inputs.alarms}
    current = inputs.desired
    low, high = (inputs.target.minimum, inputs.target.maximum) if inputs.target else (current, current)
    target = target_utilization(inputs, settings)
    window = inputs.cpu[-settings.window_minutes :]
    recent = window[-3:]
    facts: dict[str, Any] = {
        "desired": current,
        "running": inputs.running,
        "pending": inputs.pending,
        "min": low,
        "max": high,
        "target_utilization": round(target, 1),
        "cpu_recent": [round(v, 1) for v in recent],
        "cpu_window_max": round(max(window), 1) if window else None,
        "datapoints": len(window),
    }

    def decide(decision: Decision, recommended: int, reason: str, blocked: str | None = None) -> ScalingDecision:
        return ScalingDecision(
            decision=decision,
            current_count=current,
            recommended_count=recommended,
            native=native,
            reason=reason,
            alarms=alarms,
            findings=tuple(findings),
            unseen=tuple(unseen),
            act_blocked=blocked,
            inputs=facts,
        )

    if inputs.target is None:
        return decide(Decision.HOLD, current, "holding: no scalable target to act within", "no scalable target")
    if not recent:
        return decide(
            Decision.HOLD,
            current,
            f"holding: no CPU data for {inputs.service} in the last {settings.window_minutes} minutes "
            "(never scale on missing data)",
            "missing data",
        )
    load = sum(recent) / len(recent)
    needed = max(1, math.ceil(current * load / target))
    placement = _placement_trouble(inputs)
    if placement:
        findings.append(placement)

    if load > target and needed > current:
        if current >= high:
            findings.append(f"at MaxCapacity ({high}) with CPU at {load:.0f}%: raise MaxCapacity or add capacity")
            return decide(
                Decision.HOLD,
                current,
                f"holding at MaxCapacity ({high}) although CPU is {load:.0f}% against a target of {target:.0f}%",
                "at MaxCapacity",
            )
        if placement:
            return decide(
                Decision.HOLD, current, f"holding: more tasks would not run ({placement})", "tasks cannot be placed"
            )
        recommended = min(high, needed)
        decision, reason = (
            Decision.SCALE_OUT,
            (
                f"CPU {load:.0f}% against a target of {target:.0f}%: {_tasks(recommended)} can carry this load "
                f"(native: {_native_words(native)})"
            ),
        )
    elif (
        len(window) >= min(10, settings.window_minutes)
        and max(window) < target * settings.scale_in_ratio
        and current > low
    ):
        recommended = max(low, math.ceil(current * max(window) / target))
        decision, reason = (
            Decision.SCALE_IN,
            (
                f"CPU stayed under {target * settings.scale_in_ratio:.0f}% (at most {max(window):.0f}%) for "
                f"{len(window)} minutes: {_tasks(recommended)} can carry this load (native: {_native_words(native)})"
            ),
        )
    else:
        return decide(Decision.HOLD, current, f"CPU {load:.0f}% is within the band around the {target:.0f}% target")

    if recommended == current:
        return decide(Decision.HOLD, current, reason)
    flapping = _flapping(inputs, settings)
    if flapping:
        findings.append(flapping)
        last_move = next((p.decision for p in reversed(inputs.history) if p.decision is not Decision.HOLD), None)
        if last_move is not None and last_move is not decision:
            return decide(
                Decision.HOLD, current, f"holding to stop flapping ({flapping}); would have said: {reason}", "flapping"
            )
    return decide(decision, recommended, reason, _cooldown_block(inputs, settings))


def _tasks(count: int) -> str:
    return f"{count} task" if count == 1 else f"{count} tasks"


def _last_activity(inputs: ReviewInputs) -> ScalingActivity | None:
    if inputs.activities:
        return max(inputs.activities, key=lambda a: a.at)
    return None


def _native_words(native: dict[str, Any]) -> str:
    adjustment = int(native.get("adjustment", 0))
    return f"{adjustment:+d}" if adjustment else f"no change, {native.get('why', '')}"


def _placement_trouble(inputs: ReviewInputs) -> str | None:
    if inputs.pending <= 0:
        return None
    for message in inputs.service_events:
        if "unable to place a task" in message:
            return f"{inputs.pending} tasks PENDING: the cluster has no room for them ({message[:160]})"
    return None


def _flapping(inputs: ReviewInputs, settings: ReviewSettings) -> str | None:
    since = inputs.now - timedelta(minutes=settings.flap_window_minutes)
    moves = [p.decision for p in inputs.history if p.at >= since and p.decision is not Decision.HOLD]
    changes = sum(1 for a, b in itertools.pairwise(moves) if a is not b)
    if changes >= settings.flap_changes:
        return f"flapping: {changes} changes of direction in the last {settings.flap_window_minutes} minutes"
    return None


def _cooldown_block(inputs: ReviewInputs, settings: ReviewSettings) -> str | None:
    cooldowns = [p.policy.cooldown_seconds for p in inputs.policies if p.policy is not None]
    cooldown = max(cooldowns, default=settings.default_cooldown_seconds)
    if inputs.activities is not None:
        last = _last_activity(inputs)
        if last is not None and inputs.now < last.at + timedelta(seconds=last.cooldown_seconds):
            return f"a native scaling activity at {last.at:%H:%M:%S} is still in its {last.cooldown_seconds}s cooldown"
    applied = [p for p in inputs.history if p.applied]
    if applied:
        last_applied = max(applied, key=lambda p: p.at)
        if inputs.now < last_applied.at + timedelta(seconds=cooldown):
            when = f"{last_applied.at:%H:%M:%S}"
            return f"this reviewer changed the desired count at {when}, within the {cooldown}s cooldown"
    return None


def summarize_history(history: Sequence[PastDecision], keep: int = 30) -> list[dict[str, Any]]:
    return [
        {"at": p.at.isoformat(), "decision": p.decision.value, "applied": p.applied, "recommended": p.recommended}
        for p in sorted(history, key=lambda p: p.at)[-keep:]
    ]
