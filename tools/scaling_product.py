"""The one adapter between the simulated service and the product's scaling review.

Each simulated minute it builds `ReviewInputs` from the plant the way the use case
(`autodeploy.scaling.reviewer.ReviewScaling._review` with `autodeploy.scaling.readings`) builds
them from AWS:

- DescribeServices counts: desired, running, pending (the tasks still starting);
- the scalable target and the policies (a target-tracking policy as `_policy_view` reads it, with
  its predefined metric's series, as `tracked_metric` asks GetMetricData for it);
- each policy's alarms with their own metric, and the service's CPU and memory (read for every
  service, as `ScalingReader._series` reads them), from GetMetricData over the last `LOOKBACK`:
  timestamped datapoints, only those that exist;
- the scaling activities as DescribeScalingActivities lists them (newest first, back to the first
  one started before the lookback; "Setting desired count to N.", the Cause naming the policy),
  read through `interpret_activities`: the count before each comes from the previous activity or
  the reviewer's own history, the cooldown from the step policy the Cause names (0 otherwise);
- the reviewer's history as its summary item gives it back (`summarize_history` over the flap
  window, read with `decision_log.past_decision`), counts included.

Timing within a simulated minute: its datapoint is stamped at the minute's start and visible at its
end, `at(minute)`; the alarms evaluate and Application Auto Scaling acts then (an ECS activity
completes as soon as the desired count is set); the reviewer reviews `REVIEW_DELAY` later.

Two controllers come out of it: the native step policies, acting as the product's own shadow says
they act (on AWS's own knowledge of its activities, not the reviewer's reading of them), and the
reviewer in act mode, applying a decision exactly when the use case's `_act` would.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from autodeploy.adapters.autoscaling import interpret_activities
from autodeploy.adapters.decision_log import past_decision
from autodeploy.scaling.models import (
    AlarmView,
    Datapoint,
    Decision,
    PastDecision,
    PolicyView,
    ReviewInputs,
    ReviewMode,
    ReviewSettings,
    ScalableTargetView,
    ScalingDecision,
    Series,
    summarize_history,
)
from autodeploy.scaling.readings import LOOKBACK
from autodeploy.scaling.review import review
from autodeploy.scaling.step_policy import ScalingActivity
from tools.scaling_plant import CLUSTER, SERVICE, SERVICE_ARN, START, Activity, Service, alarm_state, at

REVIEW_DELAY = timedelta(seconds=30)  # the review runs after the minute's alarms have acted
SETTINGS = ReviewSettings()
_DIMENSIONS = {"ClusterName": CLUSTER, "ServiceName": SERVICE}


def series(points: dict[int, float], now: datetime) -> Series:
    """GetMetricData over [now - LOOKBACK, now): the datapoints that exist, stamped at their minute's start."""
    stamped = ((START + timedelta(minutes=m), v) for m, v in sorted(points.items()))
    return tuple(Datapoint(t, v) for t, v in stamped if now - LOOKBACK <= t < now)


def _policies(service: Service, now: datetime) -> tuple[PolicyView, ...]:
    """The policies with each target-tracking one's metric read (only predefined ECS CPU here)."""
    cpu = series(service.cpu, now)
    return tuple(
        replace(v, tracking=replace(v.tracking, datapoints=cpu)) if v.tracking is not None else v
        for v in service.scaling.policies
    )


def _alarms(service: Service, minute: int, now: datetime) -> tuple[AlarmView, ...]:
    return tuple(
        AlarmView(
            name=spec.name,
            state=alarm_state(spec, service.series(spec.metric), minute),
            namespace="AWS/ECS",
            metric=spec.metric,
            dimensions=dict(_DIMENSIONS),
            statistic=spec.statistic,
            threshold=spec.threshold,
            comparison=spec.comparison,
            period=spec.period,
            evaluation_periods=spec.evaluation_periods,
            actions=(spec.policy_arn,),
            datapoints=series(service.series(spec.metric), now),
        )
        for spec in service.scaling.alarms
    )


