"""Application Auto Scaling: scalable targets, policies, scaling activities and scheduled actions of
ECS services, read as AWS writes them."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final

from autodeploy.adapters.aws import aws_call
from autodeploy.scaling.models import PastDecision, PolicyView, ScalableTargetView, TargetTracking
from autodeploy.scaling.step_policy import DEFAULT_COOLDOWN_SECONDS, AdjustmentType, ScalingActivity, Step, StepPolicy

if TYPE_CHECKING:
    from mypy_boto3_application_autoscaling import ApplicationAutoScalingClient

NAMESPACE: Final = "ecs"
DIMENSION: Final = "ecs:service:DesiredCount"
_TARGETS_BATCH = 50  # DescribeScalableTargets takes at most 50 resource ids
# How AWS writes an ECS service's activity (botocore examples-1.json, DescribeScalingActivities):
# Description "Setting desired count to 1.", Cause "monitor alarm X in state ALARM triggered policy Y".
_DESCRIPTION = re.compile(r"^Setting desired count to (\d+)\.?$")
_POLICY = re.compile(r"triggered policy (.+)$")


@dataclass(frozen=True, slots=True)
class ServicePolicies:
    views: list[PolicyView]
    alarm_names: list[str]
    alarms_listed: bool  # AWS lists a policy's alarms; moto returns none (EMULATOR.md)
    tracked_metrics: dict[str, dict[str, Any]] = field(default_factory=dict)  # policy ARN -> metric to read
    tracked_math: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # policy ARN -> its queries


def resource_id(service_arn: str) -> str:
    """``service/<cluster>/<name>``, the id Application Auto Scaling uses for an ECS service."""
    return service_arn.split(":", 5)[5]


def _policy_view(policy: dict[str, Any]) -> PolicyView:
    arn = policy["PolicyARN"]
    kind = str(policy.get("PolicyType", "unknown"))
    if kind == "TargetTrackingScaling":
        config = policy.get("TargetTrackingScalingPolicyConfiguration", {})
        predefined = config.get("PredefinedMetricSpecification", {}).get("PredefinedMetricType")
        custom = config.get("CustomizedMetricSpecification", {})
        math = tracked_math(policy)
        if predefined:
            metric = predefined
        elif math:
            final = next(q for q in math if q["Id"] == tracked_id(math))
            metric = f"metric math {final.get('Label') or final.get('Expression') or final['Id']}"
        else:
            metric = f"{custom.get('Namespace', '')}/{custom.get('MetricName', '')}"
        tracking = TargetTracking(
            policy["PolicyName"], metric, float(config.get("TargetValue", 0)), bool(config.get("DisableScaleIn"))
        )
        return PolicyView(arn, None, kind=kind, tracking=tracking)
    if kind != "StepScaling":
        return PolicyView(arn, None, kind=kind)
    config = policy.get("StepScalingPolicyConfiguration", {})
    steps = tuple(
        Step(
            int(s["ScalingAdjustment"]),
            s.get("MetricIntervalLowerBound"),
            s.get("MetricIntervalUpperBound"),
        )
        for s in config.get("StepAdjustments", [])
    )
    return PolicyView(
        arn,
        StepPolicy(
            name=policy["PolicyName"],
            adjustment_type=AdjustmentType(config.get("AdjustmentType", "ChangeInCapacity")),
            steps=steps,
            cooldown_seconds=int(config.get("Cooldown", DEFAULT_COOLDOWN_SECONDS)),
            aggregation=config.get("MetricAggregationType", "Average"),
            min_adjustment_magnitude=config.get("MinAdjustmentMagnitude"),
        ),
    )


def tracked_metric(policy: dict[str, Any]) -> dict[str, Any] | None:
    """The metric a target-tracking policy holds at its target, as a GetMetricData MetricStat.

    Predefined types by the Application Auto Scaling API reference (PredefinedMetricSpecification):
    ECS service CPU/memory under ClusterName+ServiceName, ALB RequestCountPerTarget under the
    TargetGroup of the ResourceLabel ``app/<lb>/<id>/targetgroup/<tg>/<id>``, summed per minute.
    None for a customized metric-math specification (``Metrics``): ``tracked_math`` reads it.
    """
    config = policy.get("TargetTrackingScalingPolicyConfiguration", {})
    _, cluster, service = policy["ResourceId"].split("/", 2)
    service_dims = [{"Name": "ClusterName", "Value": cluster}, {"Name": "ServiceName", "Value": service}]
    predefined = config.get("PredefinedMetricSpecification", {})
    kind = predefined.get("PredefinedMetricType")
    if kind in ("ECSServiceAverageCPUUtilization", "ECSServiceAverageMemoryUtilization"):
        name = "CPUUtilization" if "CPU" in kind else "MemoryUtilization"
        return {"Metric": {"Namespace": "AWS/ECS", "MetricName": name, "Dimensions": service_dims}, "Stat": "Average"}
    if kind == "ALBRequestCountPerTarget" and "/targetgroup/" in predefined.get("ResourceLabel", ""):
        group = "targetgroup/" + predefined["ResourceLabel"].split("/targetgroup/", 1)[1]
        dims = [{"Name": "TargetGroup", "Value": group}]
        return {
            "Metric": {"Namespace": "AWS/ApplicationELB", "MetricName": "RequestCountPerTarget", "Dimensions": dims},
            "Stat": "Sum",
        }
    custom = config.get("CustomizedMetricSpecification", {})
    if custom.get("MetricName"):
        metric = {
            "Namespace": custom["Namespace"],
            "MetricName": custom["MetricName"],
            "Dimensions": custom.get("Dimensions", []),
        }
        return {"Metric": metric, "Stat": custom.get("Statistic", "Average")}
    return None


TRACKING_PERIOD = 60  # seconds: how the review reads a tracked metric (ECS publishes a point a minute)


def tracked_math(policy: dict[str, Any]) -> list[dict[str, Any]] | None:
    """A target-tracking policy's metric math as GetMetricData queries, or None (one metric).

    ``CustomizedMetricSpecification.Metrics`` is a list of TargetTrackingMetricDataQuery (botocore's
    application-autoscaling model: Id, Expression or MetricStat, Label, ReturnData true for the one
    final expression the policy tracks). GetMetricData's MetricDataQuery is the same but for
    MetricStat's required Period, which the policy does not give: the review reads a minute.
    """
    config = policy.get("TargetTrackingScalingPolicyConfiguration", {})
    metrics = config.get("CustomizedMetricSpecification", {}).get("Metrics")
    if not metrics:
        return None
    queries = []
    for metric in metrics:
        query = {k: metric[k] for k in ("Id", "Expression", "Label", "ReturnData") if k in metric}
        if "MetricStat" in metric:
            query["MetricStat"] = {**metric["MetricStat"], "Period": TRACKING_PERIOD}
        queries.append(query)
    return queries


def tracked_id(queries: list[dict[str, Any]]) -> str:
    """The id of the series a metric-math policy tracks: the one query returning data (the last if none says)."""
    returned = [q["Id"] for q in queries if q.get("ReturnData", False)]
    return str(returned[0] if len(returned) == 1 else queries[-1]["Id"])


@dataclass(frozen=True, slots=True)
class Activities:
    """A service's scaling activities, interpreted; what could not be is said, never dropped."""

    changes: list[ScalingActivity]
    unseen: list[str]


