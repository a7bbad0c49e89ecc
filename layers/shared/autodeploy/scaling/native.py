"""The native shadow: what the service's Application Auto Scaling step policies do now."""

from __future__ import annotations

from typing import Any

from autodeploy.scaling.models import ReviewInputs
from autodeploy.scaling.step_policy import NativeOutcome, ScalingActivity, evaluate


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


def _last_activity(inputs: ReviewInputs) -> ScalingActivity | None:
    if inputs.activities:
        return max(inputs.activities, key=lambda a: a.at)
    return None
