"""The deployment ledger (DynamoDB): one item per target per push, queried newest first.

Keys: ``target`` (partition, the target's ARN) and ``sk`` (``<pushed_at>#<event id>``), so a
redelivered event maps to the same item and a conditional put keeps the first decision.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import BotoCoreError, ClientError

from autodeploy.adapters.aws import aws_call, error_code, translate
from autodeploy.records import DeploymentRecord

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


def _to_dynamo(item: dict[str, Any]) -> dict[str, Any]:
    return {k: _serializer.serialize(v) for k, v in item.items()}


def _from_dynamo(item: dict[str, Any]) -> dict[str, Any]:
    return {k: _deserializer.deserialize(v) for k, v in item.items()}


class Ledger:
    def __init__(self, dynamodb: DynamoDBClient, table: str) -> None:
        self._dynamodb = dynamodb
        self._table = table

    def record(self, record: DeploymentRecord) -> bool:
        """Store the record unless this push was already recorded for this target (then False)."""
        try:
            self._dynamodb.put_item(
                TableName=self._table,
                Item=_to_dynamo(record.to_item()),
                ConditionExpression="attribute_not_exists(sk)",
            )
        except ClientError as exc:
            if error_code(exc) == "ConditionalCheckFailedException":
                return False
            translate(exc, f"recording {record.status} for {record.target}")
        except BotoCoreError as exc:
            translate(exc, f"recording {record.status} for {record.target}")
        return True

    def history(self, target: str, limit: int = 20) -> list[DeploymentRecord]:
        """A target's records, newest push first."""
        with aws_call(f"reading the history of {target}"):
            response = self._dynamodb.query(
                TableName=self._table,
                KeyConditionExpression="#t = :t",
                ExpressionAttributeNames={"#t": "target"},
                ExpressionAttributeValues={":t": {"S": target}},
                ScanIndexForward=False,
                Limit=limit,
            )
        return [DeploymentRecord.from_item(_from_dynamo(dict(i))) for i in response.get("Items", [])]