def interpret_activities(
    raw: Sequence[dict[str, Any]],
    cooldowns: dict[str, int],
    history: Sequence[PastDecision] = (),
    since: datetime | None = None,
) -> Activities:
    """Changes of the desired count from AWS's activities (any order), as ECS writes them.

    AWS says only the count it set ("Setting desired count to N."): each change is that count
    minus the one before, from the previous activity, else from this reviewer's last record
    before it. The cooldown runs from EndTime, with the cooldown of the policy the Cause names.
    An activity that started before ``since`` only gives its count to the next one.
    """
    done = sorted((a for a in raw if a.get("StatusCode") == "Successful"), key=lambda a: a["StartTime"])
    changes: list[ScalingActivity] = []
    unseen: list[str] = []
    previous: int | None = None
    for activity in done:
        when = activity.get("EndTime") or activity["StartTime"]
        found = _DESCRIPTION.match(str(activity.get("Description", "")).strip())
        if found is None:
            unseen.append(
                f"scaling activity {activity.get('ActivityId', '?')} at {when:%H:%M:%S}: "
                f"description not understood ({str(activity.get('Description', ''))[:80]!r})"
            )
            previous = None
            continue
        count = int(found.group(1))
        before = previous if previous is not None else _count_before(history, activity["StartTime"])
        previous = count
        if before is None:
            if since is None or activity["StartTime"] >= since:
                unseen.append(
                    f"scaling activity at {when:%H:%M:%S} set the desired count to {count}: "
                    "the count before it is unknown, so its direction is too"
                )
            continue
        policy = _POLICY.search(str(activity.get("Cause", "")))
        cooldown = cooldowns.get(policy.group(1).strip(), 0) if policy else 0
        if count != before:
            changes.append(ScalingActivity(when, count - before, cooldown))
    return Activities(changes, unseen)


