"""Application Auto Scaling: scalable targets, step policies and recent activities of ECS services."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from botocore.exceptions import BotoCoreError, ClientError

from autodeploy.adapters.aws import aws_call, translate
from autodeploy.scaling.models import PolicyView, ScalableTargetView
from autodeploy.scaling.step_policy import AdjustmentType, ScalingActivity, Step, StepPolicy

if TYPE_CHECKING:
    from mypy_boto3_application_autoscaling import ApplicationAutoScalingClient

NAMESPACE: Final = "ecs"
DIMENSION: Final = "ecs:service:DesiredCount"
_TARGETS_BATCH = 50  # DescribeScalableTargets takes at most 50 resource ids
_CHANGE = re.compile(r"from (\d+) to (\d+)")
_POLICY = re.compile(r"triggered policy (\S+)")


@dataclass(frozen=True, slots=True)
class ServicePolicies:
    views: list[PolicyView]
    alarm_names: list[str]
    alarms_listed: bool  # AWS lists a policy's alarms; moto returns none (EMULATOR.md)


def resource_id(service_arn: str) -> str:
    """``service/<cluster>/<name>``, the id Application Auto Scaling uses for an ECS service."""
    return service_arn.split(":", 5)[5]


def _step_policy(policy: dict[str, Any]) -> PolicyView:
    arn = policy["PolicyARN"]
    if policy.get("PolicyType") != "StepScaling":
        return PolicyView(arn, None, kind=str(policy.get("PolicyType", "unknown")))
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
            cooldown_seconds=int(config.get("Cooldown", 0)),
            aggregation=config.get("MetricAggregationType", "Average"),
            min_adjustment_magnitude=config.get("MinAdjustmentMagnitude"),
        ),
    )


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
                views=[_step_policy(p) for p in found],
                alarm_names=[a["AlarmName"] for p in found for a in p.get("Alarms", [])],
                alarms_listed=all(p.get("Alarms") for p in found),
            )
            for rid, found in grouped.items()
        }

    def recent_activities(
        self, resource_ids: Sequence[str], cooldowns: dict[str, int]
    ) -> dict[str, list[ScalingActivity]] | None:
        """Successful recent activities by service; None when the API does not answer (moto)."""
        wanted = set(resource_ids)
        found: dict[str, list[ScalingActivity]] = defaultdict(list)
        try:
            response = self._aas.describe_scaling_activities(ServiceNamespace=NAMESPACE, MaxResults=50)
        except ClientError as exc:
            status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))
            if status >= 500 or "NotImplemented" in str(exc):
                return None
            translate(exc, "describing scaling activities")
        except BotoCoreError as exc:
            translate(exc, "describing scaling activities")
        for activity in response.get("ScalingActivities", []):
            if activity.get("ResourceId") not in wanted or activity.get("StatusCode") != "Successful":
                continue
            cause = activity.get("Cause", "")
            change = _CHANGE.search(cause)
            policy = _POLICY.search(cause)
            if change is None:
                continue
            delta = int(change.group(2)) - int(change.group(1))
            cooldown = cooldowns.get(policy.group(1), 0) if policy else 0
            found[activity["ResourceId"]].append(ScalingActivity(activity["StartTime"], delta, cooldown))
        return dict(found)
