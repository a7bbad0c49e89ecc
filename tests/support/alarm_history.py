"""CloudWatch's alarm history, which moto does not implement, in front of moto's CloudWatch.

moto 5.2.5 answers DescribeAlarmHistory with an error (EMULATOR.md: not implemented). This layer
answers it from the state changes a test arranges and passes every other call to moto, so the
bake gate's code runs unchanged. Items are shaped as the AWS CLI Command Reference's
``cloudwatch describe-alarm-history`` example output shows them (``HistoryItemType``
``StateUpdate``, ``HistorySummary``, ``HistoryData`` a JSON string with ``oldState`` and
``newState``), and each answer is checked against ``DescribeAlarmHistoryOutput`` in botocore's
CloudWatch model; the request's AlarmName, HistoryItemType, StartDate and EndDate filter it as the
API reference says.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from botocore.validate import ParamValidator


class _Response:
    def __init__(self) -> None:
        self.status_code = 200
        self.headers: dict[str, str] = {}
        self.content = b""


@dataclass
class AlarmHistory:
    cloudwatch: Any
    items: list[dict[str, Any]] = field(default_factory=list)
    asked: list[dict[str, Any]] = field(default_factory=list)

    def changed(self, alarm: str, at: datetime, old: str, new: str, reason: str = "Threshold Crossed") -> None:
        """The alarm went from ``old`` to ``new`` at ``at``."""
        data = {
            "version": "1.0",
            "oldState": {"stateValue": old, "stateReason": "previous"},
            "newState": {"stateValue": new, "stateReason": reason},
        }
        self.items.append(
            {
                "AlarmName": alarm,
                "AlarmType": "MetricAlarm",
                "Timestamp": at,
                "HistoryItemType": "StateUpdate",
                "HistorySummary": f"Alarm updated from {old} to {new}",
                "HistoryData": json.dumps(data),
            }
        )

    def _remember(self, params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        context["alarm_history_params"] = dict(params)

    def _answer(self, context: dict[str, Any], **_: Any) -> Any:
        params = context["alarm_history_params"]
        self.asked.append(params)
        found = [
            item
            for item in self.items
            if item["AlarmName"] == params.get("AlarmName", item["AlarmName"])
            and item["HistoryItemType"] == params.get("HistoryItemType", item["HistoryItemType"])
            and params.get("StartDate", item["Timestamp"])
            <= item["Timestamp"]
            <= params.get("EndDate", item["Timestamp"])
        ]
        found.sort(key=lambda i: i["Timestamp"], reverse=params.get("ScanBy") != "TimestampAscending")
        body = {"AlarmHistoryItems": found}
        shape = self.cloudwatch.meta.service_model.operation_model("DescribeAlarmHistory").output_shape
        report = ParamValidator().validate(body, shape)
        if report.has_errors():
            raise AssertionError(
                f"DescribeAlarmHistory answer does not match botocore's model: {report.generate_report()}"
            )
        return _Response(), {**body, "ResponseMetadata": {"HTTPStatusCode": 200}}


def install(cloudwatch: Any) -> AlarmHistory:
    history = AlarmHistory(cloudwatch)
    cloudwatch.meta.events.register("before-parameter-build.cloudwatch.DescribeAlarmHistory", history._remember)
    cloudwatch.meta.events.register_first("before-call.cloudwatch.DescribeAlarmHistory", history._answer)
    return history