def _raw_activity(activity: Activity) -> dict[str, Any]:
    """An activity as DescribeScalingActivities writes it for an ECS service (botocore examples-1.json)."""
    moment = at(activity.minute)
    return {
        "ActivityId": f"sim-{activity.minute}",
        "Description": f"Setting desired count to {activity.count}.",
        "Cause": f"monitor alarm {activity.alarm} in state ALARM triggered policy {activity.policy}",
        "StartTime": moment,
        "EndTime": moment,
        "StatusCode": "Successful",
    }


def _read_activities(service: Service, now: datetime, history: tuple[PastDecision, ...]) -> tuple[ScalingActivity, ...]:
    """As `ScalingReader._activities`: listed newest first back to the first started before ``since``."""
    cooldowns = {v.policy.name: v.policy.cooldown_seconds for v in service.scaling.policies if v.policy is not None}
    since = now - max(LOOKBACK, timedelta(seconds=max(cooldowns.values(), default=0)))
    listed: list[dict[str, Any]] = []
    for activity in reversed(service.activities):
        if at(activity.minute) > now:
            continue
        listed.append(_raw_activity(activity))
        if listed[-1]["StartTime"] < since:
            break
    return tuple(interpret_activities(listed, cooldowns, history, since).changes)


def _true_activities(service: Service) -> tuple[ScalingActivity, ...]:
    """What Application Auto Scaling itself knows of its activities: each change and its policy's cooldown."""
    cooldowns = {v.policy.name: v.policy.cooldown_seconds for v in service.scaling.policies if v.policy is not None}
    return tuple(ScalingActivity(at(a.minute), a.change, cooldowns.get(a.policy, 0)) for a in service.activities)


def read_history(service: Service) -> tuple[PastDecision, ...]:
    """The history the decision log gives back: the last summary written, as `histories` parses it."""
    return tuple(past_decision(entry) for entry in service.summary)


def review_inputs(service: Service, minute: int, mode: ReviewMode, now: datetime | None = None) -> ReviewInputs:
    now = now or at(minute) + REVIEW_DELAY
    history = read_history(service)
    return ReviewInputs(
        service_arn=SERVICE_ARN,
        cluster=CLUSTER,
        service=SERVICE,
        mode=mode,
        now=now,
        desired=service.plant.desired,
        running=service.plant.running,
        pending=len(service.plant.starting),
        cpu=series(service.cpu, now),
        memory=series(service.memory, now),
        target=ScalableTargetView(service.scaling.minimum, service.scaling.maximum),
        policies=_policies(service, now),
        alarms=_alarms(service, minute, now),
        activities=_read_activities(service, now, history),
        history=history,
    )


def native_step_policies(service: Service, minute: int) -> None:
    """The step policies act as the product's shadow says AWS makes them act this minute."""
    if not any(v.policy is not None for v in service.scaling.policies):
        return
    inputs = review_inputs(service, minute, ReviewMode.OBSERVE, now=at(minute))
    # AWS acts on its own record of its activities, not on the reviewer's reading of them.
    native = review(replace(inputs, activities=_true_activities(service)), SETTINGS).native
    if int(native.get("adjustment", 0)):
        before = service.plant.desired
        if delta := service.change_desired(int(native["new_desired"]), minute):
            alarm = str(native.get("alarm", ""))
            service.activities.append(Activity(minute, delta, str(native["policy"]), before + delta, alarm))


def applies(inputs: ReviewInputs, decision: ScalingDecision) -> bool:
    """Whether the use case's act mode applies this decision (ReviewScaling._act, less the API call)."""
    if inputs.mode is not ReviewMode.ACT or decision.decision is Decision.HOLD or decision.act_blocked:
        return False
    target = inputs.target
    return target is not None and target.minimum <= decision.recommended_count <= target.maximum


def reviewer(service: Service, minute: int) -> None:
    """The reviewer in act mode, reviewing once a minute (the template's ReviewSchedule default)."""
    inputs = review_inputs(service, minute, ReviewMode.ACT)
    decision = review(inputs, SETTINGS)
    applied = applies(inputs, decision)
    if applied:
        service.change_desired(decision.recommended_count, minute)
    latest = PastDecision(inputs.now, decision.decision, applied, decision.recommended_count, inputs.desired)
    service.reviews.append(latest)
    service.summary = summarize_history([*inputs.history, latest], inputs.now, SETTINGS.flap_window_minutes)
