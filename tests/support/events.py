"""Loads the events/*.json samples that also feed `sam local invoke -e` and `make invoke`."""

from __future__ import annotations

import copy
import hashlib
import json
import uuid
from functools import cache
from pathlib import Path
from typing import Any

EVENTS = Path(__file__).resolve().parents[2] / "events"


@cache
def _read(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((EVENTS / name).read_text())
    return data


def load_event(name: str) -> dict[str, Any]:
    return copy.deepcopy(_read(name))


def ecr_push(tag: str | None, digest: str, repository: str = "web", **envelope: Any) -> dict[str, Any]:
    """The ecr-push.json sample for another image; a fresh event id unless one is given."""
    event = load_event("ecr-push.json")
    event["id"] = envelope.pop("id", str(uuid.uuid4()))
    event.update(envelope)
    event["detail"].update({"repository-name": repository, "image-digest": digest})
    if tag is None:
        event["detail"].pop("image-tag")
    else:
        event["detail"]["image-tag"] = tag
    return event


def ecs_deployment(sample: str, service_arn: str, deployment_id: str, **envelope: Any) -> dict[str, Any]:
    """An ecs-deployment-*.json sample for another service and deployment."""
    event = load_event(sample)
    event["id"] = envelope.pop("id", str(uuid.uuid4()))
    event.update(envelope)
    event["resources"] = [service_arn]
    event["detail"]["deploymentId"] = deployment_id
    event["detail"]["reason"] = event["detail"]["reason"].replace("ecs-svc/4593284752196571201", deployment_id)
    return event


def stack_status(sample: str, stack_id: str, token: str | None, **envelope: Any) -> dict[str, Any]:
    """A cfn-stack-*.json sample for another stack and operation token."""
    event = load_event(sample)
    event["id"] = envelope.pop("id", str(uuid.uuid4()))
    event.update(envelope)
    event["resources"] = [stack_id]
    event["detail"]["stack-id"] = stack_id
    if token is None:
        event["detail"].pop("client-request-token")
    else:
        event["detail"]["client-request-token"] = token
    return event


def rollout_work(bodies: list[str], receive_count: int = 1) -> dict[str, Any]:
    """The rollout-work.json sample (SQS's event to Lambda) carrying ``bodies``, one record each."""
    sample = load_event("rollout-work.json")["Records"][0]
    records = []
    for body in bodies:
        record = copy.deepcopy(sample)
        record["messageId"] = str(uuid.uuid4())
        record["body"] = body
        record["md5OfBody"] = hashlib.md5(body.encode()).hexdigest()  # SQS's checksum, not a secret
        record["attributes"]["ApproximateReceiveCount"] = str(receive_count)
        records.append(record)
    return {"Records": records}
