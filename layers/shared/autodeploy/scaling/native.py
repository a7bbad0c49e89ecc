"""The native shadow: the desired count the service's step policies would set now, as AWS would.

Each step policy runs when an alarm whose current state lists it among its actions (AlarmActions
in ALARM, OKActions in OK, InsufficientDataActions in INSUFFICIENT_DATA) has its actions enabled.
When several policies act at once, the one giving the largest resulting capacity wins, for
scale-in too (PutScalingPolicy). Target-tracking policies are not shadowed: AWS does not publish
their arithmetic.
"""

from __future__ import annotations

from typing import Any

from autodeploy.scaling.models import AlarmView, PolicyView, ReviewInputs, values
from autodeploy.scaling.step_policy import NativeOutcome, ScalingActivity, evaluate


def last_activity(inputs: ReviewInputs) -> ScalingActivity | None:
    if inputs.activities:
        return max(inputs.activities, key=lambda a: a.at)
    return None


def native_shadow(inputs: ReviewInputs) -> dict[str, Any]:
    """What the native step policies do now: the acting one, or why none acts.

    Fields: ``adjustment`` and ``new_desired`` (the count AWS would set), ``why``; with an acting
    or evaluated policy also ``policy`` and ``alarm``; ``also`` lists the other policies that
    would act at the same time and lose to the largest resulting capacity.
    """
    if inputs.target is None:
        return {"adjustment": 0, "new_desired": inputs.desired, "why": "no scalable target"}
    last = last_activity(inputs)
    outcomes: list[tuple[str, str, NativeOutcome]] = []
    quiet: list[str] = []
    for view in inputs.policies:
        if view.policy is None:
            continue
        alarms = [a for a in inputs.alarms if a.invokes(view.arn)]
        if not alarms:
            quiet.append(f"{view.policy.name}: no alarm invokes it")
        for alarm in alarms:
            outcome = _run(inputs, view, alarm, last)
            if isinstance(outcome, str):
                quiet.append(f"{view.policy.name}: {outcome}")
            else:
                outcomes.append((view.policy.name, alarm.name, outcome))
    acting = [o for o in outcomes if o[2].adjustment != 0]
    if acting:
        name, alarm_name, outcome = max(acting, key=lambda o: o[2].new_desired)
        others = [f"{n} via {a}: {o.new_desired}" for n, a, o in acting if (n, a) != (name, alarm_name)]
        unseen = "" if inputs.activities is not None else " (cooldown unknown: scaling activities not visible)"
        shadow = {"policy": name, "alarm": alarm_name, **outcome.to_item()}
        shadow["why"] = f"{outcome.why}{unseen}"
        return shadow | ({"also": others} if others else {})
    if outcomes:
        name, alarm_name, outcome = outcomes[0]
        return {"policy": name, "alarm": alarm_name, **outcome.to_item()}
    if inputs.blind & {"policies", "alarms"}:
        quiet.insert(0, f"{' and '.join(sorted(inputs.blind & {'policies', 'alarms'}))} could not be read")
    why = "; ".join(quiet) if quiet else "no step scaling policy"
    return {"adjustment": 0, "new_desired": inputs.desired, "why": why}


def _run(inputs: ReviewInputs, view: PolicyView, alarm: AlarmView, last: ScalingActivity | None) -> NativeOutcome | str:
    """The policy's outcome when this alarm runs it now, or why the alarm does not run it."""
    assert view.policy is not None and inputs.target is not None
    if not alarm.actions_enabled:
        return f"alarm {alarm.name} has its actions disabled"
    if not alarm.triggers_now(view.arn):
        return f"alarm {alarm.name} is {alarm.state}"
    if alarm.threshold is None:
        return f"alarm {alarm.name}: its anomaly band could not be read"
    # The step is picked from the datapoints the alarm evaluated: its last EvaluationPeriods.
    datapoints = values(alarm.datapoints)[-max(1, alarm.evaluation_periods) :]
    return evaluate(
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
