"""The rollout work queue (SQS): DeployFunction hands a large push's targets to it, by chunks.

SendMessageBatch takes ten entries a call; an entry SQS refuses is retried once, and one still
refused raises, so that the push's invocation fails and Lambda retries it (the targets already
handed off are handed off again: the worker's work is idempotent).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from autodeploy.adapters.aws import aws_call
from autodeploy.errors import PermanentError, RetryableError

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.type_defs import SendMessageBatchRequestEntryTypeDef

ENTRIES_PER_CALL = 10  # SendMessageBatch's limit (SQS API reference)
MESSAGE_BYTES = 1_048_576  # SQS's maximum message size


class WorkQueue:
    def __init__(self, sqs: SQSClient, queue_url: str) -> None:
        self._sqs = sqs
        self._queue_url = queue_url

    def send(self, bodies: Sequence[str]) -> None:
        """Send every body as one message; raise when any could not be sent."""
        for body in bodies:
            if len(body.encode()) > MESSAGE_BYTES:
                raise PermanentError(f"a work message of {len(body.encode())} bytes exceeds SQS's {MESSAGE_BYTES}")
        for start in range(0, len(bodies), ENTRIES_PER_CALL):
            entries: list[SendMessageBatchRequestEntryTypeDef] = [
                {"Id": str(start + i), "MessageBody": body}
                for i, body in enumerate(bodies[start : start + ENTRIES_PER_CALL])
            ]
            for attempt in range(2):
                with aws_call("handing rollout work to the work queue"):
                    response = self._sqs.send_message_batch(QueueUrl=self._queue_url, Entries=entries)
                failed = response.get("Failed", [])
                if not failed:
                    break
                refused = [f for f in failed if f.get("SenderFault")]
                if refused:
                    reasons = "; ".join(f"{f['Id']}: {f.get('Code')} {f.get('Message', '')}" for f in refused)
                    raise PermanentError(f"SQS refused work messages: {reasons}")
                again = {f["Id"] for f in failed}
                entries = [e for e in entries if e["Id"] in again]
                if attempt == 1:
                    reasons = "; ".join(f"{f['Id']}: {f.get('Code')}" for f in failed)
                    raise RetryableError(f"SQS could not take {len(failed)} work messages: {reasons}")
