"""CloudWatch: the alarms behind scaling policies and, in batched GetMetricData calls, their datapoints."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from autodeploy.adapters.aws import aws_call
from autodeploy.errors import AutodeployError, PermanentError
from autodeploy.gates.bake import AlarmTransition

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


@dataclass(slots=True)
class SeriesRead:
    values: dict[str, list[tuple[datetime, float]]]  # by query id, oldest first
    errors: dict[str, str]  # by query id: why it has no data
    bands: dict[str, list[list[tuple[datetime, float]]]] = field(default_factory=dict)  # every result of an id


class CloudWatchReader:
    def __init__(self, cloudwatch: CloudWatchClient) -> None:
        self._cw = cloudwatch

    def alarm_history(self, names: Iterable[str], start: datetime, end: datetime) -> list[AlarmTransition]:
        """The alarms' state changes between ``start`` and ``end`` (DescribeAlarmHistory, one paginated
        call per alarm: it takes one AlarmName), oldest first. An alarm that no longer exists has none."""
        changes: list[AlarmTransition] = []
        for name in sorted(set(names)):
            with aws_call(f"reading the history of alarm {name}"):
                pages = self._cw.get_paginator("describe_alarm_history").paginate(
                    AlarmName=name, HistoryItemType="StateUpdate", StartDate=start, EndDate=end
                )
                items = [item for page in pages for item in page.get("AlarmHistoryItems", [])]
            for item in items:
                try:
                    change = AlarmTransition.from_history_item(item)
                except ValueError as exc:
                    raise PermanentError(f"alarm {name}: {exc}") from exc
                if change is not None:
                    changes.append(change)
        return sorted(changes, key=lambda c: c.at)

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
        """The metric alarms whose actions (in any state) invoke these policies, target tracking's
        ``<policy ARN>:createdBy/<id>`` included: one paginated listing of the account's alarms."""
        wanted = set(policy_arns)
        alarms: list[MetricAlarmTypeDef] = []
        with aws_call("listing alarms"):
            for page in self._cw.get_paginator("describe_alarms").paginate(AlarmTypes=["MetricAlarm"]):
                alarms.extend(a for a in page.get("MetricAlarms", []) if wanted & _policies_invoked(a))
        return alarms

    def series(self, queries: Sequence[MetricQuery], start: datetime, end: datetime) -> SeriesRead:
        """Each query's points, oldest first, in as few GetMetricData calls as the limit allows.

        A failed call or a result AWS marks Forbidden/InternalError is kept as that query's error,
        so one bad series never hides the others.
        """
        read = SeriesRead({q.id: [] for q in queries}, {})
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
            try:
                self._read(batch, start, end, read)
            except AutodeployError as exc:
                read.errors.update((q["Id"], str(exc)) for q in batch)
        return read

    def expression_series(
        self, queries: Sequence[MetricDataQueryTypeDef], start: datetime, end: datetime
    ) -> SeriesRead:
        """An alarm's own ``Metrics`` (metric math, anomaly band), evaluated by GetMetricData.

        The ids are the alarm's, so each alarm's queries go in a call of their own. A band
        (ANOMALY_DETECTION_BAND) may come back as two results under one id: both are kept.
        """
        read = SeriesRead({str(q["Id"]): [] for q in queries}, {})
        self._read(list(queries), start, end, read)
        return read

    def _read(self, batch: list[MetricDataQueryTypeDef], start: datetime, end: datetime, read: SeriesRead) -> None:
        token: str | None = None
        while True:
            extra: dict[str, Any] = {"NextToken": token} if token else {}
            with aws_call("reading metric data"):
                response = self._cw.get_metric_data(
                    MetricDataQueries=batch, StartTime=start, EndTime=end, ScanBy="TimestampAscending", **extra
                )
            for result in response.get("MetricDataResults", []):
                rid = result["Id"]
                if result.get("StatusCode") in ("Forbidden", "InternalError"):
                    messages = "; ".join(m.get("Value", "") for m in result.get("Messages", []))
                    read.errors[rid] = f"GetMetricData {result['StatusCode']}: {messages}".rstrip(": ")
                    continue
                points = list(
                    zip(result.get("Timestamps", []), (float(v) for v in result.get("Values", [])), strict=False)
                )
                read.values.setdefault(rid, []).extend(points)
                read.bands.setdefault(rid, []).append(points)
            token = response.get("NextToken")
            if not token:
                return


def _policies_invoked(alarm: MetricAlarmTypeDef) -> set[str]:
    """The policy ARNs an alarm's actions name, with target tracking's ``:createdBy/<id>`` cut off."""
    actions = [*alarm.get("AlarmActions", []), *alarm.get("OKActions", []), *alarm.get("InsufficientDataActions", [])]
    return {a.split(":createdBy/", 1)[0] for a in actions}
