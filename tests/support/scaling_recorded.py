"""AWS's answers where moto is silent about scaling, everything else passed to moto.

moto 5.2.5 (EMULATOR.md): DescribeScalingActivities is not implemented; DescribeScalingPolicies
lists no ``Alarms``; GetMetricData computes no percentiles nor metric math; ECS tasks stay PENDING.
This layer answers those through botocore's own hooks, so the handler runs unchanged:

- ``before-call`` answers DescribeScalingActivities from recorded activities (shaped as botocore's
  ``examples-1.json`` example for an ECS service) and GetMetricData queries with a percentile
  ``Stat`` or an ``Expression`` from recorded series (plain queries of the same call go to moto).
- ``after-call`` adds what AWS returns and moto leaves out: a policy's ``Alarms`` (the alarms whose
  actions name the policy, as the Application Auto Scaling API reference describes the field) and
  a service's running tasks (a steady service runs its desired count: ``runningCount`` and
  ``pendingCount`` of the ECS API reference's Service shape).

Every canned response is validated against the operation's output shape in botocore's model.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from botocore.validate import ParamValidator

from tools.api_params import api_params, keep_api_params


class _Response:
    status_code = 200
    headers: dict[str, str] = {}  # noqa: RUF012 - read-only, as botocore reads it
    content = b""


def _validated(client: Any, operation: str, response: dict[str, Any]) -> dict[str, Any]:
    shape = client.meta.service_model.operation_model(operation).output_shape
    report = ParamValidator().validate(response, shape)
    if report.has_errors():
        raise AssertionError(f"canned {operation} response does not fit botocore's model:\n{report.generate_report()}")
    return response


@dataclass
class RecordedScaling:
    """What AWS would answer; tests fill it, the hooks serve it."""

    activities: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))  # ResourceId ->
    series: dict[str, list[tuple[datetime, float]]] = field(default_factory=dict)  # query key -> points
    running: dict[str, int] = field(default_factory=dict)  # service name -> runningCount (default: desired)
    served: list[str] = field(default_factory=list)  # operations answered here, for assertions

    def activity(
        self,
        resource: str,
        count: int,
        start: datetime,
        end: datetime,
        cause: str,
        status: str = "Successful",
        description: str | None = None,
    ) -> None:
        """One activity as AWS writes it for an ECS service (botocore examples-1.json)."""
        self.activities[resource].append(
            {
                "ActivityId": f"{len(self.activities[resource]):08d}-dbbb-4a3f-89b2-51f33e766399",
                "ServiceNamespace": "ecs",
                "ResourceId": resource,
                "ScalableDimension": "ecs:service:DesiredCount",
                "Description": description or f"Setting desired count to {count}.",
                "Cause": cause,
                "StartTime": start,
                "EndTime": end,
                "StatusCode": status,
                "StatusMessage": f"Successfully set desired count to {count}. Change successfully fulfilled by ecs.",
            }
        )


def query_key(query: dict[str, Any]) -> str:
    """``expression`` text, or ``MetricName/Stat`` of a MetricStat."""
    if "Expression" in query:
        return str(query["Expression"])
    stat = query["MetricStat"]
    return f"{stat['Metric']['MetricName']}/{stat['Stat']}"


def _recorded_query(query: dict[str, Any]) -> bool:
    return "Expression" in query or str(query.get("MetricStat", {}).get("Stat", "")).startswith(("p", "tm", "tc", "ts"))


@contextmanager
def recorded_scaling(session: Any, autoscaling: Any, cloudwatch: Any, ecs: Any) -> Iterator[RecordedScaling]:
    """Install the layer on the product's clients; ``session`` makes the unhooked clients that reach moto."""
    recorded = RecordedScaling()
    moto_cloudwatch = session.client("cloudwatch")

    def activities(context: dict[str, Any], **_: Any) -> Any:
        params = api_params(context)
        found = sorted(
            recorded.activities.get(params.get("ResourceId", ""), []), key=lambda a: a["StartTime"], reverse=True
        )
        if "ResourceId" not in params:
            found = sorted(
                (a for v in recorded.activities.values() for a in v), key=lambda a: a["StartTime"], reverse=True
            )
        start = int(params.get("NextToken", 0))
        size = int(params.get("MaxResults", 50))
        page: dict[str, Any] = {"ScalingActivities": found[start : start + size]}
        if start + size < len(found):
            page["NextToken"] = str(start + size)
        recorded.served.append("DescribeScalingActivities")
        return _Response(), _validated(autoscaling, "DescribeScalingActivities", page)

    def policies_with_alarms(parsed: dict[str, Any], **_: Any) -> None:
        alarms = moto_cloudwatch.describe_alarms(AlarmTypes=["MetricAlarm"])["MetricAlarms"]
        for policy in parsed.get("ScalingPolicies", []):
            arn = policy["PolicyARN"]
            policy["Alarms"] = [
                {"AlarmName": a["AlarmName"], "AlarmARN": a["AlarmArn"]}
                for a in alarms
                if any(
                    x == arn or x.startswith(f"{arn}:createdBy/")
                    for x in a.get("AlarmActions", []) + a.get("OKActions", [])
                )
            ]
        _validated(autoscaling, "DescribeScalingPolicies", {"ScalingPolicies": parsed.get("ScalingPolicies", [])})

    def metric_data(context: dict[str, Any], **_: Any) -> Any:
        params = api_params(context)
        queries = params["MetricDataQueries"]
        if not any(_recorded_query(q) for q in queries):
            return None
        plain = [q for q in queries if not _recorded_query(q)]
        results: list[dict[str, Any]] = []
        if plain:
            forwarded = {k: v for k, v in params.items() if k != "MetricDataQueries"}
            results = moto_cloudwatch.get_metric_data(MetricDataQueries=plain, **forwarded)["MetricDataResults"]
        for query in queries:
            if _recorded_query(query) and query.get("ReturnData", True):
                points = recorded.series.get(query_key(query), [])
                results.append(
                    {
                        "Id": query["Id"],
                        "Label": query_key(query),
                        "Timestamps": [t for t, _ in points],
                        "Values": [v for _, v in points],
                        "StatusCode": "Complete",
                    }
                )
        recorded.served.append("GetMetricData")
        return _Response(), _validated(cloudwatch, "GetMetricData", {"MetricDataResults": results, "Messages": []})

    def running_tasks(parsed: dict[str, Any], **_: Any) -> None:
        for service in parsed.get("services", []):
            running = recorded.running.get(service["serviceName"], service.get("desiredCount", 0))
            service["runningCount"] = running
            service["pendingCount"] = max(0, service.get("desiredCount", 0) - running)

    hooks = [
        (autoscaling, "before-call.application-auto-scaling.DescribeScalingActivities", activities),
        (autoscaling, "after-call.application-auto-scaling.DescribeScalingPolicies", policies_with_alarms),
        (cloudwatch, "before-call.cloudwatch.GetMetricData", metric_data),
        (ecs, "after-call.ecs.DescribeServices", running_tasks),
    ]
    with ExitStack() as stack:
        # before-call sees the serialized request: the API parameters travel to it in the context.
        stack.callback(keep_api_params(autoscaling.meta.events, "application-auto-scaling.DescribeScalingActivities"))
        stack.callback(keep_api_params(cloudwatch.meta.events, "cloudwatch.GetMetricData"))
        for client, event, handler in hooks:
            client.meta.events.register(event, handler)  # after tests.support.faults' injections
            stack.callback(client.meta.events.unregister, event, handler)
        yield recorded
