from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from moto import mock_aws

from autodeploy import wiring
from autodeploy.adapters.aws import CLIENT_CONFIG
from tools import world
from tools.lambda_context import FakeLambdaContext
from tools.template import create_tables, function_spec


@dataclass
class Aws:
    """The emulated account, seen through the same clients the functions use."""

    ecr: Any
    ecs: Any
    cloudformation: Any
    dynamodb: Any
    tagging: Any
    ledger_table: str

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
        clients = {
            name: session.client(name, config=CLIENT_CONFIG) for name in ("ecr", "ecs", "cloudformation", "dynamodb")
        }
        tables = create_tables(clients["dynamodb"])
        spec = function_spec("DeployFunction", physical=tables)
        for key, value in spec.environment.items():
            monkeypatch.setenv(key, value)
        world.ensure_repository(clients["ecr"], "web")
        wiring.reset()
        # The functions' clients are created lazily inside the mock; sharing them lets tests inject faults.
        wiring.aws_clients().__dict__.update(clients)
        yield Aws(
            tagging=session.client("resourcegroupstaggingapi"),
            ledger_table=tables["LedgerTable"],
            **clients,
        )
        wiring.reset()


@pytest.fixture
def invoke_deploy() -> Any:
    """Calls DeployFunction's handler as Lambda would."""
    import deploy_function

    def invoke(event: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = deploy_function.handler(event, FakeLambdaContext())
        return result

    return invoke
