"""CloudWatch: the alarms behind scaling policies and, in one GetMetricData, their datapoints."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from autodeploy.adapters.aws import aws_call

if TYPE_CHECKING:
    from mypy_boto3_cloudwatch import CloudWatchClient
    from mypy_boto3_cloudwatch.type_defs import MetricAlarmTypeDef, MetricDataQueryTypeDef

_ALARMS_BATCH = 100  # DescribeAlarms takes at most 100 names
_QUERIES_BATCH = 500  # GetMetricData takes at most 500 queries


@dataclass(frozen=True, slots=True)
class MetricQuery:
    id: str
    namespace: str
    metric: str
    dimensions: dict[str, str]
    statistic: str
    period: int


class CloudWatchReader:
    def __init__(self, cloudwatch: CloudWatchClient) -> None:
        self._cw = cloudwatch

    def alarms_by_name(self, names: Iterable[str]) -> list[MetricAlarmTypeDef]:
        wanted = sorted(set(names))
        alarms: list[MetricAlarmTypeDef] = []
        for start in range(0, len(wanted), _ALARMS_BATCH):
            with aws_call("describing alarms"):
                response = self._cw.describe_alarms(
                    AlarmNames=wanted[start : start + _ALARMS_BATCH], AlarmTypes=["MetricAlarm"]
                )
            alarms.extend(response.get("MetricAlarms", []))
        return alarms

    def alarms_acting_on(self, policy_arns: Iterable[str]) -> list[MetricAlarmTypeDef]:
        """The metric alarms whose actions invoke these policies: one paginated listing of the account's alarms."""
        wanted = set(policy_arns)
        alarms: list[MetricAlarmTypeDef] = []
        with aws_call("listing alarms"):
            for page in self._cw.get_paginator("describe_alarms").paginate(AlarmTypes=["MetricAlarm"]):
                alarms.extend(a for a in page.get("MetricAlarms", []) if wanted & set(a.get("AlarmActions", [])))
        return alarms

    def series(self, queries: Sequence[MetricQuery], start: datetime, end: datetime) -> dict[str, list[float]]:
        """Each query's values, oldest first, in as few GetMetricData calls as the limit allows."""
        found: dict[str, list[float]] = {q.id: [] for q in queries}
        for first in range(0, len(queries), _QUERIES_BATCH):
            batch: list[MetricDataQueryTypeDef] = [
                {
                    "Id": q.id,
                    "MetricStat": {
                        "Metric": {
                            "Namespace": q.namespace,
                            "MetricName": q.metric,
                            "Dimensions": [{"Name": k, "Value": v} for k, v in sorted(q.dimensions.items())],
                        },
                        "Period": q.period,
                        "Stat": q.statistic,
                    },
                    "ReturnData": True,
                }
                for q in queries[first : first + _QUERIES_BATCH]
            ]
            token: str | None = None
            while True:
                extra: dict[str, Any] = {"NextToken": token} if token else {}
                with aws_call("reading metric data"):
                    response = self._cw.get_metric_data(
                        MetricDataQueries=batch, StartTime=start, EndTime=end, ScanBy="TimestampAscending", **extra
                    )
                for result in response.get("MetricDataResults", []):
                    found[result["Id"]].extend(float(v) for v in result.get("Values", []))
                token = response.get("NextToken")
                if not token:
                    break
        return found
