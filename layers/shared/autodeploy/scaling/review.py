"""The scaling review: what the native step policy does now, what should happen, and why.

Pure: every input is a model, so each rule has a fast unit test. The reviewer never replaces the
native policy; it explains it (``native``), finds what is wrong with its setup (``findings``), and
recommends a count (``recommendation``) that act mode may apply within bounds.
"""

from __future__ import annotations

import itertools
import math
from datetime import timedelta
from typing import Any

from autodeploy.scaling.findings import configuration_findings
from autodeploy.scaling.models import (
    Decision,
    ReviewInputs,
    ReviewSettings,
    ScalingDecision,
)
from autodeploy.scaling.native import _last_activity, native_shadow


def target_utilization(inputs: ReviewInputs, settings: ReviewSettings) -> float:
    cpu_out = [a for a in inputs.alarms if a.metric == "CPUUtilization" and a.scales_out]
    if cpu_out:
        return min(a.threshold for a in cpu_out) * settings.target_ratio
    return settings.default_target


def review(inputs: ReviewInputs, settings: ReviewSettings | None = None) -> ScalingDecision:
    settings = settings or ReviewSettings()
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
