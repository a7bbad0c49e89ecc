"""The scaling review: what the native step policy does now, what should happen, and why.

Pure: every input is a model, so each rule has a fast unit test. The reviewer never replaces the
native policy; it explains it (``native``), finds what is wrong with its setup (``findings``), and
recommends a count that act mode may apply within bounds. The recommendation's rules:

- The largest need of every metric that drives the service's scaling (``signals``), each sized
  from the tasks actually running and the load they carry, never from tasks still starting.
- No change for a load within ``tolerance`` of its target.
- Scale-in only to the highest need over the stabilization window, at most
  ``scale_in_max_percent`` of the tasks at once, never while a scale-out alarm is in ALARM.
- Scale from zero (where MinCapacity allows zero) when a scale-out alarm fires.
- Act mode never works against the native setup: it stands down beside a target-tracking policy,
  in a cooldown, while a direction is suspended, or against a scheduled change about to run.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from autodeploy.scaling.findings import configuration_findings
from autodeploy.scaling.models import (
    Decision,
    ReviewInputs,
    ReviewSettings,
    ScalingDecision,
    values,
)
from autodeploy.scaling.native import last_activity, native_shadow
from autodeploy.scaling.signals import Signal, Signals, driving_signals

_ACTIVITIES_UNSEEN = (
    "scaling activities (DescribeScalingActivities did not answer): cooldown judged from this reviewer's records"
)


@dataclass(frozen=True, slots=True)
class Proposal:
    decision: Decision
    recommended: int
    reason: str
    blocked: str | None = None  # why act mode must not apply it


def review(inputs: ReviewInputs, settings: ReviewSettings | None = None) -> ScalingDecision:
    settings = settings or ReviewSettings()
    findings = configuration_findings(inputs)
    unseen = list(inputs.unseen)
    if inputs.activities is None and not any(u.startswith("scaling activities") for u in unseen):
        unseen.append(_ACTIVITIES_UNSEEN)
    native = native_shadow(inputs)
    signals = driving_signals(inputs, settings)
    findings.extend(signals.notes)
    placement = _placement_trouble(inputs, settings)
    if placement:
        findings.append(placement)
    proposal = _recommend(inputs, settings, signals, native, findings, placement)
    if proposal.decision is not Decision.HOLD:
        proposal = _guarded(inputs, settings, proposal, findings)
    low, high = (inputs.target.minimum, inputs.target.maximum) if inputs.target else (inputs.desired, inputs.desired)
    facts: dict[str, Any] = {
        "desired": inputs.desired,
        "running": inputs.running,
        "pending": inputs.pending,
        "min": low,
        "max": high,
        "signals": {
            s.name: {
                "target": round(s.target, 2),
                "recent": [round(v, 2) for v in values(s.points)[-3:]],
                "need": s.need(max(1, inputs.running), s.now()),
            }
            for s in signals.usable
        },
        "missing_data": list(signals.missing),
        "since_last_change": signals.since.isoformat() if signals.since else None,
        "cpu_recent": [round(v, 1) for v in values(inputs.cpu)[-3:]],
    }
    return ScalingDecision(
        decision=proposal.decision,
        current_count=inputs.desired,
        recommended_count=proposal.recommended,
        native=native,
        reason=proposal.reason,
        alarms={a.name: a.state for a in inputs.alarms},
        findings=tuple(findings),
        unseen=tuple(unseen),
        act_blocked=proposal.blocked,
        inputs=facts,
    )


def _recommend(
    inputs: ReviewInputs,
    settings: ReviewSettings,
    signals: Signals,
    native: dict[str, Any],
    findings: list[str],
    placement: str | None,
) -> Proposal:
    current = inputs.desired
    if inputs.target is None:
        why = "its scalable target could not be read" if "target" in inputs.blind else "no scalable target"
        return Proposal(Decision.HOLD, current, f"holding: {why} to act within", why)
    low, high = inputs.target.minimum, inputs.target.maximum
    firing = [a.name for a in inputs.alarms if a.scales_out and a.state == "ALARM" and a.actions_enabled]
    if current == 0:
        return _from_zero(inputs, firing)
    if inputs.running == 0:
        return Proposal(
            Decision.HOLD,
            current,
            f"holding: no task running yet ({inputs.pending} starting); sizing waits for tasks that carry load",
            "no running task",
        )
    if not signals.usable:
        return Proposal(
            Decision.HOLD,
            current,
            f"holding: no fresh data for {inputs.service} ({'; '.join(signals.missing) or 'no metric'}); "
            "never scale on missing data",
            "missing data",
        )
    native_words = _native_words(native)
    out = max(signals.usable, key=lambda s: _need_now(s, inputs.running, settings))
    out_need = _need_now(out, inputs.running, settings)
    if out_need > current:
        load = f"{out.name} {out.now():.4g} against a target of {out.target:.4g}"
        if current >= high:
            findings.append(f"at MaxCapacity ({high}) with {load}: raise MaxCapacity or add capacity")
            return Proposal(
                Decision.HOLD, current, f"holding at MaxCapacity ({high}) although {load}", "at MaxCapacity"
            )
        if placement:
            return Proposal(
                Decision.HOLD, current, f"holding: more tasks would not run ({placement})", "tasks cannot be placed"
            )
        recommended = min(high, out_need)
        reason = (
            f"{load} on {inputs.running} running: {_tasks(recommended)} can carry this load (native: {native_words})"
        )
        if out.saturation is not None:
            reason = (
                f"{reason}; no policy scales on {out.name}, but it passed {out.saturation:g}% and moved with the load, "
                f"so it counts, adding at most {settings.memory_step_percent}% of the tasks at once"
            )
        return Proposal(Decision.SCALE_OUT, recommended, reason)
    if inputs.running < current:
        return Proposal(
            Decision.HOLD, current, f"holding: {current - inputs.running} of {current} tasks still starting", None
        )
    if firing:
        return Proposal(Decision.HOLD, current, f"holding: never scale in while {', '.join(firing)} is in ALARM")
    return _scale_in(inputs, settings, signals, low, native_words)


def _need_now(signal: Signal, running: int, settings: ReviewSettings) -> int:
    """The tasks a signal needs now; within the tolerance of its target, the tasks running.

    A saturation signal (memory no policy scales on) asks for more only from its saturation level,
    and for at most ``memory_step_percent`` more tasks at once: a signal the service's owners did
    not choose may move the count, but not far on one reading.
    """
    value = signal.now()
    if abs(value / signal.target - 1) <= settings.tolerance:
        return running
    need = int(signal.need(running, value))
    if signal.saturation is not None and need > running:
        if value < signal.saturation:
            return running
        return min(need, running + max(1, running * settings.memory_step_percent // 100))
    return need


def _scale_in(
    inputs: ReviewInputs, settings: ReviewSettings, signals: Signals, low: int, native_words: str
) -> Proposal:
    current = inputs.desired
    window_start = inputs.now - timedelta(minutes=settings.stabilization_minutes)
    covered = [s for s in signals.usable if s.points[0].at <= window_start + timedelta(seconds=s.period)]
    highest = {
        s.name: max(p.value for p in s.points if p.at >= window_start - timedelta(seconds=s.period))
        for s in signals.usable
    }
    near = [s for s in signals.usable if highest[s.name] / s.target >= 1 - settings.tolerance]
    if near:
        s = near[0]
        return Proposal(
            Decision.HOLD,
            current,
            f"{s.name} {s.now():.4g} is within {settings.tolerance:.0%} of its target {s.target:.4g}",
        )
    need = max(s.need(current, highest[s.name]) for s in signals.usable)
    if need >= current or current <= low:
        return Proposal(
            Decision.HOLD, current, f"the load needs the {_tasks(current)} running (within MinCapacity {low})"
        )
    if len(covered) < len(signals.usable):
        return Proposal(
            Decision.HOLD,
            current,
            f"stabilizing: scale-in needs {settings.stabilization_minutes} minutes of data since the last change",
        )
    floor = current - current * settings.scale_in_max_percent // 100
    recommended = max(low, need, floor)
    peaks = ", ".join(f"{s.name} at most {highest[s.name]:.4g} (target {s.target:.4g})" for s in signals.usable)
    reason = (
        f"over {settings.stabilization_minutes} minutes {peaks}: {_tasks(recommended)} can carry the highest load"
        f"{' (rate-limited)' if recommended == floor and floor > need else ''} (native: {native_words})"
    )
    return Proposal(Decision.SCALE_IN, recommended, reason)


def _from_zero(inputs: ReviewInputs, firing: list[str]) -> Proposal:
    assert inputs.target is not None
    if firing and inputs.target.maximum >= 1:
        recommended = max(1, inputs.target.minimum)
        return Proposal(
            Decision.SCALE_OUT, recommended, f"scale from zero: {', '.join(firing)} in ALARM with no task running"
        )
    return Proposal(Decision.HOLD, 0, "at zero tasks and no scale-out alarm fires")


def _guarded(inputs: ReviewInputs, settings: ReviewSettings, proposal: Proposal, findings: list[str]) -> Proposal:
    """The same recommendation, held or blocked for act mode when acting would fight the native setup."""
    assert inputs.target is not None
    scheduled = _scheduled_conflict(inputs, settings, proposal)
    if scheduled:
        return Proposal(Decision.HOLD, inputs.desired, f"holding: {scheduled}; would have said: {proposal.reason}")
    flapping = _flapping(inputs, settings)
    if flapping:
        findings.append(flapping)
        last_move = next((p.decision for p in reversed(inputs.history) if p.decision is not Decision.HOLD), None)
        if last_move is not None and last_move is not proposal.decision:
            return Proposal(
                Decision.HOLD,
                inputs.desired,
                f"holding to stop flapping ({flapping}); would have said: {proposal.reason}",
                "flapping",
            )
    tracking = next((v.tracking for v in inputs.policies if v.tracking is not None), None)
    if tracking is not None:
        return Proposal(
            proposal.decision,
            proposal.recommended,
            f"{proposal.reason}; target-tracking policy {tracking.name} owns the count, so this only explains",
            f"target-tracking policy {tracking.name} manages the desired count: act mode stands down",
        )
    out = proposal.decision is Decision.SCALE_OUT
    if (out and inputs.target.suspended_out) or (not out and inputs.target.suspended_in):
        direction = "scale-out" if out else "scale-in"
        return Proposal(proposal.decision, proposal.recommended, proposal.reason, f"dynamic {direction} is suspended")
    return Proposal(
        proposal.decision, proposal.recommended, proposal.reason, _cooldown_block(inputs, settings, proposal)
    )


def _scheduled_conflict(inputs: ReviewInputs, settings: ReviewSettings, proposal: Proposal) -> str | None:
    horizon = inputs.now + timedelta(minutes=settings.schedule_horizon_minutes)
    for change in sorted(inputs.scheduled, key=lambda c: c.at):
        if not inputs.now <= change.at <= horizon:
            continue
        when = f"scheduled action {change.name} at {change.at:%H:%M}"
        if (
            proposal.decision is Decision.SCALE_IN
            and change.minimum is not None
            and change.minimum > proposal.recommended
        ):
            return f"{when} sets MinCapacity to {change.minimum}"
        if (
            proposal.decision is Decision.SCALE_OUT
            and change.maximum is not None
            and change.maximum < proposal.recommended
        ):
            return f"{when} sets MaxCapacity to {change.maximum}"
    return None


def _tasks(count: int) -> str:
    return f"{count} task" if count == 1 else f"{count} tasks"


def _native_words(native: dict[str, Any]) -> str:
    adjustment = int(native.get("adjustment", 0))
    return f"{adjustment:+d}" if adjustment else f"no change, {native.get('why', '')}"


def _placement_trouble(inputs: ReviewInputs, settings: ReviewSettings) -> str | None:
    if inputs.pending <= 0:
        return None
    since = inputs.now - timedelta(minutes=settings.window_minutes)
    for at, message in inputs.service_events:
        if at >= since and "unable to place a task" in message:
            return f"{inputs.pending} tasks PENDING: the cluster has no room for them ({message[:160]})"
    return None


def _flapping(inputs: ReviewInputs, settings: ReviewSettings) -> str | None:
    since = inputs.now - timedelta(minutes=settings.flap_window_minutes)
    moves = [p.decision for p in inputs.history if p.at >= since and p.decision is not Decision.HOLD]
    changes = sum(1 for a, b in itertools.pairwise(moves) if a is not b)
    if changes >= settings.flap_changes:
        return f"flapping: {changes} changes of direction in the last {settings.flap_window_minutes} minutes"
    return None


def _cooldown_block(inputs: ReviewInputs, settings: ReviewSettings, proposal: Proposal) -> str | None:
    """Act mode waits out a native cooldown that would block the same move, and its own."""
    cooldowns = [p.policy.cooldown_seconds for p in inputs.policies if p.policy is not None]
    cooldown = max(cooldowns, default=settings.default_cooldown_seconds)
    last = last_activity(inputs)
    cooling = last is not None and inputs.now < last.at + timedelta(seconds=last.cooldown_seconds)
    # A scale-out interrupts a scale-in's cooldown; anything else waits for it.
    if cooling and last is not None and not (last.change < 0 and proposal.decision is Decision.SCALE_OUT):
        ended = f"{last.at:%H:%M:%S}"
        return f"a native scaling activity ended at {ended} is still in its {last.cooldown_seconds}s cooldown"
    applied = [p for p in inputs.history if p.applied]
    if applied:
        last_applied = max(applied, key=lambda p: p.at)
        if inputs.now < last_applied.at + timedelta(seconds=cooldown):
            when = f"{last_applied.at:%H:%M:%S}"
            return f"this reviewer changed the desired count at {when}, within the {cooldown}s cooldown"
    return None
