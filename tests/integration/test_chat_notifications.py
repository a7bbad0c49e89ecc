"""What the functions publish, read back from moto's SNS: the chat topic's custom notifications,
the notification topic's per-protocol message, and a subscriber's filter on the status attribute.

moto delivers to SQS subscribers (used here to read messages back) and applies filter policies, but
delivers nothing for the email protocol and has no chat application: that email subscribers get the
``email`` text of a ``MessageStructure=json`` message is SNS's documented contract (botocore's sns
service-2.json, PublishBatchRequestEntry.MessageStructure: a JSON object with a "default" string and
one key per protocol), checked here on the request the notifier sends; the chat message is checked
against the Amazon Q Developer in chat applications admin guide (tests/support/chat_schema.py).
"""

from __future__ import annotations

import json
import os
from typing import Any

import pytest

from tests.support import chat_schema
from tests.support.events import ecr_push, ecs_deployment
from tools.world import REGISTRY, create_service, primary_deployment, push_image


@pytest.fixture
def web_service(aws):
    push_image(aws.ecr, "web", "1.4.0")
    return create_service(aws.ecs, "prod", "web", f"{REGISTRY}/web:1.4.0", {"autodeploy:repository": "web"})


def subscribe_queue(aws, topic: str, name: str, **attributes: str) -> str:
    queue = aws.sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = aws.sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    aws.sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn, Attributes=attributes)
    return str(queue)


def envelopes(aws, queue: str) -> list[dict[str, Any]]:
    """The SNS envelopes delivered to ``queue`` so far, in order."""
    found = []
    while batch := aws.sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", []):
        for message in batch:
            found.append(json.loads(message["Body"]))
            aws.sqs.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])
    return found


def test_a_rollouts_chat_messages_are_documented_custom_notifications_in_one_thread(
    aws, invoke_deploy, invoke_track, web_service
):
    chat = subscribe_queue(aws, os.environ["CHAT_NOTIFICATION_TOPIC_ARN"], "chat")
    digest = push_image(aws.ecr, "web", "1.5.0")
    invoke_deploy(ecr_push("1.5.0", digest))
    invoke_track(
        ecs_deployment("ecs-deployment-completed.json", web_service, primary_deployment(aws.ecs, web_service)["id"])
    )
    newer = push_image(aws.ecr, "web", "1.6.0")
    invoke_deploy(ecr_push("1.6.0", newer))

    delivered = envelopes(aws, chat)
    messages = [json.loads(e["Message"]) for e in delivered]
    assert [chat_schema.problems(m) for m in messages] == [[], [], []]
    assert [e.get("Subject") for e in delivered] == [None, None, None]  # the chat shows the title
    assert [m["content"]["title"] for m in messages] == [
        ":rocket: web:1.5.0 is rolling out to prod/web",
        ":white_check_mark: web:1.5.0 is live on prod/web",
        ":rocket: web:1.6.0 is rolling out to prod/web",
    ]
    started, succeeded, next_rollout = (m["metadata"]["threadId"] for m in messages)
    assert started == succeeded != next_rollout
    assert messages[1]["content"]["nextSteps"] == [
        "`autodeploy history prod/web`: its deployments, with each failure's details"
    ]
    assert messages[0]["metadata"]["relatedResources"] == [web_service]


def test_email_subscribers_get_plain_text_and_other_subscribers_the_json_body(aws, invoke_deploy, web_service):
    sent: list[dict[str, Any]] = []
    aws.sns.meta.events.register("provide-client-params.sns.PublishBatch", lambda params, **_: sent.append(params))
    digest = push_image(aws.ecr, "web", "1.5.0")
    invoke_deploy(ecr_push("1.5.0", digest))

    topics = {params["TopicArn"]: params["PublishBatchRequestEntries"] for params in sent}
    assert set(topics) == {os.environ["NOTIFICATION_TOPIC_ARN"], os.environ["CHAT_NOTIFICATION_TOPIC_ARN"]}
    [entry] = topics[os.environ["NOTIFICATION_TOPIC_ARN"]]
    assert entry["MessageStructure"] == "json"
    assert entry["Subject"] == "[autodeploy] IN_PROGRESS prod/web: web:1.5.0"
    message = json.loads(entry["Message"])
    assert set(message) == {"default", "email"}
    assert all(isinstance(v, str) for v in message.values())  # "simple JSON string values", as SNS requires
    assert message["email"].startswith("IN_PROGRESS: web:1.5.0 is rolling out to prod/web\n\nTarget:")
    assert "  autodeploy status prod/web    # what is in flight" in message["email"]
    # An SQS subscriber, like any protocol without its own key, gets the "default" JSON body.
    [delivered] = aws.notifications()
    assert delivered == {"subject": entry["Subject"], **json.loads(message["default"])}
    assert (delivered["status"], delivered["target_label"], delivered["tag"]) == ("IN_PROGRESS", "prod/web", "1.5.0")


def test_a_subscriber_filtering_on_the_status_attribute_hears_only_failures(
    aws, invoke_deploy, invoke_track, web_service
):
    failures = subscribe_queue(
        aws,
        os.environ["NOTIFICATION_TOPIC_ARN"],
        "failures",
        FilterPolicy=json.dumps({"status": ["FAILED", "ROLLED_BACK", "TIMED_OUT"]}),
    )
    invoke_deploy(ecr_push("1.5.0", push_image(aws.ecr, "web", "1.5.0")))
    invoke_track(
        ecs_deployment("ecs-deployment-completed.json", web_service, primary_deployment(aws.ecs, web_service)["id"])
    )
    invoke_deploy(ecr_push("1.6.0", push_image(aws.ecr, "web", "1.6.0")))
    invoke_track(
        ecs_deployment("ecs-deployment-failed.json", web_service, primary_deployment(aws.ecs, web_service)["id"])
    )

    heard = [(e["Subject"], json.loads(e["Message"])["status"]) for e in envelopes(aws, failures)]
    # web_service has the circuit breaker with rollback on, so ECS's failure is a rollback.
    assert heard == [("[autodeploy] ROLLED_BACK prod/web: web:1.6.0 in 557s", "ROLLED_BACK")]
    assert [n["status"] for n in aws.notifications()] == ["IN_PROGRESS", "SUCCEEDED", "IN_PROGRESS", "ROLLED_BACK"]


def test_without_a_chat_topic_the_notification_topic_still_hears_everything(
    aws, invoke_deploy, web_service, monkeypatch
):
    """A stack installed before the chat topic existed: its functions have no CHAT_NOTIFICATION_TOPIC_ARN."""
    from autodeploy import wiring

    chat = subscribe_queue(aws, os.environ["CHAT_NOTIFICATION_TOPIC_ARN"], "chat")
    monkeypatch.delenv("CHAT_NOTIFICATION_TOPIC_ARN")
    wiring.settings.cache_clear()
    wiring.deploy_on_push.cache_clear()
    invoke_deploy(ecr_push("1.5.0", push_image(aws.ecr, "web", "1.5.0")))

    assert [n["status"] for n in aws.notifications()] == ["IN_PROGRESS"]
    assert envelopes(aws, chat) == []
