"""Publishes rollout notifications to the SNS topic. A failing notification never fails a rollout."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from aws_lambda_powertools.metrics import MetricUnit
from botocore.exceptions import BotoCoreError, ClientError

from autodeploy.notifications import Notification
from autodeploy.observability import logger, metrics

if TYPE_CHECKING:
    from mypy_boto3_sns import SNSClient

_BATCH = 10  # PublishBatch takes at most 10 messages


class SnsNotifier:
    def __init__(self, sns: SNSClient, topic_arn: str | None) -> None:
        self._sns = sns
        self._topic_arn = topic_arn

    def publish(self, notifications: list[Notification]) -> None:
        if not notifications:
            return
        if not self._topic_arn:
            logger.warning("no notification topic configured", extra={"dropped": len(notifications)})
            return
        failed = 0
        for start in range(0, len(notifications), _BATCH):
            batch = notifications[start : start + _BATCH]
            entries = [
                {
                    "Id": str(index),
                    "Subject": n.subject,
                    "Message": json.dumps(n.body, default=str),
                    "MessageAttributes": {"status": {"DataType": "String", "StringValue": n.status}},
                }
                for index, n in enumerate(batch)
            ]
            try:
                response = self._sns.publish_batch(TopicArn=self._topic_arn, PublishBatchRequestEntries=entries)  # type: ignore[arg-type]
            except (ClientError, BotoCoreError) as exc:
                failed += len(batch)
                logger.warning("notification failed", extra={"error": str(exc), "subjects": [n.subject for n in batch]})
                continue
            for failure in response.get("Failed", []):
                failed += 1
                logger.warning("notification failed", extra={"error": failure.get("Message"), "id": failure.get("Id")})
        if failed:
            metrics.add_metric(name="NotificationsFailed", unit=MetricUnit.Count, value=failed)
