"""The deployment ledger (DynamoDB): push records and one state item per target.

Keys: ``target`` (the target's ARN) and ``sk``. Push records have ``sk = push#<pushed_at>#<event
id>``, so a redelivered event maps to the same item and a target's history is one query. The
state item (``sk = state``) holds the rollout in flight, the pending push and the quarantined
digests; conditional writes on it make "one rollout at a time per target, newest waits" hold
across concurrent invocations.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import BotoCoreError, ClientError

from autodeploy.adapters.aws import aws_call, error_code, translate
from autodeploy.records import PUSH_PREFIX, STATE_KEY, DeploymentRecord, Reason, Status
from autodeploy.rollout import InFlight, PushRef, TargetState

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from mypy_boto3_dynamodb import DynamoDBClient

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()
_BATCH_GET = 100
_ENQUEUE_ATTEMPTS = 8
APPROVAL_PREFIX = "approval#"


def _to_dynamo(value: Any) -> Any:
    return _serializer.serialize(value)


def _item(values: dict[str, Any]) -> dict[str, Any]:
    return {k: _to_dynamo(v) for k, v in values.items()}


def _from_dynamo(item: dict[str, Any]) -> dict[str, Any]:
    return {k: _deserializer.deserialize(v) for k, v in item.items()}


class Claim(StrEnum):
    STARTED = "started"  # this invocation holds the target's rollout lock
    BUSY = "busy"  # another rollout is in flight
    DUPLICATE = "duplicate"  # this push was already recorded for the target


class Queued(StrEnum):
    QUEUED = "queued"  # the push waits; it deploys when the rollout in flight ends
    SUPERSEDED = "superseded"  # a newer push already waits: this one never deploys
    LOCK_FREE = "lock-free"  # the rollout in flight ended meanwhile: try to start instead
    DUPLICATE = "duplicate"


@dataclass(frozen=True, slots=True)
class Enqueued:
    outcome: Queued
    replaced: str | None = None  # the sort key of the pending push this one replaced


class Ledger:
    def __init__(self, dynamodb: DynamoDBClient, table: str) -> None:
        self._dynamodb = dynamodb
        self._table = table

    # -- push records --------------------------------------------------------------------------

    def record(self, record: DeploymentRecord) -> bool:
        """Store the record unless this push was already recorded for this target (then False)."""
        try:
            self._dynamodb.put_item(
                TableName=self._table, Item=_item(record.to_item()), ConditionExpression="attribute_not_exists(sk)"
            )
        except ClientError as exc:
            if error_code(exc) == "ConditionalCheckFailedException":
                return False
            translate(exc, f"recording {record.status} for {record.target}")
        except BotoCoreError as exc:
            translate(exc, f"recording {record.status} for {record.target}")
        return True

    def get(self, target: str, sort_key: str) -> DeploymentRecord | None:
        with aws_call(f"reading a record of {target}"):
            response = self._dynamodb.get_item(
                TableName=self._table, Key=_item({"target": target, "sk": sort_key}), ConsistentRead=True
            )
        item = response.get("Item")
        return DeploymentRecord.from_item(_from_dynamo(dict(item))) if item else None

    def history(self, target: str, limit: int | None = 20) -> list[DeploymentRecord]:
        """A target's records, newest push first; ``limit=None`` reads them all, page by page."""
        records: list[DeploymentRecord] = []
        request: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "#t = :t AND begins_with(sk, :p)",
            "ExpressionAttributeNames": {"#t": "target"},
            "ExpressionAttributeValues": {":t": {"S": target}, ":p": {"S": PUSH_PREFIX}},
            "ScanIndexForward": False,
        }
        while limit is None or len(records) < limit:
            if limit is not None:
                request["Limit"] = limit - len(records)
            with aws_call(f"reading the history of {target}"):
                response = self._dynamodb.query(**request)
            records.extend(DeploymentRecord.from_item(_from_dynamo(dict(i))) for i in response.get("Items", []))
            if "LastEvaluatedKey" not in response:
                break
            request["ExclusiveStartKey"] = response["LastEvaluatedKey"]
        return records

    def set_outcome(
        self,
        target: str,
        sort_key: str,
        status: Status,
        code: Reason,
        reason: str,
        expect: Status | tuple[Status, ...],
        gate: str | None = None,
    ) -> bool:
        """Move a record from ``expect`` (one status or any of several) to a final ``status``; False
        when it was no longer so. ``gate``: the release gate that decided it (a gate's rejection)."""
        expected = expect if isinstance(expect, tuple) else (expect,)
        names = {f":e{i}": s.value for i, s in enumerate(expected)}
        values: dict[str, Any] = {":s": status.value, ":c": code.value, ":r": reason, **names}
        update = "SET #s = :s, reason_code = :c, reason = :r"
        if gate is not None:
            values[":g"] = gate
            update += ", gate = :g"
        return self._update(
            {"target": target, "sk": sort_key},
            update + " REMOVE reopened_by, reopens_at",
            f"#s IN ({', '.join(names)})",
            {"#s": "status"},
            values,
            f"recording {status} for {target}",
        )

    def hold(self, record: DeploymentRecord) -> bool:
        """The pending push (QUEUED or WAITING) is now as ``record`` says: WAITING at its gate, with why
        and what reopens it, or QUEUED behind the rollout in flight; False when it is no longer pending."""
        values: dict[str, Any] = {
            ":s": record.status.value,
            ":c": record.reason_code.value,
            ":r": record.reason,
            ":queued": Status.QUEUED.value,
            ":waiting": Status.WAITING.value,
        }
        sets, removes = ["#s = :s", "reason_code = :c", "reason = :r"], []
        for name, value in (
            ("gate", record.gate),
            ("reopened_by", record.reopened_by),
            ("reopens_at", record.reopens_at.isoformat() if record.reopens_at else None),
        ):
            if value:
                values[f":{name}"] = value
                sets.append(f"{name} = :{name}")
            else:
                removes.append(name)
        return self._update(
            {"target": record.target, "sk": record.sort_key},
            "SET " + ", ".join(sets) + (" REMOVE " + ", ".join(removes) if removes else ""),
            "#s IN (:queued, :waiting)",
            {"#s": "status"},
            values,
            f"recording the wait of {record.target}",
        )

    # -- approvals (sk = approval#<digest>) ------------------------------------------------------

    def approval(self, target: str, digest: str) -> dict[str, Any] | None:
        """The approval request of one digest on one target: ``requested_at`` and, once answered,
        ``answer``, ``by``, ``at`` and ``reason``."""
        with aws_call(f"reading the approval of {digest} on {target}"):
            response = self._dynamodb.get_item(
                TableName=self._table,
                Key=_item({"target": target, "sk": APPROVAL_PREFIX + digest}),
                ConsistentRead=True,
            )
        item = response.get("Item")
        return _from_dynamo(dict(item)) if item else None

    def request_approval(self, target: str, digest: str, at: str) -> dict[str, Any]:
        """Open the approval request (the first time only) and return it as stored."""
        try:
            self._dynamodb.put_item(
                TableName=self._table,
                Item=_item({"target": target, "sk": APPROVAL_PREFIX + digest, "digest": digest, "requested_at": at}),
                ConditionExpression="attribute_not_exists(sk)",
            )
        except ClientError as exc:
            if error_code(exc) != "ConditionalCheckFailedException":
                translate(exc, f"asking approval of {digest} on {target}")
        except BotoCoreError as exc:
            translate(exc, f"asking approval of {digest} on {target}")
        return self.approval(target, digest) or {"requested_at": at, "digest": digest}

    def answer_approval(self, target: str, digest: str, answer: str, by: str, at: str, reason: str) -> bool:
        """Record a person's answer to an open request; False when there is none or it was answered already."""
        return self._update(
            {"target": target, "sk": APPROVAL_PREFIX + digest},
            "SET answer = :a, #by = :b, answered_at = :at, reason = :r",
            "attribute_exists(sk) AND attribute_not_exists(answer)",
            {"#by": "by"},
            {":a": answer, ":b": by, ":at": at, ":r": reason},
            f"recording the answer to the approval of {digest} on {target}",
        )

    # -- target state --------------------------------------------------------------------------

    def state(self, target: str) -> TargetState:
        with aws_call(f"reading the rollout state of {target}"):
            response = self._dynamodb.get_item(
                TableName=self._table, Key=_item({"target": target, "sk": STATE_KEY}), ConsistentRead=True
            )
        item = response.get("Item")
        return TargetState.from_item(target, _from_dynamo(dict(item)) if item else None)

    def states(self, targets: Iterable[str]) -> dict[str, TargetState]:
        """Many targets' states, 100 a call."""
        wanted = sorted(set(targets))
        found: dict[str, TargetState] = {t: TargetState(t) for t in wanted}
        for start in range(0, len(wanted), _BATCH_GET):
            keys: list[Any] = [_item({"target": t, "sk": STATE_KEY}) for t in wanted[start : start + _BATCH_GET]]
            while keys:
                with aws_call("reading rollout states"):
                    response = self._dynamodb.batch_get_item(
                        RequestItems={self._table: {"Keys": keys, "ConsistentRead": True}}
                    )
                for raw in response.get("Responses", {}).get(self._table, []):
                    item = _from_dynamo(dict(raw))
                    found[item["target"]] = TargetState.from_item(item["target"], item)
                unprocessed = response.get("UnprocessedKeys") or {}
                keys = list(unprocessed[self._table]["Keys"]) if self._table in unprocessed else []
        return found

    def begin(self, record: DeploymentRecord, in_flight: InFlight, promoted: bool = False) -> Claim:
        """Record the push as IN_PROGRESS and take the target's rollout lock, atomically.

        ``promoted``: the push was the target's pending one, already recorded as QUEUED.
        """
        state_key = _item({"target": record.target, "sk": STATE_KEY})
        if promoted:
            record_write: dict[str, Any] = {
                "Update": {
                    "TableName": self._table,
                    "Key": _item({"target": record.target, "sk": record.sort_key}),
                    # A push that waited at a gate no longer does: what held it goes with the wait.
                    "UpdateExpression": "SET #s = :s, reason_code = :c, reason = :r, recorded_at = :at "
                    "REMOVE gate, reopened_by, reopens_at",
                    "ConditionExpression": "#s IN (:queued, :waiting)",
                    "ExpressionAttributeNames": {"#s": "status"},
                    "ExpressionAttributeValues": _item(
                        {
                            ":s": Status.IN_PROGRESS.value,
                            ":c": record.reason_code.value,
                            ":r": record.reason,
                            ":at": record.recorded_at.isoformat(),
                            ":queued": Status.QUEUED.value,
                            ":waiting": Status.WAITING.value,
                        }
                    ),
                }
            }
            state_write: dict[str, Any] = {
                "Update": {
                    "TableName": self._table,
                    "Key": state_key,
                    "UpdateExpression": "SET #f = :f, updated_at = :at REMOVE #p",
                    "ConditionExpression": "attribute_not_exists(#f) AND #p.sk = :sk",
                    "ExpressionAttributeNames": {"#f": "in_flight", "#p": "pending"},
                    "ExpressionAttributeValues": _item(
                        {":f": in_flight.to_item(), ":at": record.recorded_at.isoformat(), ":sk": record.sort_key}
                    ),
                }
            }
        else:
            record_write = {
                "Put": {
                    "TableName": self._table,
                    "Item": _item(record.to_item()),
                    "ConditionExpression": "attribute_not_exists(sk)",
                }
            }
            state_write = {
                "Update": {
                    "TableName": self._table,
                    "Key": state_key,
                    "UpdateExpression": "SET #f = :f, updated_at = :at, #q = if_not_exists(#q, :empty)",
                    "ConditionExpression": "attribute_not_exists(#f)",
                    "ExpressionAttributeNames": {"#f": "in_flight", "#q": "quarantined"},
                    "ExpressionAttributeValues": _item(
                        {":f": in_flight.to_item(), ":at": record.recorded_at.isoformat(), ":empty": {}}
                    ),
                }
            }
        failed = self._transact([record_write, state_write], f"starting the rollout of {record.target}")
        if failed is None:
            return Claim.STARTED
        return Claim.DUPLICATE if failed[0] else Claim.BUSY

    def enqueue(self, record: DeploymentRecord, push: PushRef, *, held: bool = False) -> Enqueued:
        """Make the push the target's pending one, unless a newer push already waits.

        The push it replaces is marked SUPERSEDED in the same transaction. ``held``: the push waits
        at a release gate (``record`` is WAITING), so it takes the slot whether or not a rollout
        is in flight; otherwise it waits only behind one (LOCK_FREE when there is none).
        """
        for _ in range(_ENQUEUE_ATTEMPTS):
            state = self.state(record.target)
            if state.in_flight is None and not held:
                return Enqueued(Queued.LOCK_FREE)
            if state.pending is not None and state.pending.sort_key >= push.sort_key:
                if state.pending.sort_key == push.sort_key:
                    return Enqueued(Queued.DUPLICATE)
                return Enqueued(Queued.SUPERSEDED)
            old = state.pending.sort_key if state.pending else None
            condition = ("" if held else "attribute_exists(#f) AND ") + (
                "#p.sk = :old" if old else "attribute_not_exists(#p)"
            )
            values: dict[str, Any] = {":p": push.to_item(), ":at": record.recorded_at.isoformat(), ":empty": {}}
            if old:
                values[":old"] = old
            writes: list[dict[str, Any]] = [
                {
                    "Put": {
                        "TableName": self._table,
                        "Item": _item(record.to_item()),
                        "ConditionExpression": "attribute_not_exists(sk)",
                    }
                },
                {
                    "Update": {
                        "TableName": self._table,
                        "Key": _item({"target": record.target, "sk": STATE_KEY}),
                        # A held push may be the first thing a target's state holds: the quarantine
                        # map exists from the start, as begin() makes it, for finish() to update.
                        "UpdateExpression": "SET #p = :p, updated_at = :at, #q = if_not_exists(#q, :empty)",
                        "ConditionExpression": condition,
                        "ExpressionAttributeNames": {"#p": "pending", "#q": "quarantined"}
                        | ({} if held else {"#f": "in_flight"}),
                        "ExpressionAttributeValues": _item(values),
                    }
                },
            ]
            if old:
                writes.append(
                    {
                        "Update": {
                            "TableName": self._table,
                            "Key": _item({"target": record.target, "sk": old}),
                            "UpdateExpression": "SET #s = :s, reason_code = :c, reason = :r",
                            "ConditionExpression": "#s IN (:queued, :waiting)",
                            "ExpressionAttributeNames": {"#s": "status"},
                            "ExpressionAttributeValues": _item(
                                {
                                    ":s": Status.SUPERSEDED.value,
                                    ":c": Reason.SUPERSEDED.value,
                                    ":r": f"superseded by the newer push {push.tag or push.digest} while waiting",
                                    ":queued": Status.QUEUED.value,
                                    ":waiting": Status.WAITING.value,
                                }
                            ),
                        }
                    }
                )
            failed = self._transact(writes, f"queueing a push for {record.target}")
            if failed is None:
                return Enqueued(Queued.QUEUED, replaced=old)
            if failed[0]:
                return Enqueued(Queued.DUPLICATE)
            # The state changed under us (the rollout ended, or another push queued): look again.
        return Enqueued(Queued.LOCK_FREE)

    def finish(
        self,
        record: DeploymentRecord,
        *,
        quarantine: str | None = None,
        succeeded: dict[str, Any] | None = None,
    ) -> TargetState | None:
        """Write the rollout's terminal record and release the target's lock, atomically.

        Returns the state after (its pending push, if any, deploys next), or None when this
        rollout was not the one in flight (a late or duplicate event).
        """
        item = record.to_item()
        fields = {k: v for k, v in item.items() if k not in ("target", "sk")}
        names = {f"#a{i}": k for i, k in enumerate(fields)}
        values = {f":a{i}": v for i, v in enumerate(fields.values())}
        values[":in_progress"] = Status.IN_PROGRESS.value
        names["#status"] = "status"
        record_write = {
            "Update": {
                "TableName": self._table,
                "Key": _item({"target": record.target, "sk": record.sort_key}),
                "UpdateExpression": "SET " + ", ".join(f"#a{i} = :a{i}" for i in range(len(fields))),
                "ConditionExpression": "#status = :in_progress",
                "ExpressionAttributeNames": names,
                "ExpressionAttributeValues": _item(values),
            }
        }
        state_names = {"#f": "in_flight"}
        state_values: dict[str, Any] = {
            ":sk": record.sort_key,
            ":at": (record.finished_at or record.recorded_at).isoformat(),
        }
        sets, removes = ["updated_at = :at"], ["#f"]
        if quarantine is not None or succeeded is not None:
            state_names["#q"] = "quarantined"
        if quarantine is not None:
            state_names["#d"] = record.digest
            state_values[":why"] = quarantine
            sets.append("#q.#d = :why")
        if succeeded is not None:
            state_names["#d"] = record.digest
            state_names["#ls"] = "last_succeeded"
            state_values[":ls"] = succeeded
            sets.append("#ls = :ls")
            removes.append("#q.#d")
        state_write = {
            "Update": {
                "TableName": self._table,
                "Key": _item({"target": record.target, "sk": STATE_KEY}),
                "UpdateExpression": f"SET {', '.join(sets)} REMOVE {', '.join(removes)}",
                "ConditionExpression": "#f.sk = :sk",
                "ExpressionAttributeNames": state_names,
                "ExpressionAttributeValues": _item(state_values),
            }
        }
        if self._transact([record_write, state_write], f"ending the rollout of {record.target}") is not None:
            return None
        return self.state(record.target)

    def note_rollout(
        self,
        target: str,
        sort_key: str,
        deployment_id: str,
        task_definition_arn: str | None,
        *,
        service_deployment_arn: str | None = None,
        findings: tuple[str, ...] = (),
    ) -> None:
        """Remember which ECS deployment carries the rollout in flight: UpdateService's answer, or the tracker's."""
        values: dict[str, Any] = {":d": deployment_id, ":sk": sort_key}
        sets = ["#f.deployment_id = :d"]
        if task_definition_arn:
            values[":td"] = task_definition_arn
            sets.append("#f.task_definition_arn = :td")
        if service_deployment_arn:
            values[":sd"] = service_deployment_arn
            sets.append("#f.service_deployment_arn = :sd")
        if findings:
            values[":fi"] = list(findings)
            sets.append("#f.findings = :fi")
        self._update(
            {"target": target, "sk": STATE_KEY},
            "SET " + ", ".join(sets),
            "#f.sk = :sk",
            {"#f": "in_flight"},
            values,
            f"noting the deployment of {target}",
        )

    def release_pending(self, target: str, sort_key: str) -> None:
        """Forget the pending push once it has been decided without a rollout (rejected, skipped)."""
        self._update(
            {"target": target, "sk": STATE_KEY},
            "REMOVE #p",
            "#p.sk = :sk",
            {"#p": "pending"},
            {":sk": sort_key},
            f"dropping the pending push of {target}",
        )

    def unquarantine(self, target: str, digest: str) -> bool:
        return self._update(
            {"target": target, "sk": STATE_KEY},
            "REMOVE #q.#d",
            "attribute_exists(#q.#d)",
            {"#q": "quarantined", "#d": digest},
            {},
            f"releasing the quarantine of {digest} on {target}",
        )

    def _update(
        self,
        key: dict[str, str],
        update: str,
        condition: str,
        names: dict[str, str],
        values: dict[str, Any],
        action: str,
    ) -> bool:
        """One conditional UpdateItem; False when its condition did not hold."""
        request: dict[str, Any] = {
            "TableName": self._table,
            "Key": _item(key),
            "UpdateExpression": update,
            "ConditionExpression": condition,
            "ExpressionAttributeNames": names,
        }
        if values:
            request["ExpressionAttributeValues"] = _item(values)
        try:
            self._dynamodb.update_item(**request)
        except ClientError as exc:
            if error_code(exc) == "ConditionalCheckFailedException":
                return False
            translate(exc, action)
        except BotoCoreError as exc:
            translate(exc, action)
        return True

    def _transact(self, writes: Sequence[dict[str, Any]], action: str) -> list[bool] | None:
        """Run the writes atomically. None on success, else which items' conditions failed."""
        try:
            self._dynamodb.transact_write_items(TransactItems=writes)  # type: ignore[arg-type]
        except ClientError as exc:
            if error_code(exc) != "TransactionCanceledException":
                translate(exc, action)
            reasons = exc.response.get("CancellationReasons", [])
            failed = [r.get("Code") == "ConditionalCheckFailed" for r in reasons]
            if not any(failed):  # cancelled for another reason: a conflict or throttling, retryable
                translate(exc, action)
            return failed + [False] * (len(writes) - len(failed))
        except BotoCoreError as exc:
            translate(exc, action)
        return None
