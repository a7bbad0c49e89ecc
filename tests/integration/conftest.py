from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from moto import mock_aws

from autodeploy import wiring
from autodeploy.adapters.aws import CLIENT_CONFIG, AwsClients
from tests.support import alarm_history, call_recorder, ecs_history
from tools import moto_gaps, world
from tools.lambda_context import FakeLambdaContext
from tools.template import create_resources, function_spec


@dataclass
class Aws:
    """The emulated account, seen through the same clients the functions use."""

    ecr: Any
    ecs: Any
    cloudformation: Any
    dynamodb: Any
    sns: Any
    sqs: Any
    autoscaling: Any
    cloudwatch: Any
    ec2: Any
    tagging: Any
    ledger_table: str
    decisions_table: str
    notifications_queue: str
    history: ecs_history.EcsHistory  # ECS's service-deployment history, which moto lacks
    alarm_history: alarm_history.AlarmHistory  # CloudWatch's alarm history, which moto lacks

    def notifications(self) -> list[dict[str, Any]]:
        """Every message published to the notification topic so far (drains the test queue)."""
        import json

        messages = []
        while True:
            batch = self.sqs.receive_message(QueueUrl=self.notifications_queue, MaxNumberOfMessages=10).get(
                "Messages", []
            )
            if not batch:
                return messages
            for message in batch:
                envelope = json.loads(message["Body"])
                messages.append({"subject": envelope.get("Subject"), **json.loads(envelope["Message"])})
                self.sqs.delete_message(QueueUrl=self.notifications_queue, ReceiptHandle=message["ReceiptHandle"])

    def ledger(self, target: str) -> list[dict[str, Any]]:
        from boto3.dynamodb.types import TypeDeserializer

        items = self.dynamodb.query(
            TableName=self.ledger_table,
            KeyConditionExpression="#t = :t AND begins_with(sk, :p)",
            ExpressionAttributeNames={"#t": "target"},
            ExpressionAttributeValues={":t": {"S": target}, ":p": {"S": "push#"}},
            ScanIndexForward=False,
        )["Items"]
        deserializer = TypeDeserializer()
        return [{k: deserializer.deserialize(v) for k, v in item.items()} for item in items]

    def state(self, target: str) -> dict[str, Any]:
        from boto3.dynamodb.types import TypeDeserializer

        key = {"target": {"S": target}, "sk": {"S": "state"}}
        item = self.dynamodb.get_item(TableName=self.ledger_table, Key=key).get("Item", {})
        return {k: TypeDeserializer().deserialize(v) for k, v in item.items()}

    def revisions(self, family: str) -> list[str]:
        return list(self.ecs.list_task_definitions(familyPrefix=family)["taskDefinitionArns"])

    def service(self, arn: str) -> dict[str, Any]:
        cluster = arn.split("/")[1]
        return dict(self.ecs.describe_services(cluster=cluster, services=[arn])["services"][0])

    def task_definition(self, arn: str) -> dict[str, Any]:
        return dict(self.ecs.describe_task_definition(taskDefinition=arn, include=["TAGS"]))


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[Aws]:
    """moto in-process, the template's tables, and DeployFunction's environment from the template."""
    with mock_aws():
        session = boto3.session.Session()
        physical = create_resources(boto3.session.Session())
        call_recorder.attach(session, physical)  # before any client of the functions exists
        # A test that resets the wiring (to change the environment) gets clients of this session
        # again, so the recorder still sees its calls.
        monkeypatch.setattr(wiring, "AwsClients", lambda: AwsClients(session))
        names = ("ecr", "ecs", "cloudformation", "dynamodb", "sns", "application-autoscaling", "cloudwatch")
        clients = {name: session.client(name, config=CLIENT_CONFIG) for name in names}
        for function in ("DeployFunction", "ReviewFunction"):
            for key, value in function_spec(function, physical=physical).environment.items():
                monkeypatch.setenv(key, value)
        sqs = session.client("sqs")
        queue = sqs.create_queue(QueueName="notifications")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        clients["sns"].subscribe(TopicArn=physical["NotificationTopic"], Protocol="sqs", Endpoint=queue_arn)
        moto_gaps.aws_like_deployments(clients["ecs"])
        moto_gaps.remember_deployment_configuration(clients["ecs"])  # moto drops it (EMULATOR.md)
        history = ecs_history.install(clients["ecs"])
        alarms = alarm_history.install(clients["cloudwatch"])
        world.ensure_repository(clients["ecr"], "web")
        wiring.reset()
        # The functions' clients are created lazily inside the mock; sharing them lets tests inject faults.
        wiring.aws_clients().__dict__.update(clients)
        wiring.aws_clients().__dict__["application_autoscaling"] = clients["application-autoscaling"]
        wiring.aws_clients().__dict__["session"] = session  # clients created later are recorded too
        yield Aws(
            tagging=session.client("resourcegroupstaggingapi"),
            sqs=sqs,
            ec2=session.client("ec2"),
            ledger_table=physical["LedgerTable"],
            decisions_table=physical["DecisionsTable"],
            notifications_queue=queue,
            history=history,
            alarm_history=alarms,
            autoscaling=clients.pop("application-autoscaling"),
            **clients,
        )
        wiring.reset()


def _invoker(module: str, function: str) -> Any:
    """A function's handler, called as Lambda would call it."""
    import importlib

    handler = importlib.import_module(module).handler

    def invoke(event: Any) -> dict[str, Any]:
        test = os.environ.get("PYTEST_CURRENT_TEST", "?").rsplit(" ", 1)[0]
        with call_recorder.invoking(function, test):
            result: dict[str, Any] = handler(event, FakeLambdaContext(function_name=function))
        return result

    return invoke


@pytest.fixture
def invoke_deploy() -> Any:
    return _invoker("deploy_function", "DeployFunction")


@pytest.fixture
def invoke_track() -> Any:
    return _invoker("track_function", "TrackFunction")


@pytest.fixture
def invoke_release() -> Any:
    return _invoker("release_function", "ReleaseFunction")


@pytest.fixture
def invoke_review() -> Any:
    return _invoker("review_function", "ReviewFunction")


@pytest.fixture
def invoke_reconcile() -> Any:
    """ReconcileFunction, as its schedule calls it."""
    from tests.support.events import load_event

    invoke = _invoker("reconcile_function", "ReconcileFunction")
    return lambda: invoke(load_event("reconcile-schedule.json"))


@pytest.fixture
def web_service(aws: Aws, request: pytest.FixtureRequest) -> str:
    """prod/web (repository web, semver tags), with the deployment circuit breaker unless a test asks
    for it off (indirect False). Modules whose service differs define their own."""
    world.push_image(aws.ecr, "web", "1.4.0")
    return world.create_service(
        aws.ecs,
        "prod",
        "web",
        f"{world.REGISTRY}/web:1.4.0",
        {"autodeploy:repository": "web", "autodeploy:tags": "semver"},
        circuit_breaker=getattr(request, "param", True),
    )
