"""The template's EventBridge rules on the emulator, so that events reach the functions exactly as
the deployed rules would route them (moto matches event patterns and delivers to SQS targets)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from tools.lambda_context import FakeLambdaContext
from tools.template import event_rules

Handler = Callable[[Any, Any], Any]


@dataclass
class Delivery:
    function: str
    event: dict[str, Any]
    result: Any


@dataclass
class Router:
    session: Any
    handlers: dict[str, Handler]
    queues: dict[str, str] = field(default_factory=dict)
    account: str = ""

    def install(self) -> None:
        events, sqs = self.session.client("events"), self.session.client("sqs")
        for rule in event_rules():
            if rule.function not in self.handlers:
                continue
            if rule.function not in self.queues:
                self.queues[rule.function] = sqs.create_queue(QueueName=f"{rule.function}-events")["QueueUrl"]
            arn = sqs.get_queue_attributes(QueueUrl=self.queues[rule.function], AttributeNames=["QueueArn"])
            name = f"{rule.function}-{rule.name}"
            events.put_rule(Name=name, EventPattern=json.dumps(rule.pattern), State="ENABLED")
            events.put_targets(Rule=name, Targets=[{"Id": "function", "Arn": arn["Attributes"]["QueueArn"]}])

    def _account(self) -> str:
        if not self.account:
            self.account = str(self.session.client("sts").get_caller_identity()["Account"])
        return self.account

    def send(self, event: dict[str, Any]) -> list[Delivery]:
        """Put the event on the default bus; deliver whatever the rules route, to the routed handlers."""
        events = self.session.client("events")
        entry = {
            "Source": event["source"],
            "DetailType": event["detail-type"],
            "Detail": json.dumps(event["detail"]),
            "Resources": event.get("resources", []),
        }
        if "time" in event:
            entry["Time"] = datetime.fromisoformat(event["time"].replace("Z", "+00:00"))
        response = events.put_events(Entries=[entry])
        if response.get("FailedEntryCount"):
            raise RuntimeError(f"EventBridge refused the event: {response['Entries']}")
        return self.deliver()

    def deliver(self) -> list[Delivery]:
        sqs = self.session.client("sqs")
        deliveries = []
        for function, queue in self.queues.items():
            while True:
                messages = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", [])
                if not messages:
                    break
                for message in messages:
                    routed = json.loads(message["Body"])
                    # moto leaves out the envelope's account; AWS always sends it.
                    routed.setdefault("account", self._account())
                    result = self.handlers[function](routed, FakeLambdaContext(function_name=function))
                    deliveries.append(Delivery(function, routed, result))
                    sqs.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])
        return deliveries
