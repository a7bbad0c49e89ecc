"""The one adapter between the simulated service and the product's scaling review.

Each simulated minute it builds `ReviewInputs` from the plant the way the use case
(`autodeploy.scaling_review.ReviewScaling._review`) builds them from AWS: DescribeServices counts,
the scalable target, the policies, each policy's alarms with their own metric over the last 20
minutes (GetMetricData returns only the datapoints that exist), the service's CPU over the same 20
minutes, the successful scaling activities (cooldown looked up by step policy name, as
`AutoScalingReader.recent_activities` does: 0 for any other policy), and the last 30 decisions
(`summarize_history`). When the review's inputs change shape, this module is the place to follow.

Two controllers come out of it: the native step policies, acting as the product's own shadow says
they act, and the reviewer in act mode, applying a decision exactly when the use case's `_act` would.
"""

from __future__ import annotations

from autodeploy.scaling.review import (
    AlarmView,
    Decision,
    PastDecision,
    ReviewInputs,
    ReviewMode,
    ReviewSettings,
    ScalableTargetView,
    ScalingDecision,
    review,
)
from autodeploy.scaling.step_policy import ScalingActivity
from tools.scaling_plant import CLUSTER, SERVICE, SERVICE_ARN, Activity, Service, alarm_state, at, window

LOOKBACK_MINUTES = 20  # the use case's _LOOKBACK
HISTORY_KEPT = 30  # summarize_history(keep=30)
ACTIVITIES_LISTED = 50  # DescribeScalingActivities MaxResults
SETTINGS = ReviewSettings()


def review_inputs(service: Service, minute: int, mode: ReviewMode) -> ReviewInputs:
    scaling = service.scaling
    dimensions = {"ClusterName": CLUSTER, "ServiceName": SERVICE}
    alarms = tuple(
        AlarmView(
            name=spec.name,
            state=alarm_state(spec, service.series(spec.metric), minute),
            namespace="AWS/ECS",
            metric=spec.metric,
            dimensions=dimensions,
            statistic=spec.statistic,
            threshold=spec.threshold,
            comparison=spec.comparison,
            period=spec.period,
            evaluation_periods=spec.evaluation_periods,
            actions=(spec.policy_arn,),
            datapoints=tuple(window(service.series(spec.metric), minute, LOOKBACK_MINUTES)),
        )
        for spec in scaling.alarms
    )
    cooldowns = {v.policy.name: v.policy.cooldown_seconds for v in scaling.policies if v.policy is not None}
    activities = tuple(
        ScalingActivity(at(a.minute), a.change, cooldowns.get(a.policy, 0))
        for a in service.activities[-ACTIVITIES_LISTED:]
    )
    return ReviewInputs(
        service_arn=SERVICE_ARN,
        cluster=CLUSTER,
        service=SERVICE,
        mode=mode,
        now=at(minute),
        desired=service.plant.desired,
        running=service.plant.running,
        pending=len(service.plant.starting),
        cpu=tuple(window(service.cpu, minute, LOOKBACK_MINUTES)),
        target=ScalableTargetView(scaling.minimum, scaling.maximum),
        policies=scaling.policies,
        alarms=alarms,
        activities=activities,
        history=tuple(service.reviews[-HISTORY_KEPT:]),
    )


def native_step_policies(service: Service, minute: int) -> None:
    """The step policies act as the product's shadow says AWS makes them act this minute."""
    if not any(v.policy is not None for v in service.scaling.policies):
        return
    native = review(review_inputs(service, minute, ReviewMode.OBSERVE), SETTINGS).native
    if int(native.get("adjustment", 0)) and (delta := service.change_desired(int(native["new_desired"]), minute)):
        service.activities.append(Activity(minute, delta, str(native["policy"])))


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
    service.reviews.append(PastDecision(inputs.now, decision.decision, applied, decision.recommended_count))
