"""Publishes rollout notifications to SNS. A failing notification never fails a rollout.

Two topics, one audience each:
- the notification topic: one message per notification with ``MessageStructure=json``, so email
  subscribers get the plain text and every other protocol (SQS, Lambda, HTTPS, email-json) the
  structured JSON body, as before;
- the chat topic: the same news as an Amazon Q Developer in chat applications custom notification,
  for a Slack or Teams channel configuration that names this topic.

A second topic rather than one topic with a filter policy per audience: the chat application
subscribes itself to the topics its channel configuration names, so a filter policy on its
subscription would live outside this stack's template, and without one the channel would receive
the email and JSON messages too, which are not in the format it reads.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING

from aws_lambda_powertools.metrics import MetricUnit
from botocore.exceptions import BotoCoreError, ClientError

from autodeploy.notifications import Notification
from autodeploy.observability import logger, metrics

if TYPE_CHECKING:
    from mypy_boto3_sns import SNSClient
    from mypy_boto3_sns.type_defs import MessageAttributeValueTypeDef, PublishBatchRequestEntryTypeDef

    Entry = Callable[[str, Notification], PublishBatchRequestEntryTypeDef]

_BATCH = 10  # PublishBatch takes at most 10 messages


class SnsNotifier:
    def __init__(self, sns: SNSClient, topic_arn: str | None, chat_topic_arn: str | None = None) -> None:
        self._sns = sns
        self._topic_arn = topic_arn
        self._chat_topic_arn = chat_topic_arn

    def publish(self, notifications: list[Notification]) -> None:
        if not notifications:
            return
        if not (self._topic_arn or self._chat_topic_arn):
            logger.warning("no notification topic configured", extra={"dropped": len(notifications)})
            return
        failed = 0
        if self._topic_arn:
            failed += self._publish(self._topic_arn, notifications, _for_subscribers)
        if self._chat_topic_arn:
            failed += self._publish(self._chat_topic_arn, [n for n in notifications if n.chat], _for_chat)
        if failed:
            metrics.add_metric(name="NotificationsFailed", unit=MetricUnit.Count, value=failed)

    def _publish(self, topic_arn: str, notifications: list[Notification], entry: Entry) -> int:
        """Publishes in batches; returns how many messages failed."""
        failed = 0
        for start in range(0, len(notifications), _BATCH):
            batch = notifications[start : start + _BATCH]
            entries = [entry(str(index), n) for index, n in enumerate(batch)]
            try:
                response = self._sns.publish_batch(TopicArn=topic_arn, PublishBatchRequestEntries=entries)
            except (ClientError, BotoCoreError) as exc:
                failed += len(batch)
                logger.warning(
                    "notification failed",
                    extra={"error": str(exc), "topic": topic_arn, "subjects": [n.subject for n in batch]},
                )
                continue
            for failure in response.get("Failed", []):
                failed += 1
                logger.warning(
                    "notification failed",
                    extra={"error": failure.get("Message"), "id": failure.get("Id"), "topic": topic_arn},
                )
        return failed


def _status_attribute(notification: Notification) -> dict[str, MessageAttributeValueTypeDef]:
    # Subscribers may filter on it (a filter policy on ``status``), e.g. an address for failures only.
    return {"status": {"DataType": "String", "StringValue": notification.status}}


def _for_subscribers(entry_id: str, notification: Notification) -> PublishBatchRequestEntryTypeDef:
    """MessageStructure=json: a "default" string (required) and the email protocol's own text."""
    message = {"default": json.dumps(notification.body, default=str)}
    if notification.email:
        message["email"] = notification.email
    return {
        "Id": entry_id,
        "Subject": notification.subject,
        "Message": json.dumps(message),
        "MessageStructure": "json",
        "MessageAttributes": _status_attribute(notification),
    }


def _for_chat(entry_id: str, notification: Notification) -> PublishBatchRequestEntryTypeDef:
    # No Subject: the chat application shows the content's title.
    return {
        "Id": entry_id,
        "Message": json.dumps(notification.chat),
        "MessageAttributes": _status_attribute(notification),
    }
