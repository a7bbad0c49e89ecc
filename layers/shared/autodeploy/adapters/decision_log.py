"""The scaling decisions table: one item per service per review, newest first, expiring.

Keys: ``service`` (ARN) and ``sk`` (``review#<reviewed_at>``). One more item per service
(``sk = summary``) keeps its last decisions, so that a review of many services reads their
recent history in BatchGetItem calls of 100 rather than one query each.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

from autodeploy.adapters.aws import aws_call
from autodeploy.errors import RetryableError
from autodeploy.scaling.models import Decision, PastDecision

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

SUMMARY = "summary"
REVIEW_PREFIX = "review#"
_BATCH_GET = 100
_BATCH_WRITE = 25
_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


def _dynamo(values: dict[str, Any]) -> dict[str, Any]:
    # DynamoDB numbers are Decimals; a JSON round trip turns every float into one.
    plain = json.loads(json.dumps(values, default=str), parse_float=Decimal)
    return {k: _serializer.serialize(v) for k, v in plain.items()}


def _plain(item: dict[str, Any]) -> dict[str, Any]:
    return {k: _deserializer.deserialize(v) for k, v in item.items()}


def past_decision(entry: dict[str, Any]) -> PastDecision:
    """One entry of a summary's history, as ``summarize_history`` wrote it (its count too: the
    count before a scaling activity is read from it)."""
    return PastDecision(
        datetime.fromisoformat(entry["at"]),
        Decision(entry["decision"]),
        bool(entry["applied"]),
        int(entry["recommended"]),
        int(entry["count"]) if entry.get("count") is not None else None,
    )


class DecisionLog:
    def __init__(self, dynamodb: DynamoDBClient, table: str, retention_days: int) -> None:
        self._dynamodb = dynamodb
        self._table = table
        self._retention_seconds = retention_days * 86400

    def histories(self, services: Iterable[str]) -> dict[str, tuple[PastDecision, ...]]:
        wanted = sorted(set(services))
        found: dict[str, tuple[PastDecision, ...]] = dict.fromkeys(wanted, ())
        for start in range(0, len(wanted), _BATCH_GET):
            keys: list[Any] = [_dynamo({"service": s, "sk": SUMMARY}) for s in wanted[start : start + _BATCH_GET]]
            while keys:
                with aws_call("reading scaling decision summaries"):
                    response = self._dynamodb.batch_get_item(RequestItems={self._table: {"Keys": keys}})
                for raw in response.get("Responses", {}).get(self._table, []):
                    item = _plain(dict(raw))
                    found[item["service"]] = tuple(past_decision(h) for h in item.get("history", []))
                unprocessed = response.get("UnprocessedKeys") or {}
                keys = list(unprocessed[self._table]["Keys"]) if self._table in unprocessed else []
        return found

    def write(self, items: Sequence[dict[str, Any]]) -> None:
        """Decision records and summaries, 25 a call; unprocessed items are sent again."""
        expires = int(time.time()) + self._retention_seconds
        requests: list[Any] = [
            {"PutRequest": {"Item": _dynamo(item if item["sk"] == SUMMARY else {**item, "expires_at": expires})}}
            for item in items
        ]
        for start in range(0, len(requests), _BATCH_WRITE):
            pending = requests[start : start + _BATCH_WRITE]
            for _ in range(5):
                with aws_call("writing scaling decisions"):
                    response = self._dynamodb.batch_write_item(RequestItems={self._table: pending})
                pending = list((response.get("UnprocessedItems") or {}).get(self._table, []))
                if not pending:
                    break
                time.sleep(0.2)
            else:
                raise RetryableError(f"{len(pending)} scaling decisions were not written after 5 attempts")

    def recent(self, service: str, limit: int = 20) -> list[dict[str, Any]]:
        """A service's decision records, newest first."""
        with aws_call(f"reading the scaling decisions of {service}"):
            response = self._dynamodb.query(
                TableName=self._table,
                KeyConditionExpression="#s = :s AND begins_with(sk, :p)",
                ExpressionAttributeNames={"#s": "service"},
                ExpressionAttributeValues={":s": {"S": service}, ":p": {"S": REVIEW_PREFIX}},
                ScanIndexForward=False,
                Limit=limit,
            )
        return [_plain(dict(i)) for i in response.get("Items", [])]