def _count_before(history: Sequence[PastDecision], moment: datetime) -> int | None:
    seen = [p for p in history if p.at <= moment and p.count is not None]
    latest = max(seen, key=lambda p: p.at, default=None)
    if latest is None or latest.count is None:
        return None
    return latest.recommended if latest.applied else latest.count


class AutoScalingReader:
    def __init__(self, client: ApplicationAutoScalingClient) -> None:
        self._aas = client

    def scalable_targets(self, resource_ids: Sequence[str]) -> dict[str, ScalableTargetView]:
        found: dict[str, ScalableTargetView] = {}
        for start in range(0, len(resource_ids), _TARGETS_BATCH):
            with aws_call("describing scalable targets"):
                response = self._aas.describe_scalable_targets(
                    ServiceNamespace=NAMESPACE,
                    ResourceIds=list(resource_ids[start : start + _TARGETS_BATCH]),
                    ScalableDimension=DIMENSION,
                )
            for target in response.get("ScalableTargets", []):
                suspended = target.get("SuspendedState", {})
                found[target["ResourceId"]] = ScalableTargetView(
                    minimum=target["MinCapacity"],
                    maximum=target["MaxCapacity"],
                    suspended_out=bool(suspended.get("DynamicScalingOutSuspended")),
                    suspended_in=bool(suspended.get("DynamicScalingInSuspended")),
                )
        return found

    def policies(self, resource_ids: Sequence[str]) -> dict[str, ServicePolicies]:
        """Every ECS policy of the namespace, one paginated listing, kept for the given services."""
        wanted = set(resource_ids)
        grouped: dict[str, list[dict[str, Any]]] = defaultdict(list)
        with aws_call("describing scaling policies"):
            for page in self._aas.get_paginator("describe_scaling_policies").paginate(ServiceNamespace=NAMESPACE):
                for policy in page.get("ScalingPolicies", []):
                    if policy["ResourceId"] in wanted and policy.get("ScalableDimension") == DIMENSION:
                        grouped[policy["ResourceId"]].append(dict(policy))
        return {
            rid: ServicePolicies(
                views=[_policy_view(p) for p in found],
                alarm_names=[a["AlarmName"] for p in found for a in p.get("Alarms", [])],
                alarms_listed=all(p.get("Alarms") for p in found),
                tracked_metrics={
                    p["PolicyARN"]: metric
                    for p in found
                    if p.get("PolicyType") == "TargetTrackingScaling" and (metric := tracked_metric(p))
                },
                tracked_math={
                    p["PolicyARN"]: queries
                    for p in found
                    if p.get("PolicyType") == "TargetTrackingScaling" and (queries := tracked_math(p))
                },
            )
            for rid, found in grouped.items()
        }

    def activities(self, resource: str, since: datetime) -> list[dict[str, Any]]:
        """One service's activities, newest first as AWS lists them, back to the first one before ``since``
        (which gives the count before the oldest that matters)."""
        found: list[dict[str, Any]] = []
        with aws_call(f"describing the scaling activities of {resource}"):
            pages = self._aas.get_paginator("describe_scaling_activities").paginate(
                ServiceNamespace=NAMESPACE, ResourceId=resource, ScalableDimension=DIMENSION
            )
            for page in pages:
                for activity in page.get("ScalingActivities", []):
                    found.append(dict(activity))
                    if activity["StartTime"] < since:
                        return found
        return found

    def scheduled_actions(self, resource_ids: Sequence[str]) -> dict[str, list[dict[str, Any]]]:
        """The namespace's scheduled actions on these services' desired count: one paginated listing."""
        wanted = set(resource_ids)
        grouped: dict[str, list[dict[str, Any]]] = defaultdict(list)
        with aws_call("describing scheduled actions"):
            pages = self._aas.get_paginator("describe_scheduled_actions").paginate(
                ServiceNamespace=NAMESPACE, ScalableDimension=DIMENSION
            )
            for page in pages:
                for action in page.get("ScheduledActions", []):
                    if action["ResourceId"] in wanted:
                        grouped[action["ResourceId"]].append(dict(action))
        return dict(grouped)
